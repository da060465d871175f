"""The input checks every env of ours makes, written once so their errors read the same everywhere."""

from __future__ import annotations

from operator import index


def check_render_mode(render_mode, metadata: dict) -> None:
    """A constructor's check: None or one of metadata["render_modes"], else a ValueError naming them."""
    if render_mode is not None and render_mode not in metadata["render_modes"]:
        raise ValueError(f"unknown render_mode {render_mode!r}; choose from {metadata['render_modes']} or None")


def discrete_action(action, n: int, what: str = "an int", names=None) -> int:
    """`step`'s check of a Discrete(n) action: the action as a Python int, or a ValueError saying what is expected.

    Any integer type passes (Python int, NumPy integer, 0-d integer array, via operator.index);
    floats and out-of-range values do not.
    """
    expected = f"expected {what} in [0, {n - 1}]" + (f" ({', '.join(names)})" if names else "")
    try:
        a = index(action)
    except TypeError:
        raise ValueError(f"invalid action {action!r}: {expected}") from None
    if not 0 <= a < n:
        raise ValueError(f"invalid action {action!r}: {expected}")
    return a
