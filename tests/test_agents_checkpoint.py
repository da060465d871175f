"""Checkpoints: round trips, resuming, corrupt and mismatched files, space checks, the registry."""

import json

import gymnasium as gym
import numpy as np
import pytest

import rl_scratch  # noqa: F401  (registers rl_scratch/GridWorld-v0)
from rl_scratch.agents import AGENTS, DQN, REINFORCE, QLearning, ValueIteration, ensure_compatible, get_agent, load_agent
from rl_scratch.agents.checkpoint import (FORMAT_VERSION, config_from_dict, read_meta_and_arrays, space_from_json,
                                          space_to_json)
from rl_scratch.nets import save_arrays

CARTPOLE_DQN = DQN.Config(hidden=(16,), learning_starts=50, buffer_size=500, exploration_steps=300,
                          target_update_interval=50)
CARTPOLE_REINFORCE = REINFORCE.Config(hidden=(16,), n_envs=2, batch_episodes=2)


def make_cartpole():
    return gym.make("CartPole-v1")


def trained(agent_cls, config, steps, seed=0):
    env = make_cartpole()
    return agent_cls(env.observation_space, env.action_space, config, seed=seed).learn(make_cartpole, steps)


@pytest.mark.parametrize("agent_cls, config", [(DQN, CARTPOLE_DQN), (REINFORCE, CARTPOLE_REINFORCE)])
def test_save_load_round_trip_and_bit_for_bit_resume(tmp_path, agent_cls, config):
    agent = trained(agent_cls, config, 400)
    path = tmp_path / "agent.ckpt"  # any suffix: the file is an .npz either way
    agent.save(path)
    loaded = load_agent(path)
    assert type(loaded) is agent_cls and loaded.config == agent.config
    assert (loaded.steps, loaded.episodes, loaded.updates) == (agent.steps, agent.episodes, agent.updates)
    assert loaded.optimizer.steps == agent.optimizer.steps > 0
    np.testing.assert_array_equal(loaded.optimizer.m, agent.optimizer.m)
    observations = np.random.default_rng(0).normal(size=(20, 4)).astype(np.float32)
    assert [loaded.act(o, deterministic=True) for o in observations] == \
           [agent.act(o, deterministic=True) for o in observations]
    if agent_cls is DQN:
        np.testing.assert_array_equal(loaded.buffer.state_dict()["obs"], agent.buffer.state_dict()["obs"])
        np.testing.assert_array_equal(loaded.target_net.state_dict()["layers.0.weight"],
                                      agent.target_net.state_dict()["layers.0.weight"])
    # Same RNG state, counters and optimizer: learning on continues identically (also the sampled actions).
    assert [loaded.act(o) for o in observations] == [agent.act(o) for o in observations]
    agent.learn(make_cartpole, 800)
    loaded.learn(make_cartpole, 800)
    assert loaded.steps == agent.steps >= 800
    for a, b in zip(agent.optimizer.params, loaded.optimizer.params):
        np.testing.assert_array_equal(a.data, b.data)


def test_qlearning_checkpoint_keeps_the_table(tmp_path):
    env = gym.make("FrozenLake-v1")
    agent = QLearning(env.observation_space, env.action_space).learn(lambda: gym.make("FrozenLake-v1"), 2000)
    agent.save(tmp_path / "q.npz")
    loaded = QLearning.load(tmp_path / "q.npz")
    np.testing.assert_array_equal(loaded.q_table, agent.q_table)
    assert loaded.epsilon == agent.epsilon < 1.0


