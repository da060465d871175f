"""CueCorridor: the spec in its docstring against the live env, Gymnasium compliance, seeding,
and its optimum (value iteration on its exact model) against the closed forms it documents."""

import inspect
import itertools
import warnings

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

import rl_scratch  # noqa: F401  (registers the ids)
from rl_scratch.agents.planning import tabular_model, value_iteration
from rl_scratch.envs import CueCorridor
from rl_scratch.envs.memory import ACTION_NAMES, DOWN, RIGHT, UP
from test_envs import SECTION_ORDER, doc_sections, documented_info_keys, table_rows


def test_check_env_with_warnings_as_errors():
    for mode in (None, "rgb_array", "ansi"):
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            env = gym.make("rl_scratch/CueCorridor-v0", render_mode=mode)
            check_env(env.unwrapped)
            env.close()


def test_docstring_is_the_spec():
    sections = doc_sections(CueCorridor)
    assert list(sections) == SECTION_ORDER
    env = CueCorridor(length=5)
    assert [row[1] for row in table_rows(sections["Action Space"])] == list(ACTION_NAMES)
    assert env.action_space.n == len(ACTION_NAMES)
    assert env.observation_space.shape == (5 + 2,) and env.observation_space.dtype == np.float32
    _, info = env.reset(seed=0)
    assert set(info) == documented_info_keys(sections["Information"], "reset")
    *_, info = env.step(RIGHT)
    assert set(info) == documented_info_keys(sections["Information"], "step")
    documented = [line.split("`")[1].split("=")[0] for line in sections["Arguments"].splitlines()
                  if line.startswith("* `")]
    assert documented == [p for p in inspect.signature(CueCorridor.__init__).parameters if p != "self"]


def test_the_cue_is_visible_on_the_reset_observation_only():
    env = CueCorridor(length=4)
    seen = set()
    for seed in range(20):
        obs, info = env.reset(seed=seed)
        assert obs[4 + info["cue"]] == 1.0 and obs[4 + 1 - info["cue"]] == 0.0
        seen.add(info["cue"])
        for action in (RIGHT, UP, RIGHT):
            obs, *_ = env.step(action)
            assert not obs[4:].any()
    assert seen == {0, 1}


def test_unseeded_resets_draw_new_cues_and_seeds_repeat_them():
    env = CueCorridor()
    env.reset(seed=1)
    cues = [env.reset()[1]["cue"] for _ in range(30)]
    assert len(set(cues)) == 2
    env.reset(seed=1)
    assert [env.reset()[1]["cue"] for _ in range(30)] == cues


def test_rewards_of_the_two_goals():
    env = CueCorridor(length=3)
    for cue_action, wrong_action in ((UP, DOWN), (DOWN, UP)):
        for action, expected in ((cue_action, 1.0), (wrong_action, -1.0)):
            seed = next(s for s in itertools.count() if env.reset(seed=s)[1]["cue"] == (cue_action == DOWN))
            env.reset(seed=seed)
            assert env.step(action)[1] == -0.01  # not at the junction yet: a bump
            env.step(RIGHT)
            _, reward, terminated, truncated, _ = env.step(RIGHT)
            assert (reward, terminated) == (-0.01, False)
            _, reward, terminated, truncated, _ = env.step(action)
            assert (reward, terminated, truncated) == (expected, True, False)


@pytest.mark.parametrize("length", [2, 4, 7])
def test_optimum_is_value_iteration_on_the_exact_model(length):
    env = CueCorridor(length=length)
    values = value_iteration(tabular_model(env.transition_model()), gamma=1.0)[0]
    n = length + 1
    start_value = 0.5 * values[0] + 0.5 * values[n]  # cell 0, cue up or down with probability 1/2
    assert start_value == pytest.approx(env.optimum)
    assert env.optimum == pytest.approx(1.0 - 0.01 * (length - 1))
    # Best policy of the current observation: the junction looks the same for both cues; enumerate
    # every deterministic turn there (walking straight is best before it).
    turns = [0.5 * (values_if(env, cue=0, turn=t) + values_if(env, cue=1, turn=t)) for t in (UP, DOWN)]
    assert max(turns) == pytest.approx(env.memoryless_optimum)


def test_the_trainers_target_is_the_exact_optimum():
    """Its start distribution lets the trainer (and the benchmark) judge a run against 0.97."""
    import gymnasium as gym

    from rl_scratch.target import Target

    for length in (4, 6):
        env = gym.make("rl_scratch/CueCorridor-v0", length=length)
        start = env.unwrapped.initial_state_distrib
        assert start.sum() == pytest.approx(1.0) and start[0] == start[length + 1] == 0.5
        assert Target.of_env(env).optimum == pytest.approx(env.unwrapped.optimum)


def values_if(env, cue: int, turn: int) -> float:
    """Return of walking right to the junction and then taking `turn`, for a given cue."""
    seed = next(s for s in itertools.count() if env.reset(seed=s)[1]["cue"] == cue)
    env.reset(seed=seed)
    total = 0.0
    for _ in range(env.length - 1):
        total += env.step(RIGHT)[1]
    return total + env.step(turn)[1]


def test_rgb_frame_shape_and_ansi():
    env = CueCorridor(render_mode="rgb_array", length=4)
    env.reset(seed=0)
    frame = env.render()
    assert frame.shape == (3 * env.cell_size, 4 * env.cell_size, 3) and frame.dtype == np.uint8
    ansi = CueCorridor(render_mode="ansi")
    ansi.reset(seed=0)
    assert "A" in ansi.render()


def test_bad_arguments_and_actions():
    with pytest.raises(ValueError, match="length"):
        CueCorridor(length=1)
    env = CueCorridor()
    env.reset(seed=0)
    with pytest.raises(ValueError, match="invalid action 4"):
        env.step(4)
