"""Broadcasting's one owner: summing a gradient back to the shape of the input it belongs to."""

from __future__ import annotations

import numpy as np


def unbroadcast(grad: np.ndarray, shape: tuple) -> np.ndarray:
    """Sum `grad` down to `shape`, undoing NumPy broadcasting: the extra leading axes, then the size-1 axes.

        >>> unbroadcast(np.ones((4, 2, 3)), (1, 3))  # a (1, 3) bias added to a (4, 2, 3) batch
        array([[8., 8., 8.]])
    """
    if grad.shape == shape:
        return grad
    extra = grad.ndim - len(shape)
    if extra > 0:
        grad = grad.sum(axis=tuple(range(extra)))
    kept_ones = tuple(i for i, n in enumerate(shape) if n == 1 and grad.shape[i] != 1)
    if kept_ones:
        grad = grad.sum(axis=kept_ones, keepdims=True)
    return grad