def test_corrupt_and_truncated_checkpoints_raise_clear_errors(tmp_path):
    agent = trained(DQN, CARTPOLE_DQN, 100)
    path = tmp_path / "dqn.npz"
    agent.save(path)
    data = path.read_bytes()
    truncated = tmp_path / "truncated.npz"
    truncated.write_bytes(data[: len(data) // 2])
    with pytest.raises(ValueError, match="truncated.npz"):
        load_agent(truncated)
    garbage = tmp_path / "garbage.npz"
    garbage.write_bytes(b"not a checkpoint at all")
    with pytest.raises(ValueError, match="garbage.npz.*corrupt"):
        DQN.load(garbage)
    plain = tmp_path / "plain.npz"
    save_arrays(plain, {"w": np.zeros(3)})
    with pytest.raises(ValueError, match="not an rl_scratch agent checkpoint"):
        load_agent(plain)


def test_wrong_format_version_and_wrong_agent_type(tmp_path):
    agent = trained(DQN, CARTPOLE_DQN, 100)
    path = tmp_path / "dqn.npz"
    agent.save(path)
    meta, arrays = read_meta_and_arrays(path)
    meta["format_version"] = FORMAT_VERSION + 1
    old = tmp_path / "future.npz"
    save_arrays(old, {"__meta__": np.frombuffer(json.dumps(meta).encode(), np.uint8), **arrays})
    with pytest.raises(ValueError, match=f"format version {FORMAT_VERSION + 1}"):
        load_agent(old)
    with pytest.raises(ValueError, match="holds a 'dqn' agent, not 'reinforce'"):
        REINFORCE.load(path)


def test_checkpoint_whose_arrays_do_not_match_its_config(tmp_path):
    agent = trained(DQN, CARTPOLE_DQN, 100)
    agent.save(tmp_path / "good.npz")
    meta, arrays = read_meta_and_arrays(tmp_path / "good.npz")
    meta["config"]["hidden"] = [32]  # the stored weights are 16 wide
    path = tmp_path / "bad.npz"
    save_arrays(path, {"__meta__": np.frombuffer(json.dumps(meta).encode(), np.uint8), **arrays})
    with pytest.raises(ValueError, match="bad.npz: checkpoint does not match"):
        DQN.load(path)
    meta["config"]["hidden"] = [16]
    meta["state"]["steps"] = {"__state__": {}}  # a state object where the agent has a counter
    save_arrays(path, {"__meta__": np.frombuffer(json.dumps(meta).encode(), np.uint8), **arrays})
    with pytest.raises(ValueError, match="bad.npz: checkpoint does not match"):
        DQN.load(path)


def test_wrong_env_is_refused_with_both_spaces_named():
    agent = trained(DQN, CARTPOLE_DQN, 50)
    ensure_compatible(agent, make_cartpole())
    with pytest.raises(ValueError, match=r"observation_space Box.*\(4,\).*\(6,\)"):
        ensure_compatible(agent, gym.make("Acrobot-v1"))
    grid = gym.make("rl_scratch/GridWorld-v0")
    tabular = QLearning(grid.observation_space, grid.action_space)
    with pytest.raises(ValueError, match=r"Discrete\(25\).*Discrete\(64\)"):
        ensure_compatible(tabular, gym.make("rl_scratch/GridWorld-v0", map_name="8x8"))


@pytest.mark.parametrize("name", ["dqn", "reinforce", "qlearning", "value_iteration"])
def test_box_action_space_is_refused(name):
    obs_space = gym.spaces.Discrete(4) if name in ("qlearning", "value_iteration") else gym.spaces.Box(-1, 1, (3,))
    with pytest.raises(ValueError, match=r"supports Discrete action spaces; got Box"):
        get_agent(name)(obs_space, gym.spaces.Box(-2, 2, (1,), np.float32))


@pytest.mark.parametrize("agent_cls", [DQN, REINFORCE])
def test_act_rejects_a_wrong_observation_shape(agent_cls):
    env = make_cartpole()
    agent = agent_cls(env.observation_space, env.action_space)
    assert agent.act(env.reset(seed=0)[0]) in (0, 1)
    with pytest.raises(ValueError, match=r"expected one observation of shape \(4,\).*got shape \(2, 4\)"):
        agent.act(np.zeros((2, 4)))


def test_space_descriptions_round_trip():
    for space in (gym.spaces.Discrete(5, start=1), make_cartpole().observation_space,
                  gym.spaces.Box(0, 1, (25, 6), np.float32), gym.spaces.MultiDiscrete([2, 3]),
                  gym.spaces.MultiBinary(4)):
        description = space_to_json(space)
        assert json.loads(json.dumps(description)) == description
        assert space_from_json(description) == space


def test_config_from_dict_restores_tuples_and_rejects_unknown_keys():
    config = config_from_dict(DQN.Config, {"hidden": [8, 8], "lr": 0.01})
    assert config.hidden == (8, 8) and config.lr == 0.01
    with pytest.raises(ValueError, match=r"unknown DQNConfig field\(s\) \['lerning_rate'\].*valid fields"):
        config_from_dict(DQN.Config, {"lerning_rate": 0.01})


def test_registry_names_and_suggestions():
    assert {"qlearning", "sarsa", "value_iteration", "policy_iteration", "dqn", "reinforce"} <= set(AGENTS)
    assert all(cls.name == name for name, cls in AGENTS.items())
    with pytest.raises(ValueError, match="Did you mean 'reinforce'"):
        get_agent("reinforse")
    planner = ValueIteration(gym.spaces.Discrete(3), gym.spaces.Discrete(2))
    assert planner.name == "value_iteration"


def tampered(tmp_path, agent, change):
    agent.save(tmp_path / "good.npz")
    meta, arrays = read_meta_and_arrays(tmp_path / "good.npz")
    meta = change(meta, arrays)
    path = tmp_path / "tampered.npz"
    save_arrays(path, {"__meta__": np.frombuffer(json.dumps(meta).encode(), np.uint8), **arrays})
    return path


def set_in(meta, keys, value):
    target = meta
    for key in keys[:-1]:
        target = target[key]
    target[keys[-1]] = value
    return meta


@pytest.mark.parametrize("what, change, message", [
    ("metadata is a list", lambda m, a: [m], "metadata is a JSON list, not an object"),
    ("config is a list", lambda m, a: set_in(m, ["config"], [1]), "config is not a JSON object"),
    ("step counter 'many'", lambda m, a: set_in(m, ["state", "steps"], "many"), r"steps must be a count.*'many'"),
    ("negative episodes", lambda m, a: set_in(m, ["state", "episodes"], -3), r"episodes must be a count.*-3"),
    ("garbage RNG state", lambda m, a: set_in(m, ["state", "rng", "__rng__"], {"state": 5}), r"\(rng: "),
    ("NaN weights", lambda m, a: a["q_net.layers.0.weight"].fill(np.nan) or m, r"q_net.layers.0.weight holds NaN"),
    ("a 10^7 x 10^7 layer", lambda m, a: set_in(m, ["config", "hidden"], [10**7, 10**7]), "larger than this"),
])
def test_tampered_checkpoints_give_one_clear_error(tmp_path, what, change, message):
    agent = trained(DQN, CARTPOLE_DQN, 60)
    path = tampered(tmp_path, agent, change)
    with pytest.raises(ValueError, match=message) as error:
        load_agent(path)
    assert "tampered.npz" in str(error.value) and "\n" not in str(error.value)
