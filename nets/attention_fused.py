"""Fused ops for the transformer: one graph node each, with a hand-written backward.

A transformer built from primitive Tensor ops creates a dozen nodes per attention
layer and as many temporary arrays; for the small models RL and char-level
language modelling use, that overhead costs more than the arithmetic. Each fused
op below sits beside the same computation composed from primitive ops (the
`*_composed` functions): those are the readable definitions, and
`tests/test_nets_transformer.py` checks every fused op against them.
"""

from __future__ import annotations

import functools
import math

import numpy as np

from .tensor import Tensor


# ------------------------------------------------------------------ embedding
def embedding_composed(ids: np.ndarray, weight: Tensor) -> Tensor:
    return weight[ids]  # indexing's backward is np.add.at into the picked rows


def embedding(ids: np.ndarray, weight: Tensor) -> Tensor:
    """Rows of `weight` (V, C) picked by integer `ids` of any shape -> ids.shape + (C,).

    The backward adds each output row's gradient into the weight row it came
    from (a token seen twice gets both), never a one-hot matmul. It computes what
    np.add.at(grad, ids, out_grad) does, as sums over runs of equal sorted ids,
    which is several times faster than np.add.at on rows.
    """
    out = Tensor._result(weight.data[ids], (weight,), "embedding")
    if out.requires_grad:
        def _backward(out_grad):
            flat_ids = ids.reshape(-1)
            order = np.argsort(flat_ids, kind="stable")
            sorted_ids = flat_ids[order]
            run_starts = np.flatnonzero(np.concatenate(([True], sorted_ids[1:] != sorted_ids[:-1])))
            rows_grad = out_grad.reshape(-1, weight.data.shape[1])[order]
            grad = np.zeros_like(weight.data)
            grad[sorted_ids[run_starts]] = np.add.reduceat(rows_grad, run_starts, axis=0)
            weight._accumulate(grad)
        out._backward = _backward
    return out


# ---------------------------------------------------------------------- GELU
GELU_SCALE = math.sqrt(2 / math.pi)


def gelu_composed(x: Tensor) -> Tensor:
    return 0.5 * x * (1 + (GELU_SCALE * (x + 0.044715 * x * x * x)).tanh())


def gelu_parts(xd: np.ndarray):
    """GELU of an array, and the two intermediates its backward reuses: (y, -2u / x, 1 / sigmoid(2u)).

    Uses 0.5 (1 + tanh(u)) = sigmoid(2u): one exp instead of a slower tanh, and
    x*x*x instead of x**3 (a float power is ~50x slower than two multiplies).
    With u = c (x + 0.044715 x^3), c = sqrt(2 / pi).
    """
    slope = xd * xd
    slope *= -2 * 0.044715 * GELU_SCALE
    slope -= 2 * GELU_SCALE                        # -2u / x = -2c (1 + 0.044715 x^2)
    denominator = xd * slope                       # -2u
    with np.errstate(over="ignore"):               # exp overflows to inf for x << 0: GELU is then 0
        np.exp(denominator, out=denominator)
    denominator += 1                               # 1 / sigmoid(2u), and sigmoid(2u) = 0.5 (1 + tanh(u))
    return xd / denominator, slope, denominator


def gelu(x: Tensor) -> Tensor:
    """GELU, tanh approximation (PyTorch's approximate='tanh')."""
    xd = x.data
    y, slope, denominator = gelu_parts(xd)
    out = Tensor._result(y, (x,), "gelu")
    if out.requires_grad:
        def _backward(out_grad):
            gate = np.reciprocal(denominator)
            # d/dx [x sigmoid(2u)] = s + 2 x s (1 - s) du/dx, du/dx = c (1 + 3 * 0.044715 x^2)
            du_dx = slope * -1.5
            du_dx -= 2 * GELU_SCALE                 # 3 c (1 + 0.044715 x^2) - 2c = c (1 + 3 * 0.044715 x^2)
            local = 1 - gate
            local *= xd
            local *= du_dx
            local *= 2
            local += 1
            local *= gate
            local *= out_grad
            x._accumulate(local)
        out._backward = _backward
    return out


