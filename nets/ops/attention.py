"""Scaled dot-product attention: softmax(q k^T / sqrt(head_dim), masked) v."""

from __future__ import annotations

import math

import numpy as np

from . import softmax as softmax_ops


def attention_weights(q, k, mask=None, every_row_sees_a_key=False):
    """softmax(q k^T / sqrt(head_dim)) over the keys where `mask` (broadcastable to (..., T, T)) is True.

    A query whose keys are all masked gets all-zero weights (so output 0), not NaN.
    `every_row_sees_a_key=True` says the mask leaves each query a key (a causal mask
    does: the diagonal), which skips the guard for such rows.
    """
    scores = q @ k.swapaxes(-1, -2)                 # (..., T, T)
    scores *= 1 / math.sqrt(q.shape[-1])
    if mask is not None:
        # Adding 0 or -inf is several times faster than selecting with np.where or copyto on the
        # (..., T, T) scores, and the (T, T) or (B, 1, T, T) term is small.
        scores += np.where(mask, scores.dtype.type(0), scores.dtype.type(-np.inf))
    guard = mask is not None and not every_row_sees_a_key
    return softmax_ops.softmax(scores, masked_rows_zero=guard, out=scores)[0]


def attention(q, k, v, mask=None, every_row_sees_a_key=False):
    """(output (..., T, head_dim), saved); saved[3] are the attention weights (..., T, T)."""
    weights = attention_weights(q, k, mask, every_row_sees_a_key)
    return weights @ v, (q, k, v, weights)


def attention_backward(saved, g):
    """(d q, d k, d v): matmul's backward, softmax's, then the 1 / sqrt(head_dim) scale."""
    q, k, v, weights = saved
    dv = weights.swapaxes(-1, -2) @ g
    d_scores = softmax_ops.softmax_backward((weights, -1), g @ v.swapaxes(-1, -2))
    d_scores *= 1 / math.sqrt(q.shape[-1])
    return d_scores @ k, d_scores.swapaxes(-1, -2) @ q, dv
