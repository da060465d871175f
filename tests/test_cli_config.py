"""In-process unit tests of the CLI's pieces: config resolution, run-folder files, the GridWorld overlay helper."""

from __future__ import annotations

import dataclasses
import json

import gymnasium
import numpy as np
import pytest

import rl_scratch  # noqa: F401  (registers the envs)
from rl_scratch import config as cfg
from rl_scratch import runs
from rl_scratch.config import ConfigError


# ----------------------------------------------------------------- envs
@pytest.mark.parametrize("name, env_id", [
    ("GridWorld", "rl_scratch/GridWorld-v0"), ("gridworld", "rl_scratch/GridWorld-v0"),
    ("IRIS", "rl_scratch/Iris-v0"), ("nexttoken", "rl_scratch/NextToken-v0"),
    ("GridWorld-8x8", "rl_scratch/GridWorld-8x8-v0"), ("CartPole-v1", "CartPole-v1"),
    ("cartpole-v1", "CartPole-v1"), ("rl_scratch/GridWorld-v0", "rl_scratch/GridWorld-v0"),
])
def test_env_names_resolve_case_insensitively(name, env_id):
    assert cfg.resolve_env_id(name) == env_id


def test_unknown_env_suggests_short_names_and_gymnasium_ids():
    with pytest.raises(ConfigError, match="did you mean .*GridWorld"):
        cfg.resolve_env_id("GridWrld")
    with pytest.raises(ConfigError, match="did you mean .*CartPole-v1"):
        cfg.resolve_env_id("CartPol-v1")


# ----------------------------------------------------------- resolution
def test_defaults_come_from_the_env_table_and_the_agent_config():
    resolved = cfg.resolve({"env": "GridWorld"}, {})
    table = cfg.ENV_DEFAULTS["rl_scratch/GridWorld-v0"]
    s = resolved.settings
    assert (s.env, s.agent, s.steps, s.episodes) == ("rl_scratch/GridWorld-v0", table.agent, table.steps, None)
    assert resolved.agent_config.policy == table.policy == "mlp"
    assert s.env_kwargs == {"obs_mode": "onehot"}  # an MLP reads one-hot cells
    tuned = cfg.tuned_hyperparameters(table.agent, "rl_scratch/GridWorld-v0")
    defaults = resolved.agent_cls.Config()
    for f in dataclasses.fields(defaults):
        expected = tuned.get(f.name, getattr(defaults, f.name))
        expected = tuple(expected) if isinstance(expected, list) else expected
        if f.name != "policy":
            assert getattr(resolved.agent_config, f.name) == expected, f.name


def test_tabular_agent_is_one_flag_away_and_gets_integer_states():
    resolved = cfg.resolve({"env": "GridWorld", "agent": "qlearning"}, {})
    assert resolved.settings.env_kwargs == {"obs_mode": "index"}
    env = cfg.make_env(resolved.settings.env, resolved.settings.env_kwargs)
    resolved.agent_cls(env.observation_space, env.action_space, resolved.agent_config)  # would raise on onehot


def test_attention_policy_gets_token_observations():
    resolved = cfg.resolve({"env": "GridWorld", "hyperparameters": {"policy": "attention"}}, {})
    assert resolved.settings.env_kwargs == {"obs_mode": "grid"}


def test_lookup_order_file_over_table_flags_over_file():
    file_values = {"steps": 123, "seed": 7, "env_kwargs": {"obs_mode": "coords"},
                   "hyperparameters": {"lr": 0.01, "hidden": [8, 8], "batch_size": 16}}
    flags = {"env": "gridworld", "seed": 9, "hyperparameters": {"lr": "0.02"}, "env_kwargs": {"slip_prob": 0.1}}
    resolved = cfg.resolve(flags, file_values)
    c, s = resolved.agent_config, resolved.settings
    assert (c.lr, c.hidden, c.batch_size) == (0.02, (8, 8), 16)
    assert resolved.hyperparameter_sources["lr"] == "command line"
    assert resolved.hyperparameter_sources["hidden"] == "config file"
    assert (s.steps, s.seed) == (123, 9)
    assert s.env_kwargs == {"obs_mode": "coords", "slip_prob": 0.1}


def test_an_episode_budget_replaces_the_table_step_budget():
    s = cfg.resolve({"env": "GridWorld", "episodes": 50}, {}).settings
    assert (s.steps, s.episodes) == (None, 50)


