"""Play an env yourself: arrow keys or WASD move, as Minigrid's manual control does.

    python -m rl_scratch.play --env GridWorld --keys
    python -m rl_scratch.play --env GridWorld --keys --env-kwarg map_name=maze

Under the frame a bar shows the step, the last reward and the episode's return so
far. R or Backspace starts a new episode, Escape or Q (or closing the window) stops.
Only envs whose actions are moves on a grid can be played: `DIRECTION_ACTIONS`.
"""

from __future__ import annotations

import numpy as np

from rl_scratch.config import ConfigError, display_name
from rl_scratch.envs import gridworld, memory
from rl_scratch.envs._render import font, import_pygame, surface_to_array
from rl_scratch.envs.registration import ENV_SPECS
from rl_scratch.window import FrameWindow

# pygame's key names -> the direction they move.
DIRECTION_KEYS = {"up": "up", "w": "up", "right": "right", "d": "right",
                  "down": "down", "s": "down", "left": "left", "a": "left"}
RESET_KEYS = ("r", "backspace")
QUIT_KEYS = ("escape", "q")

# Env id -> the direction of each action, in action order (each env's own ACTION_NAMES).
DIRECTION_ACTIONS: dict[str, tuple[str, ...]] = {
    **{env_id: gridworld.ACTION_NAMES for env_id, (entry_point, _, _) in ENV_SPECS.items()
       if entry_point.endswith(":GridWorld")},
    "rl_scratch/CueCorridor-v0": memory.ACTION_NAMES,
    # Gymnasium's toy text: LEFT, DOWN, RIGHT, UP (frozen_lake.py's action table).
    "FrozenLake-v1": ("left", "down", "right", "up"),
    "FrozenLake8x8-v1": ("left", "down", "right", "up"),
}

HELP = "arrows/WASD move, R new episode, Esc quit"
BAR_HEIGHT = 46


def direction_actions(env_id: str) -> dict[str, int]:
    """{"up": action, ...} of an env that can be played by keys; a ConfigError naming those that can."""
    if env_id not in DIRECTION_ACTIONS:
        playable = ", ".join(display_name(name) for name in DIRECTION_ACTIONS)
        raise ConfigError(f"--keys plays envs whose actions are moves on a grid; {display_name(env_id)}'s are "
                          f"not. Envs that work: {playable}")
    return {direction: action for action, direction in enumerate(DIRECTION_ACTIONS[env_id])}


def with_status(frame: np.ndarray, lines: tuple[str, str]) -> np.ndarray:
    """`frame` with a bar of two text lines under it (the status, then the keys' help)."""
    pygame = import_pygame()
    height, width = frame.shape[:2]
    surface = pygame.Surface((width, height + BAR_HEIGHT))
    surface.fill((30, 41, 59))
    surface.blit(pygame.surfarray.make_surface(frame.transpose(1, 0, 2)), (0, 0))
    for row, (text, size, colour) in enumerate(((lines[0], 22, (241, 245, 249)), (lines[1], 17, (148, 163, 184)))):
        surface.blit(font(size).render(text, True, colour), (8, height + 4 + 22 * row))
    return surface_to_array(surface)


def play_by_keys(env, window: FrameWindow, directions: dict[str, int], seed: int | None = None) -> list[float]:
    """Step `env` (rgb_array) by the keys pressed in `window` until Escape, Q or the window closes.

    Returns the returns of the episodes that ended (terminated or truncated); each is also
    printed. An episode that ends starts the next one at once; the bar shows the last return.
    """
    returns: list[float] = []
    env.reset(seed=seed)
    total, steps, status = 0.0, 0, "episode 1: move to start"
    while True:
        frame = with_status(env.render(), (status, HELP))
        key = None
        while key is None and not window.closed_by_user:
            window.show(frame)  # at the window's rate: pumps its events (keys) while waiting
            key = window.next_key()
        if key in QUIT_KEYS or key is None:
            return returns
        if key in RESET_KEYS:
            env.reset()
            total, steps, status = 0.0, 0, f"episode {len(returns) + 1}: new episode"
            continue
        if key not in DIRECTION_KEYS:
            continue
        _, reward, terminated, truncated, _ = env.step(directions[DIRECTION_KEYS[key]])
        total += float(reward)
        steps += 1
        status = f"episode {len(returns) + 1}  step {steps}  reward {float(reward):+.2f}  return {total:+.2f}"
        if terminated or truncated:
            returns.append(total)
            print(f"episode {len(returns)}: return {total:.3f}, length {steps}"
                  + (" (time limit)" if truncated and not terminated else ""))
            env.reset()
            status = f"episode {len(returns)} ended: return {total:+.2f} in {steps} steps; next one started"
            total, steps = 0.0, 0
