"""A2C and PPO: GAE and truncation handling, fused losses, learning, reproducibility, checkpoints."""

import gymnasium as gym
import numpy as np
import pytest
from gymnasium import spaces

import rl_scratch  # noqa: F401  (registers the rl_scratch/ env ids)
from rl_scratch.agents import load_agent
from rl_scratch.agents.a2c import A2C, A2CConfig
from rl_scratch.agents.common import categorical_entropy, evaluate
from rl_scratch.agents.normalize import RunningMeanStd
from rl_scratch.agents.planning import ValueIteration
from rl_scratch.agents.ppo import PPO, PPOConfig, clipped_surrogate_loss
from rl_scratch.agents.rollout import (RolloutBuffer, VectorCollector, compute_gae, mean_entropy, value_loss)
from rl_scratch.agents.run_state import same_step_vector_env
from rl_scratch.nets import Tensor, gradcheck, where

GRID = "rl_scratch/GridWorld-v0"


def make_grid():
    return gym.make(GRID, obs_mode="onehot")


def make_cartpole():
    return gym.make("CartPole-v1")


# ------------------------------------------------------------------- GAE
def test_gae_bootstraps_truncation_not_termination():
    gamma, lam = 0.9, 0.5
    buffer = RolloutBuffer(n_steps=3, n_envs=2, obs_shape=(1,))
    # env 0: step 0 truncated (V(final obs) = 4), step 1 continues, step 2 terminated.
    # env 1: no episode end; the rollout is bootstrapped from last_values = 2.
    rewards = [[1.0, 0.0], [2.0, 0.0], [3.0, 1.0]]
    values = [[0.5, 0.0], [1.0, 0.0], [1.5, 0.0]]
    terminated = [[False, False], [False, False], [True, False]]
    truncated = [[True, False], [False, False], [False, False]]
    for t in range(3):
        buffer.add_inputs(np.zeros((2, 1)), np.zeros(2, dtype=np.int64), np.zeros(2), values[t])
        final_values = [4.0 if truncated[t][0] else 0.0, 0.0]
        buffer.add_outcomes(np.array(rewards[t]), np.array(terminated[t]), np.array(truncated[t]), final_values)
    buffer.last_values[...] = [7.0, 2.0]
    buffer.compute_advantages(gamma, lam)

    # env 0 by hand: the truncated step bootstraps from V(final) and cuts the recursion;
    # the terminated step neither bootstraps (last_values[0] = 7 is ignored) nor continues.
    d0, d1, d2 = 1 + gamma * 4.0 - 0.5, 2 + gamma * 1.5 - 1.0, 3 - 1.5
    a2 = d2
    a1 = d1 + gamma * lam * a2
    a0 = d0
    # env 1: deltas are 0, 0, 1 + gamma * 2.
    b2 = 1 + gamma * 2.0
    b1 = gamma * lam * b2
    b0 = gamma * lam * b1
    np.testing.assert_allclose(buffer.advantages[:, 0], [a0, a1, a2], rtol=1e-6)
    np.testing.assert_allclose(buffer.advantages[:, 1], [b0, b1, b2], rtol=1e-6)
    np.testing.assert_allclose(buffer.returns, buffer.advantages + np.array(values), rtol=1e-6)


def test_gae_with_lambda_one_is_discounted_return_minus_value():
    rng = np.random.default_rng(0)
    rewards, values = rng.normal(size=(6, 1)), rng.normal(size=(6, 1))
    ends = np.zeros((6, 1))
    advantages, returns = compute_gae(rewards, values, np.roll(values, -1, axis=0), ends, ends, 0.9, 1.0)
    # the last next-value is V(s_0) rolled around: bootstrap the Monte Carlo sum with it
    expected = sum(0.9 ** k * rewards[k, 0] for k in range(6)) + 0.9 ** 6 * values[0, 0]
    assert returns[0, 0] == pytest.approx(expected)


