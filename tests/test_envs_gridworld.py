"""GridWorld: dynamics, transition model, observations, maps, rendering, bad input."""

import os

os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")

import time

import numpy as np
import pytest

from rl_scratch.envs import MAPS, GridWorld, generate_map
from rl_scratch.envs.gridworld import GRID_CHANNELS, parse_map

UP, RIGHT, DOWN, LEFT = range(4)


def value_iteration(env, gamma=1.0, iters=500):
    """Exact optimal values and a greedy policy from env.transition_model()."""
    P = env.transition_model()
    V = np.zeros(env.n_states)
    for _ in range(iters):
        Q = np.array(
            [[sum(p * (r + gamma * (0.0 if t else V[ns])) for p, ns, r, t in P[s][a]) for a in range(4)] for s in range(env.n_states)]
        )
        V = Q.max(axis=1)
    return V, Q.argmax(axis=1)


# ---------------------------------------------------------------- dynamics
def test_default_map_optimum_is_093_in_8_steps():
    env = GridWorld()
    V, policy = value_iteration(env)
    assert V[env.start_state] == pytest.approx(0.93)
    obs, _ = env.reset(seed=0)
    total, steps, terminated = 0.0, 0, False
    while not terminated:
        obs, reward, terminated, truncated, _ = env.step(int(policy[obs]))
        total += reward
        steps += 1
        assert steps <= 8
    assert steps == 8 and total == pytest.approx(0.93) and obs in env.goal_states


def test_walls_and_edges_block_moves():
    env = GridWorld()  # row 1 is ".##.."
    env.reset(seed=0)
    obs, reward, terminated, _, info = env.step(UP)  # off the grid
    assert obs == env.start_state and reward == -0.01 and not terminated and info == {"prob": 1.0, "slipped": False, "is_success": False}
    env.reset(options={"state": env.to_state(0, 1)})
    obs, *_ = env.step(DOWN)  # (1, 1) is a wall
    assert env.to_rowcol(obs) == (0, 1)


def test_pit_and_goal_rewards_terminate():
    env = GridWorld()
    env.reset(options={"state": env.to_state(2, 1)})  # pit at (2, 2)
    obs, reward, terminated, truncated, _ = env.step(RIGHT)
    assert (env.to_rowcol(obs), reward, terminated, truncated) == ((2, 2), -1.0, True, False)
    # After termination the state is absorbing, as transition_model says.
    assert env.step(LEFT)[:3] == (obs, 0.0, True)
    env.reset(options={"state": env.to_state(4, 3)})
    obs, reward, terminated, _, _ = env.step(RIGHT)
    assert obs in env.goal_states and reward == 1.0 and terminated


def test_custom_rewards_are_used():
    env = GridWorld(step_reward=-0.5, goal_reward=10.0, pit_reward=-3.0)
    env.reset(options={"state": env.to_state(2, 1)})
    assert env.step(RIGHT)[1] == -3.0
    env.reset(options={"state": env.to_state(4, 3)})
    assert env.step(RIGHT)[1] == 10.0
    env.reset()
    assert env.step(RIGHT)[1] == -0.5


def test_transition_model_is_normalized_and_typed():
    env = GridWorld(map_name="8x8", slip_prob=0.3)
    P = env.transition_model()
    assert len(P) == env.n_states and all(len(P[s]) == 4 for s in range(env.n_states))
    for s in range(env.n_states):
        for a in range(4):
            assert sum(p for p, *_ in P[s][a]) == pytest.approx(1.0)
            for p, ns, r, t in P[s][a]:
                assert type(p) is float and type(ns) is int and type(r) is float and type(t) is bool
                if env.grid.flat[s] in "S.":
                    assert 0 <= ns < env.n_states and env.grid.flat[ns] != "#"
                else:  # goal, pit and (never occupied) wall states are absorbing
                    assert (p, ns, r, t) == (1.0, s, 0.0, True)


def test_transition_model_matches_step_deterministic():
    env = GridWorld(map_name="8x8")
    P = env.transition_model()
    floor = [s for s in range(env.n_states) if env.grid.flat[s] in "S."]
    for s in floor:
        for a in range(4):
            env.reset(options={"state": s})
            obs, reward, terminated, _, info = env.step(a)
            assert P[s][a] == [(1.0, obs, reward, terminated)]
            assert info["prob"] == 1.0


