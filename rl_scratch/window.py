"""Showing frames in a pygame window: what `play` and `train --render` share.

Both sit above this module; neither imports the other.
"""

from __future__ import annotations

import os
import sys

import gymnasium
import numpy as np

from rl_scratch.envs._render import Window, import_pygame


# SDL's drivers that draw into memory: a window on them shows nothing and raises nothing.
HEADLESS_DRIVERS = ("offscreen", "dummy")


def missing_display() -> str | None:
    """Why no window can be seen here (no display, and SDL found no video device or fell back to
    drawing into memory), or None when one can.

    A driver chosen with SDL_VIDEODRIVER is taken as meant (tests run on "dummy" on purpose).
    """
    if os.environ.get("SDL_VIDEODRIVER"):
        return None
    pygame = import_pygame()
    # SDL writes its failed probes (e.g. "XDG_RUNTIME_DIR is invalid") straight to file
    # descriptor 2; the one line the user gets is ours.
    sys.stderr.flush()
    saved_stderr = os.dup(2)
    try:
        with open(os.devnull, "w") as devnull:
            os.dup2(devnull.fileno(), 2)
        pygame.display.init()
        driver = pygame.display.get_driver()
    except pygame.error as error:
        driver, reason = None, f"SDL found no video device ({error})"
    finally:
        os.dup2(saved_stderr, 2)
        os.close(saved_stderr)
        pygame.display.quit()
    if driver is not None:
        if driver not in HEADLESS_DRIVERS:
            return None
        reason = f"SDL fell back to its {driver} driver"
    unset = [name for name in ("DISPLAY", "WAYLAND_DISPLAY") if not os.environ.get(name)]
    return reason + (f"; {' and '.join(unset)} {'is' if len(unset) == 1 else 'are'} unset" if unset else "")


class FrameWindow:
    """Shows (H, W, 3) uint8 frames at `fps` in the envs' own pygame window (opened on the first
    frame; closing it sets `closed_by_user`, and callers stop drawing)."""

    def __init__(self, title: str, fps: float):
        self.window, self.fps = Window(title), fps

    @property
    def closed_by_user(self) -> bool:
        return self.window.closed_by_user

    def next_key(self) -> str | None:
        """The oldest key pressed and not yet taken (pygame's name: "up", "w", "escape"), or None."""
        return self.window.keys.popleft() if self.window.keys else None

    def show(self, frame: np.ndarray) -> None:
        if frame is not None and not self.window.closed_by_user:
            pygame = import_pygame()
            self.window.show(pygame.surfarray.make_surface(frame.transpose(1, 0, 2)), self.fps)

    def close(self) -> None:
        self.window.close()


class RenderEvery(gymnasium.Wrapper):
    """Shows every `every`-th episode of an rgb_array env in a pygame window."""

    def __init__(self, env, every: int, title: str):
        super().__init__(env)
        self.every = every
        self.window = FrameWindow(title, fps=env.metadata.get("render_fps", 30))
        self.episode = 0
        self.showing = False

    def reset(self, **kwargs):
        out = self.env.reset(**kwargs)
        self.episode += 1
        self.showing = (self.episode - 1) % self.every == 0 and not self.window.closed_by_user
        if self.showing:
            self.window.show(self.env.render())
        return out

    def step(self, action):
        out = self.env.step(action)
        if self.showing:
            self.window.show(self.env.render())
        return out

    def close(self):
        self.window.close()
        super().close()
