"""DQN and REINFORCE: pure helpers, gradients, learning on GridWorld, reproducibility."""

import gymnasium as gym
import numpy as np
import pytest

import rl_scratch  # noqa: F401  (registers rl_scratch/GridWorld-v0)
from rl_scratch.agents import DQN, evaluate
from rl_scratch.agents.common import ObsEncoder, categorical_entropy, categorical_log_prob, normalize, sample_categorical
from rl_scratch.agents.dqn import dqn_loss, td_targets
from rl_scratch.agents.policies import build_network
from rl_scratch.agents.reinforce import (REINFORCE, reinforce_loss, reward_to_go, steps_into_episode,
                                         time_step_mean_baseline)
from rl_scratch.agents.replay import ReplayBuffer
from rl_scratch.nets import Tensor, gradcheck

GRID_ID = "rl_scratch/GridWorld-v0"
OPTIMAL_GRID_RETURN = 0.93  # 8 moves on the default 5x5 map, documented by GridWorld


def make_grid():
    return gym.make(GRID_ID)


GRID_DQN = DQN.Config(hidden=(32,), learning_starts=200, exploration_steps=1500, target_update_interval=100,
                      train_freq=2, batch_size=32, lr=3e-3)
GRID_REINFORCE = REINFORCE.Config(hidden=(32,), n_envs=8, batch_episodes=8, lr=3e-2)


# ------------------------------------------------------------------ helpers
def test_replay_buffer_wraps_around_and_keeps_the_newest():
    buffer = ReplayBuffer(capacity=5, obs_shape=(2,))
    for i in range(7):
        buffer.add(np.full(2, i), i, float(i), np.full(2, i + 1), i % 2 == 0)
    assert len(buffer) == 5 and buffer.position == 2
    # slots 0 and 1 were overwritten by transitions 5 and 6
    np.testing.assert_array_equal(buffer.actions, [5, 6, 2, 3, 4])
    state = buffer.state_dict()
    np.testing.assert_array_equal(state["actions"], [2, 3, 4, 5, 6])  # oldest first
    np.testing.assert_array_equal(state["next_obs"][:, 0], [3, 4, 5, 6, 7])
    np.testing.assert_array_equal(state["terminated"], [1, 0, 1, 0, 1])
    obs, actions, rewards, next_obs, terminated, horizons = buffer.sample(100, np.random.default_rng(0))
    assert set(actions) <= {2, 3, 4, 5, 6}
    np.testing.assert_array_equal(obs[:, 0], actions)  # fields of one transition stay together
    np.testing.assert_array_equal(next_obs[:, 0], actions + 1)
    assert (horizons == 1).all()

    smaller = ReplayBuffer(capacity=3, obs_shape=(2,))
    smaller.load_state_dict(state)
    np.testing.assert_array_equal(smaller.state_dict()["actions"], [4, 5, 6])


def test_td_targets_bootstrap_truncation_but_not_termination():
    rewards = np.array([1.0, 1.0, 1.0])
    terminated = np.array([1.0, 0.0, 0.0])  # step 1 was truncated by a time limit: still not terminal
    next_q_target = np.array([[5.0, 2.0], [5.0, 2.0], [1.0, 3.0]])
    np.testing.assert_allclose(td_targets(rewards, terminated, next_q_target, 0.9), [1.0, 5.5, 3.7])
    # Double DQN: the online network picks the action, the target network values it.
    next_q_online = np.array([[0.0, 1.0], [0.0, 1.0], [1.0, 0.0]])
    np.testing.assert_allclose(td_targets(rewards, terminated, next_q_target, 0.9, next_q_online), [1.0, 2.8, 1.9])


def test_reward_to_go_cuts_at_episode_ends():
    rewards = np.array([1.0, 1.0, 1.0, 2.0, 2.0])
    dones = np.array([False, False, True, False, True])
    np.testing.assert_allclose(reward_to_go(rewards, dones, 0.5), [1.75, 1.5, 1.0, 3.0, 2.0])
    np.testing.assert_array_equal(steps_into_episode(dones), [0, 1, 2, 0, 1])
    returns = np.array([3.0, 2.0, 1.0, 5.0, 4.0])
    np.testing.assert_allclose(time_step_mean_baseline(returns, dones), [4.0, 3.0, 1.0, 4.0, 3.0])


def test_reinforce_keeps_unfinished_episodes_for_the_next_batch():
    carried = [[], []]
    obs = lambda t: np.full((2, 1), t, np.float32)  # noqa: E731
    steps = [(obs(0), np.array([0, 0]), np.array([1.0, 1.0]), np.array([False, True])),
             (obs(1), np.array([1, 1]), np.array([1.0, 1.0]), np.array([True, False]))]
    features, actions, rewards, dones = REINFORCE._complete_episodes(carried, steps)
    np.testing.assert_array_equal(features[:, 0], [0, 1, 0])  # env 0: steps 0-1; env 1: step 0
    np.testing.assert_array_equal(dones, [False, True, True])
    assert len(carried[0][0]) == 0 and len(carried[1][0]) == 1  # env 1's step 1 waits for its episode end
    steps = [(obs(2), np.array([2, 2]), np.array([1.0, 1.0]), np.array([False, True]))]
    features, _, _, dones = REINFORCE._complete_episodes(carried, steps)
    np.testing.assert_array_equal(features[:, 0], [1, 2])  # the carried step comes first
    np.testing.assert_array_equal(dones, [False, True])
    assert len(carried[0][0]) == 1


def test_normalize_guards_tiny_batches():
    assert normalize(np.array([3.0])).tolist() == [0.0]
    assert normalize(np.array([])).size == 0
    out = normalize(np.array([1.0, 2.0, 3.0]))
    assert out.mean() == pytest.approx(0.0) and out.std() == pytest.approx(1.0, abs=1e-6)


