"""Weight initializers. Each takes a `numpy.random.Generator`; without one they
draw from this module's generator, which `manual_seed` resets (never global np.random)."""

from __future__ import annotations

import math

import numpy as np

_default_rng = np.random.default_rng()


def manual_seed(seed: int) -> None:
    """Seed the generator used by layers built without an explicit `rng`."""
    global _default_rng
    _default_rng = np.random.default_rng(seed)


def default_rng() -> np.random.Generator:
    return _default_rng


def he_normal(shape, rng=None, gain: float | None = None) -> np.ndarray:
    """Kaiming/He: std = gain / sqrt(fan_in), gain sqrt(2) for ReLU."""
    rng = rng if rng is not None else _default_rng
    gain = math.sqrt(2.0) if gain is None else gain
    return rng.standard_normal(shape) * (gain / math.sqrt(shape[0]))


def xavier_uniform(shape, rng=None, gain: float | None = None) -> np.ndarray:
    """Glorot/Xavier: U(-a, a) with a = gain * sqrt(6 / (fan_in + fan_out))."""
    rng = rng if rng is not None else _default_rng
    gain = 1.0 if gain is None else gain
    bound = gain * math.sqrt(6.0 / (shape[0] + shape[-1]))
    return rng.uniform(-bound, bound, shape)


def orthogonal(shape, rng=None, gain: float | None = None) -> np.ndarray:
    """Orthogonal rows or columns scaled by `gain` (the PPO implementations' choice)."""
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
    try:
        initializer = SCHEMES[scheme]
    except KeyError:
        raise ValueError(f"unknown init scheme {scheme!r}; choose one of {sorted(SCHEMES)}") from None
    return initializer(shape, rng, gain)
