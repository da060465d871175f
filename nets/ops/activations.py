"""Activation functions. Each forward takes `out=` so a fused layer can activate in place.

relu, tanh and sigmoid save their output (their derivative is a function of it);
gelu saves its input and an intermediate.
"""

from __future__ import annotations

import math

import numpy as np


def relu(x, out=None):
    y = np.maximum(x, 0, out=out)
    return y, y


def relu_backward(y, g):
    return g * (y > 0)


def tanh(x, out=None):
    y = np.tanh(x, out=out)
    return y, y


def tanh_backward(y, g):
    return g * (1 - y * y)


def sigmoid(x, out=None):
    """1 / (1 + e^-x), computed from e^-|x| so that exp never overflows."""
    e = np.exp(-np.abs(x))
    y = np.where(x >= 0, 1 / (1 + e), e / (1 + e)).astype(x.dtype, copy=False)
    if out is not None:
        out[...] = y
        y = out
    return y, y


def sigmoid_backward(y, g):
    return g * y * (1 - y)


GELU_C = math.sqrt(2 / math.pi)


def gelu(x, out=None):
    """GELU, tanh approximation (PyTorch's `approximate='tanh'`):
    0.5 x (1 + tanh(u)), u = sqrt(2/pi) (x + 0.044715 x^3).

    Computed as x * sigmoid(2u), the same function (0.5 (1 + tanh u) = sigmoid(2u)) with one exp
    instead of a slower tanh; x * x * x instead of x ** 3 (a float power is far slower).
    """
    if x.ndim == 0:  # NumPy makes 0-d products scalars, which the in-place steps below cannot write
        y, (_, slope, denominator) = gelu(x.reshape(1), None if out is None else out.reshape(1))
        return y.reshape(()), (x, slope, denominator)
    slope = x * x
    slope *= -2 * 0.044715 * GELU_C
    slope -= 2 * GELU_C                             # -2u / x = -2c (1 + 0.044715 x^2)
    denominator = x * slope                         # -2u
    with np.errstate(over="ignore"):                # exp overflows to inf for x << 0: GELU is then 0
        np.exp(denominator, out=denominator)
    denominator += 1                                # 1 + e^(-2u) = 1 / sigmoid(2u)
    y = np.divide(x, denominator, out=out)
    return y, (x, slope, denominator)


def gelu_backward(saved, g):
    """d/dx [x s] = s + 2 x s (1 - s) du/dx with s = sigmoid(2u), du/dx = c (1 + 3 * 0.044715 x^2)."""
    x, slope, denominator = saved
    if x.ndim == 0:
        return gelu_backward((x.reshape(1), slope, denominator), np.reshape(g, 1)).reshape(())
    s = np.reciprocal(denominator)
    du_dx = slope * -1.5
    du_dx -= 2 * GELU_C                             # 3c (1 + 0.044715 x^2) - 2c = c (1 + 3 * 0.044715 x^2)
    local = 1 - s
    local *= x
    local *= du_dx
    local *= 2
    local += 1
    local *= s
    local *= g
    return local


# name -> (forward, backward), for layers that take an activation by name
ACTIVATIONS = {
    "relu": (relu, relu_backward),
    "tanh": (tanh, tanh_backward),
    "sigmoid": (sigmoid, sigmoid_backward),
    "gelu": (gelu, gelu_backward),
}


def identity(x, out=None):
    if out is not None and out is not x:
        out[...] = x
        return out, None
    return x, None


def identity_backward(saved, g):
    return g


ACTIVATIONS["identity"] = (identity, identity_backward)
