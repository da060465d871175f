"""`play --env ENV --keys`: playing an env yourself, tested headless by posting pygame key events.

conftest.py sets SDL_VIDEODRIVER=dummy: the window opens on SDL's dummy driver and the
events posted before the loop starts are the keys it reads, in order.
"""

from __future__ import annotations

import os
import subprocess
import sys

import gymnasium as gym
import pytest

import rl_scratch  # noqa: F401  (registers the rl_scratch/* envs)
from rl_scratch import keyboard
from rl_scratch.envs._render import import_pygame
from rl_scratch.play import main
from rl_scratch.window import FrameWindow


def press(*names: str) -> None:
    """Queue KEYDOWN events for pygame's key names ("right", "d", "escape"), as a keyboard would."""
    pygame = import_pygame()
    pygame.display.init()
    pygame.event.clear()
    for name in names:
        pygame.event.post(pygame.event.Event(pygame.KEYDOWN, key=pygame.key.key_code(name)))


def play(env_id: str, *keys: str, **env_kwargs):
    env = gym.make(env_id, render_mode="rgb_array", **env_kwargs)
    window = FrameWindow("test", fps=1000)
    press(*keys)
    try:
        returns = keyboard.play_by_keys(env, window, keyboard.direction_actions(env_id), seed=0)
    finally:
        window.close()
    return env, returns


def test_arrows_and_wasd_walk_the_shortest_path_to_the_goal(capsys):
    # 5x5 map: right 3, down 4, right 1 is a shortest path (8 steps); arrows and WASD mixed.
    press("right", "d", "right", "s", "down", "s", "down", "d", "escape")
    assert main(["--env", "GridWorld", "--keys", "--fps", "1000"]) == 0
    out = capsys.readouterr().out
    assert "episode 1: return 0.930, length 8" in out  # the value-iteration optimum of the map


def test_walls_block_and_r_starts_a_new_episode():
    grid = gym.make("rl_scratch/GridWorld-v0").unwrapped
    # left and up at the start hit the border; down moves; R resets to the start; right moves.
    env, returns = play("rl_scratch/GridWorld-v0", "a", "up", "s", "r", "right", "q")
    assert returns == []
    assert env.unwrapped.state == grid.to_state(0, 1)
    env, _ = play("rl_scratch/GridWorld-v0", "a", "w", "escape")
    assert env.unwrapped.state == grid.to_state(0, 0)


def test_each_env_maps_the_keys_to_its_own_action_order():
    env, _ = play("FrozenLake-v1", "right", "right", "down", "escape", is_slippery=False)
    assert env.unwrapped.s == 6  # row 1, column 2
    env, _ = play("rl_scratch/CueCorridor-v0", "right", "d", "escape")
    assert env.unwrapped.get_state()["position"] == 2


def test_any_gridworld_map_plays(capsys):
    maze = gym.make("rl_scratch/GridWorld-v0", map_name="maze").unwrapped
    press("escape")
    assert main(["--env", "GridWorld", "--keys", "--env-kwarg", "map_name=maze", "--fps", "1000"]) == 0
    assert "'map_name': 'maze'" in capsys.readouterr().out
    assert maze.grid.shape == (13, 13)


@pytest.mark.parametrize("argv, message", [
    (["--env", "CartPole-v1", "--keys"], "CartPole-v1's are not. Envs that work: GridWorld, "),
    (["--keys"], "--keys needs the env to play: --env GridWorld"),
    (["runs/x", "--env", "GridWorld", "--keys"], "leave out runs/x"),
    ([], "give a run folder or checkpoint to watch, or --env ENV --keys"),
])
def test_what_cannot_be_played_is_one_error_line(argv, message, capsys):
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: ") and message in err[0], err


def test_keys_without_a_display_says_so():
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY", "SDL_VIDEODRIVER")}
    result = subprocess.run([sys.executable, "-m", "rl_scratch.play", "--env", "GridWorld", "--keys"],
                            capture_output=True, text=True, env=env, timeout=60)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: --keys needs a window to play in, and there is no "
                                                   "display"), result.stderr
