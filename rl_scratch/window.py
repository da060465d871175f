"""Showing frames in a pygame window: what `play` and `train --render` share.

Both sit above this module; neither imports the other.
"""

from __future__ import annotations

import gymnasium
import numpy as np

from rl_scratch.envs._render import Window, import_pygame


class FrameWindow:
    """Shows (H, W, 3) uint8 frames at `fps` in the envs' own pygame window (opened on the first
    frame; closing it sets `closed_by_user`, and callers stop drawing)."""

    def __init__(self, title: str, fps: float):
        self.window, self.fps = Window(title), fps

    @property
    def closed_by_user(self) -> bool:
        return self.window.closed_by_user

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
