"""Pygame plumbing shared by the environments' renderers.

pygame is imported lazily (on the first frame) so that importing an environment
module, or ``rl_scratch`` itself, never loads pygame or touches a display.
``rgb_array`` frames are drawn on plain offscreen ``Surface`` objects, which need
no display; only :class:`Window` (``render_mode="human"``) initialises one.
"""

from __future__ import annotations

import os
from collections import deque

import numpy as np

_fonts: dict[tuple[int, bool], object] = {}


def import_pygame():
    """Import pygame without its banner on stdout."""
    os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")
    import pygame

    return pygame


def font(size: int, bold: bool = False):
    """pygame's bundled default font (works offline), cached per size."""
    pygame = import_pygame()
    if not pygame.font.get_init():
        pygame.font.init()
        # Font objects made before a font.quit() elsewhere are dead.
        _fonts.clear()
    key = (size, bold)
    if key not in _fonts:
        f = pygame.font.Font(None, size)
        f.set_bold(bold)
        _fonts[key] = f
    return _fonts[key]


def surface_to_array(surface) -> np.ndarray:
    """Copy a Surface into a C-contiguous (height, width, 3) uint8 array."""
    pygame = import_pygame()
    view = pygame.surfarray.pixels3d(surface)  # (W, H, 3) view, locks the surface
    frame = np.ascontiguousarray(view.transpose(1, 0, 2))
    del view  # unlock before the surface is drawn on again
    return frame


def blend(color_a, color_b, t: float) -> tuple[int, int, int]:
    """Linear mix of two RGB colours, t=0 gives a, t=1 gives b."""
    return tuple(int(round(a + (b - a) * t)) for a, b in zip(color_a, color_b))


class Window:
    """A lazily opened pygame window that shows finished frames at a fixed rate.

    Events are pumped on every frame so the window stays responsive; when the
    user clicks the close button the window is released and later frames are
    dropped silently (the episode itself carries on). Keys pressed meanwhile are
    kept, by pygame's name ("up", "w", "escape"), in `keys` for a caller that
    reads them (manual play); only the last few, so a window nobody reads keys
    from does not grow.
    """

    def __init__(self, title: str):
        self.title = title
        self.screen = None
        self.clock = None
        self.closed_by_user = False
        self.keys: deque[str] = deque(maxlen=16)

    def show(self, surface, fps: float) -> None:
        if self.closed_by_user:
            return
        pygame = import_pygame()
        if self.screen is None:
            pygame.display.init()
            pygame.display.set_caption(self.title)
            self.screen = pygame.display.set_mode(surface.get_size())
            self.clock = pygame.time.Clock()
        for event in pygame.event.get():
            if event.type == pygame.QUIT:
                self.close()
                self.closed_by_user = True
                return
            if event.type == pygame.KEYDOWN:
                self.keys.append(pygame.key.name(event.key))
        self.screen.blit(surface, (0, 0))
        pygame.display.flip()
        self.clock.tick(fps)

    def close(self) -> None:
        if self.screen is not None:
            pygame = import_pygame()
            pygame.display.quit()
            self.screen = None
            self.clock = None


def render(env, draw, text, ready: bool = True):
    """The `render()` every env shares: a warning without a render mode, text for "ansi",
    else the frame from `draw()` shown in the env's window ("human") or returned as an array."""
    if env.render_mode is None:
        import gymnasium

        gymnasium.logger.warn(
            "You are calling render method without specifying any render mode. "
            f'You can specify the render_mode at initialization, e.g. {type(env).__name__}(render_mode="rgb_array")'
        )
        return None
    if not ready:
        raise RuntimeError("call reset() before render()")
    if env.render_mode == "ansi":
        return text()
    surface = draw()
    if env.render_mode == "human":
        if env._window is None:
            env._window = Window(f"rl-scratch {type(env).__name__}")
        env._window.show(surface, env.metadata["render_fps"])
        return None
    return surface_to_array(surface)
