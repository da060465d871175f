"""softmax and log_softmax over one axis, shifted by the maximum so exp never overflows."""

from __future__ import annotations

import numpy as np

from .reductions import row_sum


def _sum(a, axis):
    return row_sum(a) if axis == -1 or axis == a.ndim - 1 else np.add.reduce(a, axis=axis, keepdims=True)


def shifted_exp(z, axis=-1):
    """(z - max z, exp of it, the exp's sum), the parts softmax and log_softmax share."""
    shifted = z - np.maximum.reduce(z, axis=axis, keepdims=True, initial=-np.inf)
    e = np.exp(shifted)
    return shifted, e, np.add.reduce(e, axis=axis, keepdims=True)


def softmax(z, axis=-1, masked_rows_zero=False, out=None):
    """exp(z - max z) / sum. `out=z` computes in place.

    A row whose entries are all -inf (a query that may see no key) is NaN, as in PyTorch;
    with `masked_rows_zero` it is all zeros instead.
    """
    row_max = np.maximum.reduce(z, axis=axis, keepdims=True, initial=-np.inf)
    if masked_rows_zero:
        # -inf - -inf is NaN: with a finite floor the row's exps are all 0, and raising the
        # totals to at least 1 below keeps it 0 while changing no other row (its largest exp is 1).
        np.maximum(row_max, -1e30, out=row_max)
    p = np.subtract(z, row_max, out=out)
    np.exp(p, out=p)
    total = _sum(p, axis)
    if masked_rows_zero:
        np.maximum(total, 1, out=total)
    p /= total
    return p, (p, axis)


def softmax_backward(saved, g):
    """dz = p * (g - sum(g * p)): the Jacobian diag(p) - p p^T applied to g."""
    p, axis = saved
    dz = g - _sum(g * p, axis)
    dz *= p
    return dz


def log_softmax(z, axis=-1):
    """z - logsumexp(z): stable for any logits, never the log of a softmax."""
    if not z.shape[axis]:  # over no classes: nothing to normalize (and log 0 would warn)
        return z.copy(), (z, axis)
    shifted, _, total = shifted_exp(z, axis)
    logp = shifted - np.log(total)
    return logp, (logp, axis)


def log_softmax_backward(saved, g):
    """dz = g - softmax * sum(g)."""
    logp, axis = saved
    return g - np.exp(logp) * g.sum(axis=axis, keepdims=True)