def test_transition_model_matches_step_frequencies_with_slip():
    env = GridWorld(map_name="8x8", slip_prob=0.3)
    P = env.transition_model()
    env.reset(seed=0)
    n = 4000
    checked = 0
    for s in [env.to_state(2, 2), env.to_state(0, 1), env.to_state(4, 3)]:
        for a in range(4):
            counts = {}
            for _ in range(n):
                env.reset(options={"state": s})
                obs, reward, terminated, _, info = env.step(a)
                counts[obs] = counts.get(obs, 0) + 1
                expected = {ns: (p, r, t) for p, ns, r, t in P[s][a]}
                assert obs in expected
                assert (info["prob"], reward, terminated) == pytest.approx(expected[obs])
            for p, ns, _, _ in P[s][a]:
                sigma = np.sqrt(p * (1 - p) / n)
                assert abs(counts.get(ns, 0) / n - p) < 5 * sigma + 1e-9, (s, a, ns)
            checked += len(P[s][a])
    assert checked > 24  # the chosen cells do have several outcomes


def test_slip_probabilities_documented_split():
    env = GridWorld(desc=["...", ".S.", "..G"], slip_prob=0.4)
    P = env.transition_model()
    centre = env.to_state(1, 1)
    outcomes = {env.to_rowcol(ns): p for p, ns, _, _ in P[centre][UP]}
    assert outcomes == pytest.approx({(0, 1): 0.6, (1, 2): 0.2, (1, 0): 0.2})


def test_seeded_trajectories_repeat_and_differ_across_seeds():
    def rollout(seed):
        env = GridWorld(map_name="four_rooms", slip_prob=0.5)
        obs, _ = env.reset(seed=seed)
        states = [obs]
        for t in range(60):
            obs, _, terminated, _, _ = env.step(t % 4)
            states.append(obs)
            if terminated:
                obs, _ = env.reset()
        return states

    assert rollout(7) == rollout(7)
    assert rollout(7) != rollout(8)


def test_unseeded_slippery_envs_differ():
    runs = []
    for _ in range(2):
        env = GridWorld(map_name="four_rooms", slip_prob=0.5)
        env.reset()
        runs.append([env.step(t % 4)[0] for t in range(60)])
    assert runs[0] != runs[1]


# ------------------------------------------------------------ observations
def test_observation_modes_content_and_dtype():
    envs = {mode: GridWorld(obs_mode=mode) for mode in ("index", "coords", "onehot", "grid")}
    walk = [RIGHT, RIGHT, DOWN, RIGHT]  # the DOWN bumps into the wall at (1, 2)
    obs = {mode: [env.reset(seed=0)[0]] + [env.step(a)[0] for a in walk] for mode, env in envs.items()}
    env = envs["index"]
    for i, s in enumerate(obs["index"]):
        assert type(s) is int
        r, c = env.to_rowcol(s)
        np.testing.assert_array_equal(obs["coords"][i], np.array([r / 4, c / 4], np.float32))
        onehot = obs["onehot"][i]
        assert onehot.dtype == np.float32 and onehot.sum() == 1.0 and onehot.argmax() == s
        grid = obs["grid"][i]
        assert grid.dtype == np.float32 and grid.shape == (25, len(GRID_CHANNELS))
        flat = env.grid.ravel()
        np.testing.assert_array_equal(grid[:, 0], flat == "#")
        np.testing.assert_array_equal(grid[:, 1], flat == "H")
        np.testing.assert_array_equal(grid[:, 2], flat == "G")
        assert grid[:, 3].sum() == 1.0 and grid[s, 3] == 1.0
        np.testing.assert_allclose(grid[s, 4:], [r / 4, c / 4])
    assert obs["index"] == [0, 1, 2, 2, 3]


def test_coords_reach_one_at_the_far_corner():
    env = GridWorld(obs_mode="coords")
    env.reset(options={"state": env.to_state(4, 3)})
    obs, *_ = env.step(RIGHT)
    np.testing.assert_array_equal(obs, np.array([1.0, 1.0], np.float32))


