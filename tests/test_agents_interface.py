"""The declared agent interface: one base class, one checkpoint implementation, one network factory."""

import gymnasium as gym
import numpy as np
import pytest

import rl_scratch  # noqa: F401  (registers rl_scratch/GridWorld-v0)
from rl_scratch.agents import AGENTS, A2C, DQN, PPO, REINFORCE, QLearning, Supervised, ValueIteration, load_agent
from rl_scratch.agents.a2c import A2CConfig
from rl_scratch.agents.base import Agent
from rl_scratch.agents.checkpoint import encode_value, read_meta_and_arrays
from rl_scratch.agents.policies import ActorCritic, build_network
from rl_scratch.agents.ppo import PPOConfig

SMALL = {
    "dqn": DQN.Config(hidden=(8,), learning_starts=10, buffer_size=100, batch_size=8),
    "reinforce": REINFORCE.Config(hidden=(8,), n_envs=2, batch_episodes=2),
    "a2c": A2C.Config(hidden=(8,), n_envs=2),
    "ppo": PPO.Config(hidden=(8,), n_envs=2, n_steps=16, batch_size=16, normalize_obs=True),
    "supervised": Supervised.Config(hidden=(8,), policy="mlp"),
}


def grid(obs_mode="index"):
    return gym.make("rl_scratch/GridWorld-v0", obs_mode=obs_mode)


def make_agent(name, seed=0):
    env = grid("index" if name in ("qlearning", "sarsa", "value_iteration", "policy_iteration") else "onehot")
    return AGENTS[name](env.observation_space, env.action_space, SMALL.get(name), seed=seed), env


def encoded(agent):
    arrays = {}
    state = {name: encode_value(getattr(agent, name), name, arrays) for name in agent.checkpoint_fields()}
    return state, arrays


@pytest.mark.parametrize("name", sorted(AGENTS))
def test_every_agent_declares_its_checkpoint_and_round_trips_it(tmp_path, name):
    agent, env = make_agent(name)
    assert isinstance(agent, Agent) and agent.saved
    trainable = name not in ("supervised",)
    if trainable:
        agent.learn(lambda: grid(env.unwrapped.obs_mode), 64)
    agent.save(tmp_path / "a.npz")
    loaded = load_agent(tmp_path / "a.npz")
    assert type(loaded) is type(agent)
    (state, arrays), (state2, arrays2) = encoded(agent), encoded(loaded)
    assert state == state2 and arrays.keys() == arrays2.keys()
    for key in arrays:
        np.testing.assert_array_equal(arrays[key], arrays2[key])
    # the file holds the declared attributes, one entry each, and no pickles
    meta, _ = read_meta_and_arrays(tmp_path / "a.npz")
    assert set(meta["state"]) == set(agent.checkpoint_fields())
    np.load(tmp_path / "a.npz", allow_pickle=False)


@pytest.mark.parametrize("config_cls", [PPOConfig, A2CConfig])
def test_actor_critic_configs_refuse_the_gpt_policy_up_front(config_cls):
    with pytest.raises(ValueError, match=r"unknown policy 'gpt'; choose one of \['mlp', 'attention'\]"):
        config_cls(policy="gpt")


def test_one_factory_validates_policy_for_every_network():
    rng = np.random.default_rng(0)
    with pytest.raises(ValueError, match="unknown policy 'cnn'"):
        build_network("cnn", (4,), 2, (8,), rng)
    with pytest.raises(ValueError, match="actor-critic network: unknown policy 'gpt'"):
        build_network("gpt", (4,), 2, (8,), rng, actor_critic=True)
    net = build_network("mlp", (4,), 3, (8,), rng, actor_critic=True)
    assert isinstance(net, ActorCritic)
    logits, values = net.predict(np.zeros((5, 4), dtype=np.float32))
    assert logits.shape == (5, 3) and values.shape == (5,)


def test_optional_estimates_have_one_row_per_observation():
    cells = [0, 1, 2]
    q, _ = make_agent("qlearning")
    q.q_table[...] = np.arange(q.q_table.size).reshape(q.q_table.shape)
    np.testing.assert_array_equal(q.state_values(cells), q.q_table[cells].max(axis=1))
    assert q.policy_probs(cells) is None
    onehot = np.eye(25, dtype=np.float32)[cells]
    dqn, _ = make_agent("dqn")
    assert dqn.action_values(onehot).shape == (3, 4) and dqn.state_values(onehot).shape == (3,)
    for name in ("ppo", "a2c", "reinforce"):
        agent, _ = make_agent(name)
        assert agent.state_values(onehot).shape == (3,)
        np.testing.assert_allclose(agent.policy_probs(onehot).sum(axis=1), 1.0, rtol=1e-5)
        assert agent.action_values(onehot) is None
    no_baseline = REINFORCE(gym.spaces.Box(0, 1, (25,)), gym.spaces.Discrete(4), REINFORCE.Config(baseline="mean"))
    assert no_baseline.state_values(onehot) is None


@pytest.mark.parametrize("name", ["dqn", "reinforce", "ppo", "supervised"])
def test_act_refuses_non_finite_observations_naming_the_space_and_value(name):
    env = gym.make("CartPole-v1")
    config = SMALL[name]
    agent = AGENTS[name](env.observation_space, env.action_space, config)
    with pytest.raises(ValueError, match=r"observation \[nan, nan, nan, nan\] is not finite.*Box"):
        agent.act(np.full(4, np.nan, dtype=np.float32))
    with pytest.raises(ValueError, match=r"inf.*is not finite"):
        agent.act(np.array([0, 0, np.inf, 0], dtype=np.float32))


def test_value_iteration_has_values_for_the_overlay():
    agent, env = make_agent("value_iteration")
    agent.learn(lambda: grid())
    np.testing.assert_array_equal(agent.state_values([0, 6]), agent.values[[0, 6]])
    with pytest.raises(ValueError, match="not all states"):
        agent.state_values([99])
    assert isinstance(ValueIteration.load, type(QLearning.load))