class CountingEnv(gym.Env):
    """obs = steps taken; ends with termination at `terminate_at`, else by the TimeLimit wrapper."""

    observation_space = spaces.Box(0.0, 100.0, (1,), np.float32)
    action_space = spaces.Discrete(2)

    def __init__(self, terminate_at=None):
        self.terminate_at = terminate_at

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.t = 0
        return np.array([self.t], np.float32), {}

    def step(self, action):
        self.t += 1
        return np.array([self.t], np.float32), 1.0, self.t == self.terminate_at, False, {}


@pytest.mark.parametrize("terminate_at", [None, 3])
def test_collector_bootstraps_from_the_final_observation_not_the_reset_one(terminate_at):
    make_env = lambda: gym.wrappers.TimeLimit(CountingEnv(terminate_at), max_episode_steps=3)  # noqa: E731
    envs = same_step_vector_env(make_env, 2)
    collector = VectorCollector(envs, envs.reset(seed=0)[0])
    buffer = RolloutBuffer(4, 2, (1,))
    value_of = lambda features: 10.0 * features[:, 0]  # noqa: E731
    policy_step = lambda features: (np.zeros(2, np.int64), np.zeros(2), value_of(features))  # noqa: E731
    finished = collector.collect(buffer, lambda obs, update: np.asarray(obs, np.float32), policy_step, value_of, 0)
    envs.close()
    # every stored step is a real transition: obs 0, 1, 2, then 0 of the next episode (no reset step)
    np.testing.assert_array_equal(buffer.obs[:, 0, 0], [0, 1, 2, 0])
    np.testing.assert_array_equal(buffer.rewards[:, 0], [1, 1, 1, 1])
    np.testing.assert_array_equal(buffer.episode_end[:, 0], [0, 0, 1, 0])
    assert [length for _, _, length in finished] == [3, 3]
    next_values = buffer.next_values()
    if terminate_at is None:  # truncated at obs 3: bootstrap from V(3) = 30, not V(reset obs 0) = 0
        assert buffer.final_values[2, 0] == 30.0 and next_values[2, 0] == 30.0
    else:
        assert buffer.terminated[2, 0] == 1.0 and buffer.final_values[2, 0] == 0.0
    np.testing.assert_array_equal(next_values[:2, 0], [10.0, 20.0])
    np.testing.assert_array_equal(next_values[3, 0], 10.0)  # last_values: V(obs 1)


# ---------------------------------------------------------------- losses
def composed_surrogate(logits, actions, old_log_probs, advantages, clip):
    log_probs = logits.log_softmax(axis=-1).gather(actions[:, None], axis=-1)[:, 0]
    ratio = (log_probs - Tensor(old_log_probs)).exp()
    unclipped = ratio * Tensor(advantages)
    clipped = ratio.clip(1 - clip, 1 + clip) * Tensor(advantages)
    return -where(unclipped.data <= clipped.data, unclipped, clipped).mean()


def surrogate_inputs(rng, batch=12, n_actions=3):
    logits = Tensor(rng.normal(size=(batch, n_actions)), requires_grad=True, dtype=np.float64)
    actions = rng.integers(n_actions, size=batch)
    current = logits.log_softmax(axis=-1).data[np.arange(batch), actions]
    # ratios spread over both sides of the clip range, none on its edges
    offsets = rng.choice([-0.6, -0.25, -0.05, 0.05, 0.25, 0.6], size=batch)
    return logits, actions, current + offsets, rng.normal(size=batch)


def test_clipped_surrogate_gradcheck_and_matches_composed_ops():
    rng = np.random.default_rng(0)
    logits, actions, old, advantages = surrogate_inputs(rng)
    fused, stats = clipped_surrogate_loss(logits, actions, old, advantages, 0.2)
    assert fused.data == pytest.approx(composed_surrogate(logits, actions, old, advantages, 0.2).data)
    assert 0 < stats["clip_fraction"] < 1 and stats["approx_kl"] > 0
    gradcheck(lambda z: clipped_surrogate_loss(z, actions, old, advantages, 0.2)[0], [logits])
    # and the gradient is the composed graph's
    logits.grad = None
    fused.backward()
    fused_grad = logits.grad.copy()
    logits.grad = None
    composed_surrogate(logits, actions, old, advantages, 0.2).backward()
    np.testing.assert_allclose(fused_grad, logits.grad, rtol=1e-10, atol=1e-12)


