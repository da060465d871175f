"""Matrix products: matmul with NumPy's broadcasting rules, and the linear layer x @ W + b."""

from __future__ import annotations

import numpy as np

from .broadcast import unbroadcast


def matmul(a, b):
    return a @ b, (a, b)


def matmul_backward(saved, g):
    """(d a, d b) = (g @ b^T, a^T @ g), summed over broadcast batch axes.

    1-D operands are lifted to matrices (a row, b a column) so one formula covers every case.
    """
    a, b = saved
    a2 = a[None, :] if a.ndim == 1 else a
    b2 = b[:, None] if b.ndim == 1 else b
    if b.ndim == 1:  # first: a vector @ vector gradient is 0-d and needs this axis
        g = np.expand_dims(g, -1)
    if a.ndim == 1:
        g = np.expand_dims(g, -2)
    da = unbroadcast(g @ np.swapaxes(b2, -1, -2), a2.shape).reshape(a.shape)
    db = unbroadcast(np.swapaxes(a2, -1, -2) @ g, b2.shape).reshape(b.shape)
    return da, db


def linear(x, weight, bias=None):
    """x @ weight + bias for x (..., in), weight (in, out), bias (out,) or None.

    The leading axes are flattened into rows first: one 2-D product (ndarray.dot, the
    cheapest BLAS call NumPy has) beats a stacked matmul on small matrices.
    """
    rows = x if x.ndim <= 2 else x.reshape(-1, x.shape[-1])  # one observation (1-D) needs no reshape
    y = rows.dot(weight)
    if bias is not None:
        y += bias
    if x.ndim > 2:
        y = y.reshape(x.shape[:-1] + weight.shape[1:])
    return y, (rows, weight, x.shape, bias is not None)


def linear_backward(saved, g, need_x: bool = True):
    """(d x, d weight, d bias): g @ W^T, rows^T @ g and g summed over rows (None without a bias).

    `need_x=False` skips d x (None), the largest product when x is a batch of observations.
    """
    rows, weight, x_shape, has_bias = saved
    rows = rows if rows.ndim == 2 else rows[None]
    g_rows = g if g.ndim == 2 else g.reshape(-1, g.shape[-1])
    d_x = g_rows.dot(weight.T) if need_x else None
    if need_x and len(x_shape) != 2:
        d_x = d_x.reshape(x_shape)
    return d_x, rows.T.dot(g_rows), np.add.reduce(g_rows, axis=0) if has_bias else None
