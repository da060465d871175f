"""Optional extras (pyproject.toml's [project.optional-dependencies]): importing them, or saying which to install.

    pip install -e '.[video]'         # play --record x.mp4 (imageio with its bundled ffmpeg)
    pip install -e '.[tensorboard]'   # train --tensorboard DIR (tensorboardX)
"""

from __future__ import annotations

import importlib


class MissingExtra(ImportError):
    """An optional feature's packages are not installed; the message names the extra to install."""


def import_extra(module: str, extra: str, feature: str):
    """`importlib.import_module(module)`, or MissingExtra naming `extra` (one line, no traceback needed)."""
    try:
        return importlib.import_module(module)
    except ImportError:
        raise MissingExtra(f"{feature} needs the optional '{extra}' extra: pip install 'rl-scratch[{extra}]' "
                           f"(in a clone: pip install -e '.[{extra}]')") from None