def test_clipped_gradient_vanishes_outside_the_trust_region():
    rng = np.random.default_rng(1)
    logits, actions, old, _ = surrogate_inputs(rng, batch=4)
    current = old.copy()
    for i, a in enumerate(actions):
        current[i] = logits.log_softmax(axis=-1).data[i, a]
    old = current - 0.5  # ratio e^0.5 > 1.2 everywhere: positive advantages are clipped
    loss, stats = clipped_surrogate_loss(logits, actions, old, np.ones(4), 0.2)
    loss.backward()
    assert stats["clip_fraction"] == 1.0
    np.testing.assert_array_equal(logits.grad, 0.0)


def test_entropy_and_value_loss_gradcheck():
    rng = np.random.default_rng(2)
    logits = Tensor(rng.normal(size=(5, 4)), requires_grad=True, dtype=np.float64)
    assert mean_entropy(logits).data == pytest.approx(categorical_entropy(logits).mean().data)
    gradcheck(mean_entropy, [logits])

    values = Tensor(rng.normal(size=8), requires_grad=True, dtype=np.float64)
    returns, old = rng.normal(size=8), values.data + rng.choice([-0.5, -0.1, 0.1, 0.5], size=8)
    gradcheck(lambda v: value_loss(v, returns), [values])
    gradcheck(lambda v: value_loss(v, returns, old, clip=0.2), [values])
    clipped = old + np.clip(values.data - old, -0.2, 0.2)
    expected = 0.5 * np.maximum((values.data - returns) ** 2, (clipped - returns) ** 2).mean()
    assert value_loss(values, returns, old, clip=0.2).data == pytest.approx(expected)
    assert value_loss(values, returns).data == pytest.approx(0.5 * ((values.data - returns) ** 2).mean())


@pytest.mark.parametrize("chunks", [7, 300])  # 300: one sample per update, as DQN feeds it
def test_running_mean_std_matches_numpy_over_batches(chunks):
    rng = np.random.default_rng(3)
    data = rng.normal(3.0, 2.0, size=(300, 2))
    stats = RunningMeanStd((2,))
    for chunk in np.array_split(data, chunks):
        stats.update(chunk)
    np.testing.assert_allclose(stats.mean, data.mean(axis=0), rtol=1e-5)
    np.testing.assert_allclose(stats.var, data.var(axis=0), rtol=1e-4)


# -------------------------------------------------------------- learning
def optimal_grid_return():
    env = gym.make(GRID)
    planner = ValueIteration(env.observation_space, env.action_space).learn(lambda: gym.make(GRID))
    return evaluate(planner, env, episodes=1)["mean_return"]


@pytest.mark.parametrize("cls", [PPO, A2C])
def test_reaches_the_value_iteration_optimum_on_gridworld(cls):
    config = (PPOConfig(n_envs=8, n_steps=32, batch_size=64, lr=1e-3, ent_coef=0.01) if cls is PPO
              else A2CConfig(n_envs=8, n_steps=8, lr=3e-3, ent_coef=0.01, gae_lambda=0.95))
    env = make_grid()
    agent = cls(env.observation_space, env.action_space, config, seed=0).learn(make_grid, 12_000)
    assert evaluate(agent, env, episodes=1)["mean_return"] == pytest.approx(optimal_grid_return())


def test_seeded_runs_are_identical_and_seeds_differ():
    def run(seed):
        records = []
        env = make_cartpole()
        agent = PPO(env.observation_space, env.action_space, PPOConfig(n_envs=2, n_steps=64, batch_size=32,
                                                                        normalize_obs=True), seed=seed)
        agent.learn(make_cartpole, 1024, records.append)
        return records, agent.net.state_dict()

    (records_a, weights_a), (records_b, weights_b), (records_c, _) = run(0), run(0), run(1)
    assert records_a == records_b and len(records_a) > 5
    for name in weights_a:
        np.testing.assert_array_equal(weights_a[name], weights_b[name])
    assert records_a != records_c


