"""Weight initializers. Each takes a `numpy.random.Generator`; without one they
draw from this module's generator, which `manual_seed` resets (never global np.random)."""

from __future__ import annotations

import math

import numpy as np

__all__ = ["manual_seed", "default_rng", "he_normal", "xavier_uniform", "orthogonal", "weight"]

_default_rng = np.random.default_rng()


def manual_seed(seed: int) -> None:
    """Seed the generator used by layers built without an explicit `rng`.

        >>> from rl_scratch.nets import MLP, manual_seed
        >>> manual_seed(0); a = MLP([2, 2])
        >>> manual_seed(0); b = MLP([2, 2])
        >>> np.array_equal(a.layers[0].weight.data, b.layers[0].weight.data)
        True
    """
    global _default_rng
    _default_rng = np.random.default_rng(seed)


def default_rng() -> np.random.Generator:
    """The generator layers draw from when built without `rng` (reset by `manual_seed`).

        >>> from rl_scratch.nets import manual_seed
        >>> manual_seed(3); first = default_rng().random()
        >>> manual_seed(3); first == default_rng().random()
        True
    """
    return _default_rng


def he_normal(shape, rng=None, gain: float | None = None) -> np.ndarray:
    """Kaiming/He: std = gain / sqrt(fan_in), gain sqrt(2) for ReLU.

        >>> w = he_normal((1000, 100), np.random.default_rng(0))
        >>> round(float(w.std() * np.sqrt(1000)), 1)  # sqrt(2)
        1.4
    """
    rng = rng if rng is not None else _default_rng
    gain = math.sqrt(2.0) if gain is None else gain
    return rng.standard_normal(shape) * (gain / math.sqrt(shape[0]))


def xavier_uniform(shape, rng=None, gain: float | None = None) -> np.ndarray:
    """Glorot/Xavier: U(-a, a) with a = gain * sqrt(6 / (fan_in + fan_out)).

        >>> w = xavier_uniform((4, 2), np.random.default_rng(0))
        >>> w.shape, bool(np.abs(w).max() <= 1.0)  # a = sqrt(6 / 6)
        ((4, 2), True)
    """
    rng = rng if rng is not None else _default_rng
    gain = 1.0 if gain is None else gain
    bound = gain * math.sqrt(6.0 / (shape[0] + shape[-1]))
    return rng.uniform(-bound, bound, shape)


def orthogonal(shape, rng=None, gain: float | None = None) -> np.ndarray:
    """Orthogonal rows or columns scaled by `gain` (the PPO implementations' choice).

        >>> w = orthogonal((4, 3), np.random.default_rng(0), gain=2.0)
        >>> np.allclose(w.T @ w, 4 * np.eye(3))
        True
    """
    rng = rng if rng is not None else _default_rng
    gain = 1.0 if gain is None else gain
    rows, cols = shape[0], int(np.prod(shape[1:]))
    q, r = np.linalg.qr(rng.standard_normal((max(rows, cols), min(rows, cols))))
    q = q * np.sign(np.diag(r))  # makes the distribution uniform over orthogonal matrices
    if rows < cols:
        q = q.T
    return gain * q.reshape(shape)


SCHEMES = {"he": he_normal, "xavier": xavier_uniform, "orthogonal": orthogonal}


def weight(shape, scheme: str = "he", rng=None, gain: float | None = None) -> np.ndarray:
    """An initial weight array by scheme name: "he", "xavier" or "orthogonal".

        >>> weight((3, 2), "orthogonal", np.random.default_rng(0)).shape
        (3, 2)
        >>> weight((3, 2), "glorot")
        Traceback (most recent call last):
        ...
        ValueError: unknown init scheme 'glorot'; choose one of ['he', 'orthogonal', 'xavier']
    """
    try:
        initializer = SCHEMES[scheme]
    except KeyError:
        raise ValueError(f"unknown init scheme {scheme!r}; choose one of {sorted(SCHEMES)}") from None
    return initializer(shape, rng, gain)
