"""Picking entries: NumPy indexing, gather along an axis, and embedding rows. Each backward
scatter-adds: an entry picked twice gets both gradients."""

from __future__ import annotations

import numpy as np


def index(x, key):
    return x[key], (x.shape, x.dtype, key)


def index_backward(saved, g):
    shape, dtype, key = saved
    grad = np.zeros(shape, dtype)
    if _is_basic(key):
        grad[key] = g  # ints and slices pick each position at most once: nothing to sum
    else:
        np.add.at(grad, key, g)  # add.at, not `grad[key] += g`: repeated indices must sum
    return grad


def _is_basic(key) -> bool:
    """Whether `x[key]` is NumPy basic indexing (ints, slices, ..., None): a view, no repeats."""
    parts = key if isinstance(key, tuple) else (key,)
    return all(part is None or part is Ellipsis or isinstance(part, slice)
               or (isinstance(part, (int, np.integer)) and not isinstance(part, (bool, np.bool_)))
               for part in parts)


def gather(x, index, axis=-1):
    """One entry per position along `axis` (torch.gather); `index` has the output's shape."""
    return np.take_along_axis(x, index, axis=axis), (x.shape, x.dtype, index, axis)


def gather_backward(saved, g):
    shape, dtype, index, axis = saved
    grad = np.zeros(shape, dtype)
    if index.shape[axis] == 1:  # one pick per row (log-probabilities of the actions taken): no repeats
        np.put_along_axis(grad, index, g, axis=axis)
        return grad
    grids = list(np.indices(index.shape, sparse=True))
    grids[axis % len(shape)] = index
    np.add.at(grad, tuple(grids), g)  # the same position picked twice in a row: its gradients sum
    return grad


def embedding(weight, ids):
    """Rows of `weight` (V, C) picked by integer `ids` of any shape -> ids.shape + (C,): weight[ids]."""
    return weight[ids], (weight.shape, weight.dtype, ids)


def embedding_backward(saved, g):
    """index_backward for whole rows, as sums over runs of equal sorted ids: several times
    faster than np.add.at on rows, and never a one-hot matmul."""
    shape, dtype, ids = saved
    flat_ids = ids.reshape(-1)
    order = np.argsort(flat_ids, kind="stable")
    sorted_ids = flat_ids[order]
    run_starts = np.flatnonzero(np.concatenate(([True], sorted_ids[1:] != sorted_ids[:-1])))
    grad = np.zeros(shape, dtype)
    if flat_ids.size:
        grad[sorted_ids[run_starts]] = np.add.reduceat(g.reshape(-1, shape[1])[order], run_starts, axis=0)
    return grad
