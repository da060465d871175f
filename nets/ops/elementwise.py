"""Elementwise functions of one array (and power, of two)."""

from __future__ import annotations

import numpy as np

from .broadcast import unbroadcast


def exp(x):
    y = np.exp(x)
    return y, y


def exp_backward(y, g):
    return g * y  # d e^x = e^x


def log(x):
    return np.log(x), x


def log_backward(x, g):
    return g / x


def sqrt(x):
    y = np.sqrt(x)
    return y, y


def sqrt_backward(y, g):
    return g * 0.5 / y


def abs(x):  # noqa: A001 - the op's name
    return np.abs(x), x


def abs_backward(x, g):
    return g * np.sign(x)  # 0 at 0, as PyTorch


def clip(x, low=None, high=None):
    """Clamp to [low, high] (None: no bound); the gradient passes where x was inside, bounds included."""
    return np.clip(x, low, high), (x, low, high)


def clip_backward(saved, g):
    x, low, high = saved
    inside = np.ones(x.shape, dtype=bool)
    if low is not None:
        inside &= x >= low
    if high is not None:
        inside &= x <= high
    return g * inside


def power_base_grad(base: np.ndarray, exponent) -> np.ndarray:
    """d(base ** exponent) / d base = exponent * base ** (exponent - 1), and 0 where the exponent is 0
    (PyTorch's convention: x ** 0 is the constant 1 even at x = 0, where the formula gives 0 * inf)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        local = exponent * base ** (exponent - 1)
    return np.where(exponent == 0, 0, local).astype(base.dtype, copy=False)


def power(base, exponent):
    """base ** exponent with broadcasting, NumPy's power: 0 ** 0 = 1, (-2) ** 3 = -8, (-2) ** 0.5 = NaN."""
    y = np.power(base, exponent)
    return y, (base, exponent, y)


def power_backward(saved, g):
    """(d base, d exponent). d/d exponent = y log(base), taken as 0 where base is 0 and the
    exponent >= 0 (PyTorch: the power is flat at 0 or 1 from the side where it is defined)."""
    base, exponent, y = saved
    with np.errstate(divide="ignore", invalid="ignore"):
        d_exponent = np.where((base == 0) & (exponent >= 0), 0, y * np.log(base))
    d_base = g * power_base_grad(base, exponent)
    d_exponent = g * d_exponent.astype(y.dtype, copy=False)
    return (unbroadcast(d_base, np.shape(base)), unbroadcast(d_exponent, np.shape(exponent)))
