"""Cross-cutting environment tests: registration, Gymnasium compliance, vector envs,
wrappers, and the class docstrings checked against the live environments."""

import os

os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")

import ast
import inspect
import re
import subprocess
import sys
import warnings

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env
from gymnasium.wrappers import FlattenObservation, RecordEpisodeStatistics

import rl_scratch  # noqa: F401  (registers the ids)
from rl_scratch.envs import ENV_SPECS, GridWorld, Iris, NextToken, register_envs
from rl_scratch.envs.gridworld import ACTION_NAMES, GRID_CHANNELS, MAPS, MOVES

EXPECTED_IDS = {
    "rl_scratch/GridWorld-v0": 100,
    "rl_scratch/GridWorld-Slippery-v0": 100,
    "rl_scratch/GridWorld-8x8-v0": 200,
    "rl_scratch/GridWorld-FourRooms-v0": 200,
    "rl_scratch/GridWorld-Cliff-v0": 200,
    "rl_scratch/GridWorld-Maze-v0": 400,
    "rl_scratch/GridWorld-Large-v0": 400,
    "rl_scratch/CueCorridor-v0": 20,
    "rl_scratch/Iris-v0": None,
    "rl_scratch/NextToken-v0": None,
}


# ------------------------------------------------------------------ registration
def test_import_registers_without_loading_env_modules_or_pygame():
    code = (
        "import sys, gymnasium, rl_scratch\n"
        "loaded = [m for m in ('pygame', 'rl_scratch.envs.gridworld', 'rl_scratch.envs.iris',"
        " 'rl_scratch.envs.next_token', 'rl_scratch.envs.memory') if m in sys.modules]\n"
        "assert not loaded, loaded\n"
        "assert 'rl_scratch/GridWorld-v0' in gymnasium.registry\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout == ""  # no pygame banner, no prints


def test_registered_ids_and_time_limits():
    assert set(ENV_SPECS) == set(EXPECTED_IDS)
    for env_id, limit in EXPECTED_IDS.items():
        assert gym.spec(env_id).max_episode_steps == limit, env_id


def test_registration_is_idempotent():
    before = {env_id: gym.spec(env_id) for env_id in EXPECTED_IDS}
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # re-registering would warn "Overriding environment"
        register_envs()
        register_envs()
    assert all(gym.spec(env_id) is before[env_id] for env_id in EXPECTED_IDS)


def test_unregistered_variant_fails_loudly():
    with pytest.raises(gym.error.Error):
        gym.make("rl_scratch/GridWorld-v99")


# ------------------------------------------------------------------- compliance
CHECK_CASES = [(env_id, {}) for env_id in EXPECTED_IDS] + [
    ("rl_scratch/GridWorld-v0", {"obs_mode": mode}) for mode in ("coords", "onehot", "grid")
] + [
    ("rl_scratch/GridWorld-v0", {"map_name": "random", "size": 6, "map_seed": 1, "slip_prob": 0.3}),
    ("rl_scratch/Iris-v0", {"split": "test"}),
    ("rl_scratch/NextToken-v0", {"split": "val", "context": 8}),
]


@pytest.mark.parametrize("env_id,kwargs", CHECK_CASES, ids=lambda v: str(v))
def test_check_env_with_warnings_as_errors(env_id, kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        env = gym.make(env_id, **kwargs)
        check_env(env.unwrapped)
        env.close()


@pytest.mark.parametrize(
    "env_id,kwargs",
    [
        ("rl_scratch/GridWorld-v0", {"obs_mode": "grid"}),
        ("rl_scratch/GridWorld-Slippery-v0", {}),
        ("rl_scratch/Iris-v0", {}),
        ("rl_scratch/NextToken-v0", {"context": 16}),
    ],
)
def test_vector_envs(env_id, kwargs):
    n_envs, n_steps = 3, 40
    outputs = {}
    for vec_cls in (gym.vector.SyncVectorEnv, gym.vector.AsyncVectorEnv):
        envs = vec_cls([lambda: gym.make(env_id, **kwargs) for _ in range(n_envs)])
        envs.action_space.seed(0)
        single = envs.single_observation_space
        obs, _ = envs.reset(seed=123)
        trajectory = [obs]
        for _ in range(n_steps):
            obs, reward, terminated, truncated, _ = envs.step(envs.action_space.sample())
            assert obs.shape == (n_envs, *single.shape)
            assert obs.dtype == single.dtype
            assert reward.shape == (n_envs,) and terminated.dtype == bool and truncated.dtype == bool
            assert all(o in single for o in obs)
            trajectory.append(obs)
        envs.close()
        outputs[vec_cls.__name__] = np.stack(trajectory)
    # Same seeds, same actions: sync and async runs agree exactly.
    np.testing.assert_array_equal(outputs["SyncVectorEnv"], outputs["AsyncVectorEnv"])


def test_standard_wrappers_on_gridworld():
    env = RecordEpisodeStatistics(FlattenObservation(gym.make("rl_scratch/GridWorld-v0")))
    n = env.unwrapped.n_states
    assert env.observation_space.shape == (n,)
    obs, _ = env.reset(seed=0)
    assert obs.shape == (n,) and obs.argmax() == env.unwrapped.start_state
    # Walking up from the start only bumps the edge: TimeLimit truncates after 100 steps.
    for t in range(1, 101):
        obs, reward, terminated, truncated, info = env.step(0)
        assert not terminated
        assert truncated == (t == 100)
    assert info["episode"]["l"] == 100
    assert info["episode"]["r"] == pytest.approx(100 * -0.01)


def test_flatten_observation_on_iris_and_next_token():
    for env_id, size in [("rl_scratch/Iris-v0", 4), ("rl_scratch/NextToken-v0", 32)]:
        env = RecordEpisodeStatistics(FlattenObservation(gym.make(env_id)))
        obs, info = env.reset(seed=0)
        assert obs.shape == (size,)
        _, reward, terminated, truncated, info = env.step(info["label"])
        assert reward == 1.0 and terminated and not truncated
        assert info["episode"]["l"] == 1 and info["episode"]["r"] == 1.0


# --------------------------------------------------- docstrings are the spec
SECTION_ORDER = [
    "Description",
    "Action Space",
    "Observation Space",
    "Starting State",
    "Rewards",
    "Episode End",
    "Information",
    "Arguments",
    "Version History",
]


def doc_sections(cls) -> dict[str, str]:
    doc = inspect.getdoc(cls)
    parts = re.split(r"^## (.+)$", doc, flags=re.M)
    return {title.strip(): body for title, body in zip(parts[1::2], parts[2::2])}


def table_rows(text: str) -> list[list[str]]:
    """Body rows of the first markdown table in text (header and rule skipped)."""
    rows = [line.strip() for line in text.splitlines() if line.strip().startswith("|")]
    return [[cell.strip() for cell in row.strip("|").split("|")] for row in rows[2:]]


def documented_info_keys(text: str, method: str) -> set[str]:
    match = re.search(rf"`{method}\(\)` returns info keys: (.*)\.", text)
    assert match, f"no info keys line for {method}()"
    return set(re.findall(r"`(\w+)`", match.group(1)))


@pytest.mark.parametrize("cls", [GridWorld, Iris, NextToken])
def test_docstring_sections_in_frozen_lake_order(cls):
    assert list(doc_sections(cls)) == SECTION_ORDER


@pytest.mark.parametrize("cls", [GridWorld, Iris, NextToken])
def test_documented_arguments_match_signature(cls):
    documented = dict(re.findall(r"^\* `(\w+)=(.+?)`:", doc_sections(cls)["Arguments"], flags=re.M))
    params = {name: p.default for name, p in inspect.signature(cls.__init__).parameters.items() if name != "self"}
    assert list(documented) == list(params), "documented arguments differ from the constructor's"
    for name, text in documented.items():
        assert ast.literal_eval(text) == params[name], name


@pytest.mark.parametrize(
    "cls,kwargs,action",
    [(GridWorld, {"slip_prob": 0.5}, 1), (Iris, {}, 0), (NextToken, {"context": 4}, 0)],
)
def test_documented_info_keys_match_live_env(cls, kwargs, action):
    text = doc_sections(cls)["Information"]
    env = cls(**kwargs)
    _, info = env.reset(seed=0)
    assert set(info) == documented_info_keys(text, "reset")
    *_, info = env.step(action)
    assert set(info) == documented_info_keys(text, "step")


def test_gridworld_action_table_matches_moves():
    rows = table_rows(doc_sections(GridWorld)["Action Space"])
    env = GridWorld(desc=["...", ".S.", "..G"])
    assert len(rows) == env.action_space.n == len(ACTION_NAMES)
    centre = env.to_state(1, 1)
    for num, name, move in rows:
        a = int(num)
        assert name == ACTION_NAMES[a]
        axis, sign = re.fullmatch(r"(row|col) ([+-]) 1", move).groups()
        delta = (1 if sign == "+" else -1, 0) if axis == "row" else (0, 1 if sign == "+" else -1)
        assert MOVES[a] == delta
        env.reset(options={"state": centre})
        obs, *_ = env.step(a)
        assert env.to_rowcol(obs) == (1 + delta[0], 1 + delta[1])


def test_gridworld_observation_table_matches_spaces():
    section = doc_sections(GridWorld)["Observation Space"]
    rows = table_rows(section)
    assert [row[0] for row in rows] == ["index", "coords", "onehot", "grid"]
    for mode, space_text, dtype, shape, _ in rows:
        env = GridWorld(obs_mode=mode)
        names = {"n_states": env.n_states}
        shape = eval(shape, {}, names)  # e.g. "(n_states, 6)"
        obs, _ = env.reset(seed=0)
        if space_text.startswith("Discrete"):
            assert env.observation_space == gym.spaces.Discrete(eval(space_text[8:], {}, names))
            assert dtype == "int" and type(obs) is int and shape == ()
        else:
            low, high, box_shape = eval(space_text[3:], {}, names)
            assert env.observation_space == gym.spaces.Box(low, high, box_shape, np.dtype(dtype))
            assert obs.dtype == np.dtype(dtype) and obs.shape == shape == box_shape
    channels = re.search(r"channels \(`GRID_CHANNELS`\): (.*?)\(", section, flags=re.S).group(1)
    documented = re.findall(r"(\d) (\w+)", channels) + re.findall(r"(\d) (row|col)", section)
    assert {int(i): name for i, name in documented} == dict(enumerate(GRID_CHANNELS))


def test_gridworld_documented_maps_exist():
    listed = re.search(r"Built-in maps are in\s+`MAPS` \((.*?)\);", doc_sections(GridWorld)["Description"], flags=re.S).group(1)
    assert set(re.findall(r"`(\w+)`", listed)) == set(MAPS)
    assert inspect.signature(GridWorld.__init__).parameters["map_name"].default == "5x5"
    assert all(kwargs.get("map_name", "5x5") in MAPS for _, _, kwargs in ENV_SPECS.values())


def test_gridworld_reward_and_episode_claims():
    sections = doc_sections(GridWorld)
    defaults = inspect.signature(GridWorld.__init__).parameters
    for name, value in re.findall(r"`(\w+_reward)` \(([+-][\d.]+)\)", sections["Rewards"]):
        assert defaults[name].default == float(value), name
    ret, moves = re.search(r"optimal undiscounted return is .* = ([\d.]+)\s+\((\d+) moves\)", sections["Rewards"]).groups()
    env = GridWorld()
    assert env.shortest_path_length == int(moves)
    assert 1.0 + (int(moves) - 1) * -0.01 == pytest.approx(float(ret))
    limit, env_id = re.search(r"`max_episode_steps`: (\d+) for `([\w/-]+)`", sections["Episode End"]).groups()
    assert gym.spec(env_id).max_episode_steps == int(limit)
    shape = re.search(r"frame of shape `(.*?)`", sections["Arguments"]).group(1)
    env = GridWorld(render_mode="rgb_array", map_name="cliff")
    env.reset(seed=0)
    expected = eval(shape, {}, {"n_rows": env.n_rows, "n_cols": env.n_cols, "cell_size": env.cell_size})
    assert env.render().shape == expected


def test_iris_docstring_tables_match_env():
    sections = doc_sections(Iris)
    env = Iris(render_mode="rgb_array")
    actions = table_rows(sections["Action Space"])
    assert [name for _, name in actions] == list(env.class_names)
    assert [int(num) for num, _ in actions] == list(range(env.action_space.n))
    features = table_rows(sections["Observation Space"])
    assert [name for _, name in features] == list(env.feature_names)
    low, high, shape, dtype = re.search(r"`Box\((-?\d+), (-?\d+), \((\d+),\), (\w+)\)`", sections["Observation Space"]).groups()
    assert env.observation_space == gym.spaces.Box(float(low), float(high), (int(shape),), np.dtype(dtype))
    frame_shape = ast.literal_eval(re.search(r"a (\(\d+, \d+, 3\)) uint8", sections["Arguments"]).group(1))
    env.reset(seed=0)
    assert env.render().shape == frame_shape
    per_class = int(re.search(r"(\d+) for\s+the default 0.2", sections["Description"]).group(1))
    assert np.bincount(env.dataset("test")[1]).tolist() == [per_class] * 3


def test_next_token_docstring_claims_match_env():
    sections = doc_sections(NextToken)
    env = NextToken(render_mode="rgb_array")
    vocab = env.tokenizer.vocab_size
    assert "`Discrete(vocab_size)`" in sections["Action Space"] and env.action_space == gym.spaces.Discrete(vocab)
    assert "`Box(0, vocab_size - 1, (context,), int64)`" in sections["Observation Space"]
    assert env.observation_space == gym.spaces.Box(0, vocab - 1, (env.context,), np.int64)
    frame_shape, context = re.search(r"(\(\d+, \d+, 3\)) for `context=(\d+)`", sections["Arguments"]).groups()
    assert int(context) == env.context
    env.reset(seed=0)
    assert env.render().shape == ast.literal_eval(frame_shape)
