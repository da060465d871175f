"""Reductions over axes: sum, mean, max (min is max of the negation)."""

from __future__ import annotations

import functools
import math

import numpy as np


def _expand(g, shape, axis, keepdims):
    """The reduced gradient with the reduced axes put back as size 1, ready to broadcast to `shape`."""
    if keepdims or axis is None or not len(shape):
        return g
    return np.expand_dims(g, axis)


def sum(x, axis=None, keepdims=False):  # noqa: A001 - the op's name
    return np.asarray(x.sum(axis=axis, keepdims=keepdims)), (x.shape, axis, keepdims)


def sum_backward(saved, g):
    shape, axis, keepdims = saved
    return np.broadcast_to(_expand(g, shape, axis, keepdims), shape).copy()


def count(shape, axis) -> int:
    """How many elements a reduction over `axis` combines into each output."""
    if axis is None or not len(shape):
        return math.prod(shape)
    return math.prod(shape[a] for a in ((axis,) if isinstance(axis, int) else axis))


def mean(x, axis=None, keepdims=False):
    """Mean over `axis`; over no elements it is NaN (as NumPy and PyTorch)."""
    n = count(x.shape, axis)
    total = np.asarray(x.sum(axis=axis, keepdims=keepdims))
    scale = 1.0 / n if n else np.nan
    return (total * scale).astype(x.dtype, copy=False), (x.shape, axis, keepdims, scale)


def mean_backward(saved, g):
    shape, axis, keepdims, scale = saved
    return np.broadcast_to(_expand(g * scale, shape, axis, keepdims), shape).astype(g.dtype)


def max(x, axis=None, keepdims=False):  # noqa: A001 - the op's name
    y = np.asarray(x.max(axis=axis, keepdims=keepdims))
    return y, (x, y, axis, keepdims)


def max_backward(saved, g):
    """The gradient goes to the maxima, split evenly between ties."""
    x, y, axis, keepdims = saved
    winners = x == _expand(y, x.shape, axis, keepdims)
    ties = winners.sum(axis=axis, keepdims=True).astype(x.dtype)  # an int count would promote to float64
    return winners * (_expand(g, x.shape, axis, keepdims) / ties)


@functools.lru_cache(maxsize=32)
def _summing_column(n: int, mean: bool, dtype) -> np.ndarray:
    column = np.full((n, 1), 1 / n if mean else 1, dtype=dtype)
    column.flags.writeable = False  # shared by every caller through the cache
    return column


def row_sum(a: np.ndarray, mean: bool = False) -> np.ndarray:
    """sum (or mean) over the last axis, kept as a size-1 axis: `sum(a, -1, keepdims=True)`, faster.

    It is a product with a constant column: NumPy reduces a short last axis one row at a time,
    and for the rows of a small transformer (64 features, 32 keys) BLAS needs 2-4x fewer
    instructions. Forward-only: callers differentiate it as the sum it is.
    """
    column = _summing_column(a.shape[-1], mean, a.dtype)
    if a.ndim <= 2:
        return a.dot(column)  # ndarray.dot dispatches to BLAS faster than the matmul ufunc
    return a.reshape(-1, a.shape[-1]).dot(column).reshape(a.shape[:-1] + (1,))