def test_categorical_helpers():
    logits = Tensor(np.log(np.array([[0.25, 0.75], [0.5, 0.5]])))
    np.testing.assert_allclose(categorical_log_prob(logits, np.array([1, 0])).data, np.log([0.75, 0.5]))
    np.testing.assert_allclose(categorical_entropy(logits).data,
                               [-(0.25 * np.log(0.25) + 0.75 * np.log(0.75)), np.log(2)])
    samples = sample_categorical(np.tile(np.log([[0.1, 0.6, 0.3]]), (20_000, 1)), np.random.default_rng(0))
    np.testing.assert_allclose(np.bincount(samples, minlength=3) / 20_000, [0.1, 0.6, 0.3], atol=0.015)


def test_obs_encoder_validates_shapes():
    onehot = ObsEncoder(gym.spaces.Discrete(4), "dqn")
    np.testing.assert_array_equal(onehot.one(2), [[0, 0, 1, 0]])
    np.testing.assert_array_equal(onehot.batch(np.array([3, 0])), [[0, 0, 0, 1], [1, 0, 0, 0]])
    with pytest.raises(ValueError, match="outside"):
        onehot.one(4)
    box = ObsEncoder(gym.spaces.Box(0, 1, (2, 3), np.float32), "dqn")
    assert box.one(np.zeros((2, 3))).shape == (1, 6) and box.one(np.zeros((2, 3))).dtype == np.float32
    with pytest.raises(ValueError, match=r"shape \(2, 3\).*got shape \(6,\)"):
        box.one(np.zeros(6))
    with pytest.raises(ValueError, match="Discrete and Box"):
        ObsEncoder(gym.spaces.MultiBinary(3), "dqn")


# ---------------------------------------------------------------- gradients
def test_dqn_loss_gradcheck():
    rng = np.random.default_rng(0)
    net = build_network("mlp", (3,), 2, (5,), rng, activation="tanh", dtype=np.float64)
    obs = rng.normal(size=(6, 3))
    actions = rng.integers(0, 2, 6)
    targets = rng.normal(size=6) * 3  # some TD errors beyond delta: both Huber branches
    gradcheck(lambda *params: dqn_loss(net(Tensor(obs)), actions, targets, delta=1.0), net.parameters())


def test_reinforce_loss_gradcheck():
    rng = np.random.default_rng(1)
    net = build_network("mlp", (3,), 4, (5,), rng, activation="tanh", dtype=np.float64)
    obs = rng.normal(size=(7, 3))
    actions = rng.integers(0, 4, 7)
    advantages = rng.normal(size=7)
    gradcheck(lambda *params: reinforce_loss(net(Tensor(obs)), actions, advantages, ent_coef=0.1)[0],
              net.parameters())


# ----------------------------------------------------------------- learning
def test_dqn_reaches_the_optimal_return_on_gridworld():
    env = make_grid()
    agent = DQN(env.observation_space, env.action_space, GRID_DQN, seed=0).learn(make_grid, 2500)
    assert evaluate(agent, env, episodes=1, seed=0)["mean_return"] == pytest.approx(OPTIMAL_GRID_RETURN)


def test_reinforce_reaches_the_optimal_return_on_gridworld():
    env = make_grid()
    agent = REINFORCE(env.observation_space, env.action_space, GRID_REINFORCE, seed=0).learn(make_grid, 15_000)
    assert evaluate(agent, env, episodes=1, seed=0)["mean_return"] == pytest.approx(OPTIMAL_GRID_RETURN)


@pytest.mark.parametrize("agent_cls, config, steps", [(DQN, GRID_DQN, 600), (REINFORCE, GRID_REINFORCE, 1500)])
def test_seeded_runs_are_bit_for_bit_reproducible(agent_cls, config, steps):
    env = make_grid()
    runs = []
    for seed in (5, 5, 6):
        curve = []
        agent = agent_cls(env.observation_space, env.action_space, config, seed=seed)
        agent.learn(make_grid, steps, callback=lambda r: curve.append((r["step"], r["return"], r.get("loss"))))
        weights = np.concatenate([p.data.ravel() for p in agent.optimizer.params])
        runs.append((curve, weights))
    assert len(runs[0][0]) > 3
    assert runs[0][0] == runs[1][0]
    np.testing.assert_array_equal(runs[0][1], runs[1][1])
    assert not np.array_equal(runs[0][1], runs[2][1])


@pytest.mark.parametrize("agent_cls, config", [
    (DQN, DQN.Config(policy="attention", hidden=(16,), attention_dim=16, learning_starts=32, batch_size=16,
                     train_freq=8)),
    (REINFORCE, REINFORCE.Config(policy="attention", hidden=(16,), attention_dim=16, n_envs=2, batch_episodes=1)),
])
def test_attention_policy_reads_grid_tokens_and_round_trips(tmp_path, agent_cls, config):
    make = lambda: gym.make(GRID_ID, obs_mode="grid")  # noqa: E731  (25 cell tokens of 6 channels)
    env = make()
    agent = agent_cls(env.observation_space, env.action_space, config, seed=0).learn(make, 200)
    assert agent.updates > 0
    obs, _ = env.reset(seed=0)
    agent.save(tmp_path / "attention.npz")
    loaded = agent_cls.load(tmp_path / "attention.npz")
    assert loaded.act(obs, deterministic=True) == agent.act(obs, deterministic=True)
    with pytest.raises(ValueError, match="2-D Box observation"):
        agent_cls(gym.spaces.Box(0, 1, (4,)), env.action_space, config)