def test_state_helpers():
    env = GridWorld(map_name="cliff")
    assert (env.n_rows, env.n_cols, env.n_states) == (4, 12, 48)
    assert env.to_rowcol(env.start_state) == (3, 0)
    assert env.goal_states == (env.to_state(3, 11),)
    assert all(env.to_state(*env.to_rowcol(s)) == s for s in range(env.n_states))


# --------------------------------------------------------------------- maps
@pytest.mark.parametrize("name", sorted(MAPS))
def test_builtin_maps_are_solvable(name):
    env = GridWorld(map_name=name)
    V, _ = value_iteration(env, iters=300)
    assert env.shortest_path_length is not None
    assert V[env.start_state] == pytest.approx(1.0 - 0.01 * (env.shortest_path_length - 1))


def test_generate_map_is_seeded_and_solvable():
    assert generate_map(8, seed=3) == generate_map(8, seed=3)
    maps = {generate_map(8, seed=s) for s in range(10)}
    assert len(maps) == 10
    for desc in maps:
        assert desc[0][0] == "S" and desc[-1][-1] == "G" and len(desc) == 8
        parse_map(desc)  # raises if unsolvable
    rect = generate_map((3, 7), seed=np.random.default_rng(0), wall_prob=0.4, pit_prob=0.2)
    assert len(rect) == 3 and {len(row) for row in rect} == {7}
    dense = generate_map(6, seed=1, wall_prob=0.0, pit_prob=0.0)
    assert set("".join(dense)) == {"S", ".", "G"}


def test_random_map_env_uses_generate_map_and_unseeded_maps_differ():
    env = GridWorld(map_name="random", size=8, map_seed=5, wall_prob=0.3, pit_prob=0.1)
    assert env.desc == generate_map(8, seed=5, wall_prob=0.3, pit_prob=0.1)
    assert GridWorld(map_name="random").desc != GridWorld(map_name="random").desc


@pytest.mark.parametrize(
    "desc,message",
    [
        ([".....", "....G"], "exactly one start 'S', found 0"),
        (["S..S", "...G"], "exactly one start 'S', found 2"),
        (["S...", "...."], "no goal 'G'"),
        (["S...", "..G"], "row 1"),
        (["S..X", "...G"], "unknown map character 'X' at row 0, col 3"),
        (["S.#.", "##.G"], "unsolvable"),
        (["S.H.", "HH.G"], "unsolvable"),
        ([], "non-empty list"),
        ("S.G", "non-empty list of strings"),
    ],
)
def test_malformed_maps_are_rejected(desc, message):
    with pytest.raises(ValueError, match=message):
        GridWorld(desc=desc)


def test_bad_constructor_arguments():
    with pytest.raises(ValueError, match=r"unknown map_name 'mze'.*'maze'"):
        GridWorld(map_name="mze")
    with pytest.raises(ValueError, match="unknown obs_mode 'pixels'.*'grid'"):
        GridWorld(obs_mode="pixels")
    with pytest.raises(ValueError, match=r"slip_prob must be in \[0, 1\], got 1.5"):
        GridWorld(slip_prob=1.5)
    with pytest.raises(ValueError, match="unknown render_mode 'window'"):
        GridWorld(render_mode="window")
    with pytest.raises(ValueError, match="step_reward must be a finite number"):
        GridWorld(step_reward=float("nan"))
    with pytest.raises(ValueError, match="wall_prob"):
        generate_map(5, seed=0, wall_prob=0.7, pit_prob=0.3)


@pytest.mark.parametrize("action", [4, -1, 1.5, "up", None, np.float32(2.0)])
def test_invalid_actions_raise_value_error(action):
    env = GridWorld()
    env.reset(seed=0)
    with pytest.raises(ValueError, match=rf"invalid action {repr(action)[:8]}.*\[0, 3\]"):
        env.step(action)


def test_numpy_integer_actions_are_accepted():
    env = GridWorld()
    env.reset(seed=0)
    assert env.step(np.int64(1))[0] == 1
    assert env.step(np.array(3))[0] == 0


def test_reset_state_option_is_validated():
    env = GridWorld()
    with pytest.raises(ValueError, match=r"cell \(1, 1\) = '#'"):
        env.reset(options={"state": env.to_state(1, 1)})
    with pytest.raises(ValueError, match=r"int in \[0, 25\)"):
        env.reset(options={"state": 25})