# ---------------------------------------------------------------- layer norm
def layer_norm_composed(x: Tensor, weight: Tensor, bias: Tensor, eps: float) -> Tensor:
    centered = x - x.mean(axis=-1, keepdims=True)
    variance = (centered * centered).mean(axis=-1, keepdims=True)
    return centered / (variance + eps).sqrt() * weight + bias


@functools.lru_cache(maxsize=32)
def _summing_column(n: int, mean: bool, dtype) -> np.ndarray:
    column = np.full((n, 1), 1 / n if mean else 1, dtype=dtype)
    column.flags.writeable = False  # shared by every caller through the cache
    return column


def _row_sum(a: np.ndarray, mean: bool = False) -> np.ndarray:
    """Sum (or mean) over the last axis, kept as a size-1 axis, as a product with a constant column.

    NumPy reduces a short last axis one row at a time; for the rows of a small
    transformer (64 features, 32 keys) BLAS needs 2-4x fewer instructions.
    """
    column = _summing_column(a.shape[-1], mean, a.dtype)
    if a.ndim <= 2:
        return a.dot(column)  # ndarray.dot dispatches to BLAS faster than the matmul ufunc
    return a.reshape(-1, a.shape[-1]).dot(column).reshape(a.shape[:-1] + (1,))


def normalize(xd: np.ndarray, eps: float):
    """Layer norm before its scale and shift: (x_hat = (x - mean) / sqrt(var + eps), 1 / sqrt(var + eps))."""
    normalized = xd - _row_sum(xd, mean=True)          # centered, normalized in place below
    inv_std = _row_sum(normalized * normalized, mean=True)
    inv_std += eps
    np.sqrt(inv_std, out=inv_std)
    np.reciprocal(inv_std, out=inv_std)
    normalized *= inv_std
    return normalized, inv_std


def layer_norm(x: Tensor, weight: Tensor, bias: Tensor, eps: float) -> Tensor:
    """(x - mean) / sqrt(var + eps) * weight + bias over the last axis (population variance)."""
    normalized, inv_std = normalize(x.data, eps)
    y = normalized * weight.data
    y += bias.data
    out = Tensor._result(y, (x, weight, bias), "layer_norm")
    if out.requires_grad:
        def _backward(out_grad):
            g = out_grad
            rows_g = g.reshape(-1, g.shape[-1])
            if weight.requires_grad:
                weight._accumulate(np.einsum("ij,ij->j", rows_g, normalized.reshape(rows_g.shape)))
            if bias.requires_grad:
                bias._accumulate(np.add.reduce(rows_g, axis=0))
            if x.requires_grad:
                # d/dx of the normalization: remove the gradient's mean and its component along x_hat
                g_hat = g * weight.data
                dx = g_hat - _row_sum(g_hat, mean=True)
                g_hat *= normalized
                dx -= normalized * _row_sum(g_hat, mean=True)
                dx *= inv_std
                x._accumulate(dx)
        out._backward = _backward
    return out


# ------------------------------------------------------------------ RMS norm
def rms_norm_composed(x: Tensor, weight: Tensor, eps: float) -> Tensor:
    return x / ((x * x).mean(axis=-1, keepdims=True) + eps).sqrt() * weight


def rms_normalize(xd: np.ndarray, eps: float):
    """RMS norm before its scale: (x / rms, 1 / rms) with rms = sqrt(mean(x^2) + eps)."""
    inv_rms = _row_sum(xd * xd, mean=True)
    inv_rms += eps
    np.sqrt(inv_rms, out=inv_rms)
    np.reciprocal(inv_rms, out=inv_rms)
    return xd * inv_rms, inv_rms


def rms_norm(x: Tensor, weight: Tensor, eps: float) -> Tensor:
    """x / sqrt(mean(x^2) + eps) * weight over the last axis (no centering, no bias)."""
    normalized, inv_rms = rms_normalize(x.data, eps)
    y = normalized * weight.data
    out = Tensor._result(y, (x, weight), "rms_norm")
    if out.requires_grad:
        def _backward(out_grad):
            g = out_grad
            if weight.requires_grad:
                weight._accumulate(np.add.reduce((g * normalized).reshape(-1, g.shape[-1]), axis=0))
            if x.requires_grad:
                g_hat = g * weight.data
                dx = g_hat - normalized * _row_sum(g_hat * normalized, mean=True)
                dx *= inv_rms
                x._accumulate(dx)
        out._backward = _backward
    return out