@pytest.mark.parametrize("cls", [PPO, A2C])
def test_save_load_resumes_bit_for_bit(cls, tmp_path):
    env = make_cartpole()
    minibatches = {"batch_size": 32} if cls is PPO else {}
    config = cls.Config(n_envs=2, n_steps=32, normalize_obs=True, anneal_lr=True, **minibatches)
    agent = cls(env.observation_space, env.action_space, config, seed=3).learn(make_cartpole, 256)
    path = tmp_path / "agent.npz"
    agent.save(path)
    restored = load_agent(path)  # dispatches on the stored agent name
    assert type(restored) is cls and restored.config == agent.config
    assert (restored.steps, restored.episodes, restored.updates) == (agent.steps, agent.episodes, agent.updates)
    assert restored.optimizer.steps == agent.optimizer.steps and restored.optimizer.lr == agent.optimizer.lr
    np.testing.assert_array_equal(restored.optimizer.m, agent.optimizer.m)
    np.testing.assert_array_equal(restored.normalizer.mean, agent.normalizer.mean)
    assert restored.normalizer.count == agent.normalizer.count
    obs, _ = env.reset(seed=0)
    assert restored.act(obs, deterministic=True) == agent.act(obs, deterministic=True)

    agent.learn(make_cartpole, 256)  # 256 more steps
    restored.learn(make_cartpole, 256)
    assert restored.steps == agent.steps == 512
    for name, value in agent.net.state_dict().items():
        np.testing.assert_array_equal(restored.net.state_dict()[name], value)
    np.testing.assert_array_equal(restored.normalizer.var, agent.normalizer.var)


def test_loading_another_agent_type_names_the_file(tmp_path):
    env = make_cartpole()
    path = tmp_path / "a2c.npz"
    A2C(env.observation_space, env.action_space).save(path)
    with pytest.raises(ValueError, match="a2c"):
        PPO.load(path)


# ------------------------------------------------------------------ errors
def test_bad_spaces_configs_and_observations_raise_clear_errors():
    box_actions = spaces.Box(-1.0, 1.0, (1,), np.float32)
    with pytest.raises(ValueError, match="Discrete action"):
        PPO(spaces.Box(-1.0, 1.0, (3,), np.float32), box_actions)
    with pytest.raises(ValueError, match="batch_size"):
        PPOConfig(n_envs=2, n_steps=8, batch_size=64)
    env = make_cartpole()
    agent = A2C(env.observation_space, env.action_space)
    with pytest.raises(ValueError, match=r"shape \(4,\).*got shape \(3,\)"):
        agent.act(np.zeros(3, np.float32))
    with pytest.raises(ValueError, match="total_steps"):
        agent.learn(make_cartpole, -1)
    with pytest.raises(ValueError, match=r"observation_space Box.*\(4,\).*but the env has Box.*\(6,\)"):
        agent.learn(lambda: gym.make("Acrobot-v1"), 100)


def test_async_envs_give_the_same_run_as_sync_envs():
    def run(asynchronous):
        records = []
        env = gym.make(GRID)
        config = PPOConfig(n_envs=2, n_steps=64, batch_size=64, async_envs=asynchronous)
        PPO(env.observation_space, env.action_space, config, seed=0).learn(lambda: gym.make(GRID), 512,
                                                                           records.append)
        return records

    records = run(False)
    assert len(records) > 2 and run(True) == records


@pytest.mark.parametrize("shared", [False, True])
def test_attention_policy_reads_grid_tokens(shared):
    make = lambda: gym.make(GRID, obs_mode="grid")  # noqa: E731
    env = make()
    config = PPOConfig(policy="attention", shared=shared, hidden=(16,), n_envs=2, n_steps=16, batch_size=16,
                       n_epochs=1, attention_dim=8, attention_heads=2)
    agent = PPO(env.observation_space, env.action_space, config, seed=0)
    before = {k: v.copy() for k, v in agent.net.state_dict().items()}
    agent.learn(make, 32)
    encoder_keys = [k for k in before if k.startswith("encoder.")]
    assert encoder_keys and any(not np.array_equal(before[k], agent.net.state_dict()[k]) for k in encoder_keys)
    assert agent.act(env.reset(seed=0)[0]) in range(4)
    with pytest.raises(ValueError, match="attention"):
        PPO(gym.make(GRID).observation_space, env.action_space, config)