def test_config_json_of_a_run_reproduces_the_resolution(tmp_path):
    resolved = cfg.resolve({"env": "GridWorld", "seed": 5, "hyperparameters": {"hidden": "32,16", "lr": "3e-4"}},
                           {})
    record = {**resolved.to_json(), "command": "python -m rl_scratch.train ...", "optimum": 0.93}
    path = tmp_path / "config.json"
    runs.atomic_write_json(path, record)
    again = cfg.resolve({}, cfg.load_config_file(str(path)))
    assert again.to_json() == resolved.to_json()


def test_toml_config_file(tmp_path):
    path = tmp_path / "run.toml"
    path.write_text('env = "GridWorld"\nagent = "dqn"\nsteps = 2000\n[hyperparameters]\nhidden = [32]\n'
                    'double_dqn = false\n')
    resolved = cfg.resolve({}, cfg.load_config_file(str(path)))
    assert resolved.settings.steps == 2000
    assert resolved.agent_config.hidden == (32,) and resolved.agent_config.double_dqn is False


@pytest.mark.parametrize("text, problem", [
    ('env = "GridWorld"\nlearning_rate = 0.1\n', "unknown key.*valid keys: env"),
    ('env = "GridWorld"\n[hyperparameters]\nlearning_rate = 0.1\n', "no hyperparameter 'learning_rate'; valid: "),
    ('env = "GridWorld"\n[hyperparameters]\nhidden = "wide"\n', "comma-separated list"),
    ('env = "GridWorld"\nsteps = "many"\n', "steps='many' is not an integer"),
    ("env = [", "does not parse"),
])
def test_bad_config_files_name_the_problem(tmp_path, text, problem):
    path = tmp_path / "bad.toml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=problem):
        cfg.resolve({}, cfg.load_config_file(str(path)))


@pytest.mark.parametrize("flags, problem", [
    ({"hyperparameters": {"lr": "0"}}, "lr must be a finite number > 0"),
    ({"hyperparameters": {"gamma": "1.5"}}, "gamma must be a probability"),
    ({"hyperparameters": {"hidden": "64,x"}}, "expected an integer"),
    ({"hyperparameters": {"batch_size": "1.5"}}, "expected an integer"),
    ({"hyperparameters": {"double_dqn": "maybe"}}, "expected a boolean"),
    ({"steps": 0}, "--steps must be a positive integer"),
    ({"eval_every": -1}, "--eval-every must be a non-negative integer"),
    ({"agent": "qlearning", "hyperparameters": {"hidden": "64"}}, "--hidden does not apply to qlearning"),
])
def test_bad_values_name_the_problem(flags, problem):
    with pytest.raises(ConfigError, match=problem):
        cfg.resolve({"env": "GridWorld", "agent": "dqn", **flags}, {})


@pytest.mark.parametrize("text, default, value", [
    ("64,64", (64, 64), (64, 64)), ("[32]", (64, 64), (32,)), ("", (64,), ()), ("1e4", 10, 10000),
    ("0.5", 1.0, 0.5), ("false", True, False), ("tanh", "relu", "tanh"),
])
def test_parse_text_follows_the_default_type(text, default, value):
    parsed = cfg.parse_text(text, default, "key")
    assert parsed == value and type(parsed) is type(value)


def test_env_kwargs_from_the_command_line_are_literals_where_they_parse():
    parsed = cfg.parse_env_kwargs(cfg.parse_assignments(["obs_mode=coords", "slip_prob=0.2", "desc=['SG']"],
                                                        "--env-kwarg"))
    assert parsed == {"obs_mode": "coords", "slip_prob": 0.2, "desc": ["SG"]}
    with pytest.raises(ConfigError, match="KEY=VALUE"):
        cfg.parse_assignments(["obs_mode"], "--env-kwarg")


# -------------------------------------------------------------- run files
def test_csv_log_appends_and_reads_back_exact_floats(tmp_path):
    path = tmp_path / "m.csv"
    log = runs.CsvLog(path, ("step", "return", "loss"))
    log.write({"step": 1, "return": 0.1 + 0.2, "loss": None})
    log.close()
    log = runs.CsvLog(path, ("step", "return", "loss"))  # reopened: appends under the same header
    log.write({"step": 2, "return": -1.0, "loss": 3e-12})
    log.close()
    assert path.read_text().count("step") == 1
    assert runs.read_csv(path) == {"step": [1.0, 2.0], "return": [0.1 + 0.2, -1.0], "loss": [None, 3e-12]}
    with pytest.raises(runs.RunFolderError, match="columns"):
        runs.CsvLog(path, ("step", "return"))