# ---------------------------------------------------------------- rendering
def test_rgb_array_frames_show_the_agent_moving():
    env = GridWorld(render_mode="rgb_array")
    env.reset(seed=0)
    first = env.render()
    assert first.shape == (5 * env.cell_size, 5 * env.cell_size, 3) and first.dtype == np.uint8
    assert first.flags["C_CONTIGUOUS"]
    env.step(RIGHT)
    second = env.render()
    k = env.cell_size
    changed = np.argwhere((first != second).any(axis=2))
    # Only the two cells the agent left and entered change.
    assert changed.size and set(map(tuple, changed // k)) <= {(0, 0), (0, 1)}
    agent_pixels = (second == (37, 99, 235)).all(axis=2)
    assert agent_pixels[:k, k : 2 * k].any() and not agent_pixels[:k, :k].any()  # no trail left behind
    # Frames are fresh arrays, not views of one buffer.
    assert not np.shares_memory(first, second)


def test_rgb_array_never_opens_a_display():
    import pygame

    env = GridWorld(render_mode="rgb_array")
    env.reset(seed=0)
    env.render()
    assert pygame.display.get_surface() is None
    env.close()
    env.close()


def test_overlay_changes_the_frame_and_can_be_cleared():
    env = GridWorld(render_mode="rgb_array")
    env.reset(seed=0)
    plain = env.render()
    V, policy = value_iteration(env)
    env.set_overlay(values=V)
    with_values = env.render()
    env.set_overlay(policy=policy)
    with_policy = env.render()
    env.set_overlay(values=V, policy=policy)
    both = env.render()
    frames = [plain, with_values, with_policy, both]
    assert all(not np.array_equal(a, b) for i, a in enumerate(frames) for b in frames[i + 1 :])
    env.set_overlay()
    np.testing.assert_array_equal(env.render(), plain)
    with pytest.raises(ValueError, match=r"shape \(25,\)"):
        env.set_overlay(values=np.zeros(24))
    with pytest.raises(ValueError, match="finite"):
        env.set_overlay(values=np.full(25, np.nan))
    with pytest.raises(ValueError, match=r"action ints in \[0, 3\]"):
        env.set_overlay(policy=np.full(25, 4))


def test_ansi_render():
    env = GridWorld(render_mode="ansi")
    env.reset(seed=0)
    env.step(RIGHT)
    text = env.render()
    lines = text.splitlines()
    assert lines[0].strip() == "(right)"
    assert lines[1].split() == ["S", "A", ".", ".", "."]
    assert [line.replace(" ", "") for line in lines[2:]] == list(MAPS["5x5"][1:])


def test_human_mode_with_dummy_driver_and_window_close():
    import pygame

    env = GridWorld(render_mode="human")
    env.metadata = {**env.metadata, "render_fps": 1000}  # don't sleep in tests
    env.reset(seed=0)  # human mode draws on reset and step
    window = pygame.display.get_surface()
    assert window is not None and window.get_size() == (5 * env.cell_size, 5 * env.cell_size)
    assert env.render() is None
    env.step(RIGHT)
    pixel = window.get_at((int(1.5 * env.cell_size), int(0.5 * env.cell_size)))[:3]
    assert pixel == (37, 99, 235)  # the agent's body colour, in the cell it moved to
    pygame.event.post(pygame.event.Event(pygame.QUIT))
    env.step(RIGHT)  # the window's close button: window released, episode goes on
    assert pygame.display.get_surface() is None
    env.step(DOWN)
    env.close()
    env.close()


def test_render_without_mode_warns():
    env = GridWorld()
    env.reset(seed=0)
    with pytest.warns(UserWarning, match="without specifying any render mode"):
        assert env.render() is None


def test_rgb_array_is_fast():
    env = GridWorld(render_mode="rgb_array")
    env.reset(seed=0)
    env.render()
    start = time.perf_counter()
    for t in range(200):
        env.step(t % 4)
        env.render()
    # The target is >= 200 frames/s (benchmarks/env_speed.py); this guards against
    # a regression such as redrawing the background every frame, with slack for a busy machine.
    assert time.perf_counter() - start < 2.0