# ----------------------------------------------------------------- attention
def attention_composed(qkv: Tensor, mask: np.ndarray | None = None):
    """softmax(q k^T / sqrt(head_dim), masked) v for qkv stacked as (3, ..., T, head_dim).

    `mask` is boolean, broadcastable to (..., T, T), True where query i may see key j.
    Returns (output (..., T, head_dim), attention weights (..., T, T) as an ndarray).
    Every query must see at least one key (a fully masked row is NaN here).
    """
    q, k, v = qkv[0], qkv[1], qkv[2]
    scores = (q @ k.transpose(-2, -1)) * (1 / math.sqrt(q.shape[-1]))  # (..., T, T)
    if mask is not None:
        scores = scores.masked_fill(~np.asarray(mask, dtype=bool), -np.inf)
    weights = scores.softmax(axis=-1)
    return weights @ v, weights.data


def attention_weights(q: np.ndarray, k: np.ndarray, mask: np.ndarray | None = None,
                      every_row_sees_a_key: bool = False) -> np.ndarray:
    """softmax(q k^T / sqrt(head_dim)) over keys, where `mask` is True.

    A query whose keys are all masked gets all-zero weights (so output 0), not NaN.
    `every_row_sees_a_key=True` says the mask leaves each query a key (a causal
    mask does: the diagonal), which skips the two guards for such rows.
    """
    scores = q @ k.swapaxes(-1, -2)  # (..., T, T)
    scores *= 1 / math.sqrt(q.shape[-1])
    if mask is not None:
        # Adding 0 or -inf is several times faster than selecting with np.where or copyto on the
        # (..., T, T) scores, and the (T, T) or (B, 1, T, T) term is small.
        scores += np.where(mask, scores.dtype.type(0), scores.dtype.type(-np.inf))
    guard = mask is not None and not every_row_sees_a_key
    row_max = np.maximum.reduce(scores, axis=-1, keepdims=True)
    if guard:
        # A fully masked row has max -inf, and -inf - -inf is NaN. With a finite floor its exps are
        # all 0; raising the totals to at least 1 below then keeps that row at 0 and changes no
        # other row (their largest term is exp(0) = 1).
        np.maximum(row_max, -1e30, out=row_max)
    scores -= row_max
    weights = np.exp(scores, out=scores)
    totals = _row_sum(weights)
    if guard:
        np.maximum(totals, 1, out=totals)
    weights /= totals
    return weights


def attention(qkv: Tensor, mask: np.ndarray | None = None, every_row_sees_a_key: bool = False):
    """Fused `attention_composed`: one node, with the backward of matmul, softmax and matmul.

    Masks and `every_row_sees_a_key` work as in `attention_weights`. The returned
    weights are read-only: the backward uses them.
    """
    data = qkv.data
    q, k, v = data[0], data[1], data[2]
    scale = 1 / math.sqrt(q.shape[-1])
    weights = attention_weights(q, k, mask, every_row_sees_a_key)
    weights.flags.writeable = False
    out = Tensor._result(weights @ v, (qkv,), "attention")
    if out.requires_grad:
        def _backward(out_grad):
            g = out_grad                                  # (..., T, head_dim)
            grad = np.empty_like(data)                    # (3, ..., T, head_dim): dq, dk, dv
            np.matmul(weights.swapaxes(-1, -2), g, out=grad[2])
            d_weights = g @ v.swapaxes(-1, -2)            # (..., T, T)
            # softmax backward: ds = p * (dp - sum_j p_j dp_j), then the 1/sqrt(d) scale
            d_weights -= _row_sum(d_weights * weights)
            d_weights *= weights
            d_weights *= scale
            np.matmul(d_weights, k, out=grad[0])
            np.matmul(d_weights.swapaxes(-1, -2), q, out=grad[1])
            qkv._accumulate(grad)
        out._backward = _backward
    return out, weights