def test_atomic_write_keeps_the_old_file_when_writing_fails(tmp_path):
    path = tmp_path / "state.json"
    runs.atomic_write_json(path, {"a": 1})
    with pytest.raises(TypeError):
        runs.atomic_write_json(path, {"a": object()})
    assert json.loads(path.read_text()) == {"a": 1}
    assert [p.name for p in tmp_path.iterdir()] == ["state.json"]  # no temporary left behind


def test_smooth_is_a_trailing_mean():
    assert runs.smooth([1.0, 3.0, 5.0, 7.0], 2) == [1.0, 2.0, 4.0, 6.0]


def test_run_folder_names_do_not_collide(tmp_path):
    first = runs.create_run_folder(None, "rl_scratch/GridWorld-v0", "dqn", root=str(tmp_path))
    second = runs.create_run_folder(None, "rl_scratch/GridWorld-v0", "dqn", root=str(tmp_path))
    assert first != second and first.parent == second.parent == tmp_path and "/" not in first.name
    (first / "config.json").write_text("{}")
    with pytest.raises(runs.RunFolderError, match="--resume"):
        runs.create_run_folder(str(first), "x", "dqn")


# ------------------------------------------------------------- overlay
def test_grid_overlay_reads_the_q_table_of_every_floor_cell():
    from rl_scratch.agents.qlearning import QLearning
    from rl_scratch.play import grid_values_and_policy

    env = gymnasium.make("rl_scratch/GridWorld-v0")
    agent = QLearning(env.observation_space, env.action_space, seed=0)
    rng = np.random.default_rng(1)
    agent.q_table[...] = rng.normal(size=agent.q_table.shape)
    values, policy = grid_values_and_policy(agent, env)
    floor = np.isin(env.unwrapped.grid.ravel(), ["S", "."])
    np.testing.assert_array_equal(policy[floor], agent.q_table[floor].argmax(axis=1))
    np.testing.assert_allclose(values[floor], agent.q_table[floor].max(axis=1))
    env.unwrapped.set_overlay(values, policy)  # the shapes and ranges the env accepts


def test_grid_overlay_evaluates_a_q_network_on_onehot_cells():
    from rl_scratch.agents.dqn import DQN
    from rl_scratch.play import grid_values_and_policy

    env = gymnasium.make("rl_scratch/GridWorld-v0", obs_mode="onehot")
    agent = DQN(env.observation_space, env.action_space, seed=0)
    values, policy = grid_values_and_policy(agent, env)
    q = agent.q_values(np.eye(env.unwrapped.n_states, dtype=np.float32))
    floor = np.isin(env.unwrapped.grid.ravel(), ["S", "."])
    np.testing.assert_array_equal(policy[floor], q[floor].argmax(axis=1))
    np.testing.assert_allclose(values[floor], q[floor].max(axis=1), rtol=1e-5, atol=1e-6)  # batch vs row float32


def test_planning_optimum_of_the_default_grid_and_frozenlake():
    from rl_scratch.target import planning_optimum

    assert planning_optimum(gymnasium.make("rl_scratch/GridWorld-v0", obs_mode="onehot")) == pytest.approx(0.93)
    # PITFALLS: 4x4 slippery FrozenLake with its 100-step limit succeeds at most 74.4% of the time.
    assert planning_optimum(gymnasium.make("FrozenLake-v1")) == pytest.approx(0.744, abs=5e-4)
    assert planning_optimum(gymnasium.make("CartPole-v1")) is None


def test_grid_overlay_evaluates_an_actor_critic_value_head():
    from rl_scratch.agents.registry import AGENTS
    from rl_scratch.play import grid_values_and_policy

    env = gymnasium.make("rl_scratch/GridWorld-v0", obs_mode="onehot")
    agent = AGENTS["ppo"](env.observation_space, env.action_space, seed=0)
    values, policy = grid_values_and_policy(agent, env)
    eye = np.eye(env.unwrapped.n_states, dtype=np.float32)
    floor = np.isin(env.unwrapped.grid.ravel(), ["S", "."])
    np.testing.assert_allclose(values[floor], np.asarray(agent.value_of(eye)).reshape(-1)[floor], rtol=1e-5,
                               atol=1e-6)
    assert all(policy[s] == agent.act(eye[s], deterministic=True) for s in np.flatnonzero(floor))
