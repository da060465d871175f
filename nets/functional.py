"""Layers and losses as functions: what each computes, written in Tensor primitives.

Each function checks its arguments, then runs `kernels.dispatch(name)`: the fused
kernel of the same name (nets/kernels.py) on the fast path, or on the reading path
the `*_composed` reference written below it, which is the definition a learner
reads (and the one the kernel is tested against).
"""

from __future__ import annotations

import math

import numpy as np

from . import kernels
from .kernels import replaces
from .tensor import Tensor, _as_array, where

REDUCTIONS = ("mean", "sum", "none")


def _check_reduction(reduction: str) -> None:
    if reduction not in REDUCTIONS:
        raise ValueError(f"reduction must be 'mean', 'sum' or 'none', got {reduction!r}")


def _reduce(loss: Tensor, reduction: str) -> Tensor:
    if reduction == "mean":
        return loss.mean()
    return loss.sum() if reduction == "sum" else loss


def any_index_outside(indices: np.ndarray, n: int) -> bool:
    """Whether some integer index falls outside [0, n).

    One reduction checks both bounds: seen as unsigned, a negative index is huge.
    """
    return indices.size > 0 and bool(np.maximum.reduce(indices.astype(np.uint64, copy=False), axis=None) >= n)


# ---------------------------------------------------------------- linear layers
def linear(x: Tensor, weight: Tensor, bias: Tensor | None = None, layer=None, activation: str | None = None) -> Tensor:
    """activation(x @ weight + bias) for x of shape (..., in), weight (in, out), bias (out,).

    `activation` is None, "relu" or "tanh"; `layer` only names the layer in the shape error.
    """
    if x.data.shape[-1:] != weight.data.shape[:1]:
        raise ValueError(
            f"{layer if layer is not None else 'linear'}: input has shape {x.data.shape} but the layer expects "
            f"(..., {weight.data.shape[0]}) (weight shape {weight.data.shape}): the last input dimension must be "
            f"{weight.data.shape[0]}"
        )
    return kernels.dispatch("linear")(x, weight, bias, activation)


@replaces("linear")
def linear_composed(x: Tensor, weight: Tensor, bias: Tensor | None = None, activation: str | None = None) -> Tensor:
    y = x @ weight
    if bias is not None:
        y = y + bias
    return y if activation is None else getattr(y, activation)()


def mlp(x: Tensor, layers, activation: str) -> Tensor:
    """A stack of linear layers with `activation` ("relu" or "tanh") after every one but the last.

    `layers` are Linear modules, or anything with a `weight` of shape (in, out) and a
    `bias` of shape (out,) or None; x is (..., in).
    """
    first = layers[0].weight
    if x.data.shape[-1:] != first.data.shape[:1]:
        linear(x, first, None, layers[0])  # raises linear's shape error
    return kernels.dispatch("mlp")(x, layers, activation)


@replaces("mlp")
def mlp_composed(x: Tensor, layers, activation: str) -> Tensor:
    for layer in layers[:-1]:
        x = linear_composed(x, layer.weight, layer.bias, activation)
    return linear_composed(x, layers[-1].weight, layers[-1].bias)


# ----------------------------------------------------------------------- losses
def cross_entropy(logits: Tensor, target, reduction: str = "mean", label_smoothing: float = 0.0) -> Tensor:
    """Softmax cross-entropy over the last axis: -log softmax(logits)[target], reduced.

    `target` holds class indices (integer array of shape logits.shape[:-1]) or
    probabilities (float array of logits' shape). `label_smoothing` s trains towards
    (1 - s) target + s / classes.
    """
    z = logits.data
    if type(target) is not np.ndarray:
        target = target.data if isinstance(target, Tensor) else np.asarray(target)
    _check_reduction(reduction)
    if target.dtype.kind not in "iu":
        if target.shape != z.shape:
            raise ValueError(f"cross_entropy: probability target has shape {target.shape}, expected {z.shape}")
    elif target.shape != z.shape[:-1]:
        raise ValueError(f"cross_entropy: class-index target has shape {target.shape}, "
                         f"expected {z.shape[:-1]} for logits of shape {z.shape}")
    elif any_index_outside(target, z.shape[-1]):
        raise ValueError(f"cross_entropy: class index out of range [0, {z.shape[-1]}): "
                         f"got values from {target.min()} to {target.max()}")
    return kernels.dispatch("cross_entropy")(logits, target, reduction, label_smoothing)


@replaces("cross_entropy")
def cross_entropy_composed(logits: Tensor, target: np.ndarray, reduction: str = "mean",
                           label_smoothing: float = 0.0) -> Tensor:
    logp = logits.log_softmax(axis=-1)
    n_classes = logits.shape[-1]
    if target.dtype.kind in "iu":
        picked = -logp.gather(target[..., None], axis=-1)[..., 0]
        if not label_smoothing:
            return _reduce(picked, reduction)
        # (1 - s) * onehot + s / C: the picked term and the mean over classes
        per_item = picked * (1 - label_smoothing) - logp.sum(axis=-1) * (label_smoothing / n_classes)
        return _reduce(per_item, reduction)
    probs = target.astype(logits.dtype, copy=False)
    if label_smoothing:
        probs = probs * (1 - label_smoothing) + label_smoothing / n_classes
    return _reduce(-(logp * probs).sum(axis=-1), reduction)


def nll_loss(log_probs: Tensor, target, reduction: str = "mean") -> Tensor:
    """Negative log-likelihood of class indices given log-probabilities."""
    _check_reduction(reduction)
    target = np.asarray(target.data if isinstance(target, Tensor) else target)
    return _reduce(-log_probs.gather(target[..., None], axis=-1)[..., 0], reduction)


def _check_pair(name: str, prediction: Tensor, target, what: str = "prediction"):
    target = _as_array(target, prediction.data.dtype)
    if target.shape != prediction.shape:
        raise ValueError(f"{name}: {what} shape {prediction.shape} and target shape {target.shape} differ")
    return target


def mse_loss(prediction: Tensor, target, reduction: str = "mean") -> Tensor:
    """(prediction - target)^2, reduced."""
    _check_reduction(reduction)
    return kernels.dispatch("mse_loss")(prediction, _check_pair("mse_loss", prediction, target), reduction)


@replaces("mse_loss")
def mse_loss_composed(prediction: Tensor, target: np.ndarray, reduction: str = "mean") -> Tensor:
    diff = prediction - target
    return _reduce(diff * diff, reduction)


def huber_loss(prediction: Tensor, target, delta: float = 1.0, reduction: str = "mean") -> Tensor:
    """Quadratic within `delta` of the target, linear beyond (PyTorch's HuberLoss)."""
    _check_reduction(reduction)
    target = _check_pair("huber_loss", prediction, target)
    return kernels.dispatch("huber_loss")(prediction, target, delta, reduction)


@replaces("huber_loss")
def huber_loss_composed(prediction: Tensor, target: np.ndarray, delta: float = 1.0, reduction: str = "mean") -> Tensor:
    diff = prediction - target
    size = diff.abs()
    return _reduce(where(size <= delta, diff * diff * 0.5, (size - 0.5 * delta) * delta), reduction)


def binary_cross_entropy_with_logits(logits: Tensor, target, reduction: str = "mean") -> Tensor:
    """BCE on raw scores, stable for any logit: max(z, 0) - z y + log(1 + exp(-|z|))."""
    _check_reduction(reduction)
    target = _check_pair("binary_cross_entropy", logits, target, "logits")
    return kernels.dispatch("binary_cross_entropy_with_logits")(logits, target, reduction)


@replaces("binary_cross_entropy_with_logits")
def binary_cross_entropy_with_logits_composed(logits: Tensor, target: np.ndarray, reduction: str = "mean") -> Tensor:
    return _reduce(logits.relu() - logits * target + ((-logits.abs()).exp() + 1).log(), reduction)


def binary_cross_entropy(probs: Tensor, target, reduction: str = "mean", eps: float = 1e-7) -> Tensor:
    """BCE on probabilities in (0, 1); prefer the `_with_logits` form for stability."""
    _check_reduction(reduction)
    target = _as_array(target, probs.data.dtype)
    p = probs.clip(eps, 1 - eps)
    return _reduce(-(p.log() * target + (1 - p).log() * (1 - target)), reduction)


# ------------------------------------------------------------ transformer parts
def layer_norm(x: Tensor, weight: Tensor, bias: Tensor, eps: float = 1e-5) -> Tensor:
    """(x - mean) / sqrt(var + eps) * weight + bias over the last axis (population variance)."""
    return kernels.dispatch("layer_norm")(x, weight, bias, eps)


@replaces("layer_norm")
def layer_norm_composed(x: Tensor, weight: Tensor, bias: Tensor, eps: float = 1e-5) -> Tensor:
    centered = x - x.mean(axis=-1, keepdims=True)
    variance = (centered * centered).mean(axis=-1, keepdims=True)
    return centered / (variance + eps).sqrt() * weight + bias


def rms_norm(x: Tensor, weight: Tensor, eps: float = 1e-5) -> Tensor:
    """x / sqrt(mean(x^2) + eps) * weight over the last axis (no centering, no bias)."""
    return kernels.dispatch("rms_norm")(x, weight, eps)


@replaces("rms_norm")
def rms_norm_composed(x: Tensor, weight: Tensor, eps: float = 1e-5) -> Tensor:
    return x / ((x * x).mean(axis=-1, keepdims=True) + eps).sqrt() * weight


def attention(qkv: Tensor, mask: np.ndarray | None = None, every_row_sees_a_key: bool = False):
    """softmax(q k^T / sqrt(head_dim), masked) v for q, k, v stacked as qkv (3, ..., T, head_dim).

    `mask` is boolean, broadcastable to (..., T, T), True where query i may see key j.
    Returns (output (..., T, head_dim), attention weights (..., T, T) as an ndarray).
    A query that may see no key gets output 0 on the fast path, NaN on the reading path;
    `every_row_sees_a_key` promises there is none (a causal mask).
    """
    return kernels.dispatch("attention")(qkv, mask, every_row_sees_a_key)


@replaces("attention")
def attention_composed(qkv: Tensor, mask: np.ndarray | None = None, every_row_sees_a_key: bool = False):
    q, k, v = qkv[0], qkv[1], qkv[2]
    scores = (q @ k.transpose(-2, -1)) * (1 / math.sqrt(q.shape[-1]))  # (..., T, T)
    if mask is not None:
        scores = scores.masked_fill(~np.asarray(mask, dtype=bool), -np.inf)
    weights = scores.softmax(axis=-1)
    return weights @ v, weights.data


def embedding(ids: np.ndarray, weight: Tensor) -> Tensor:
    """Rows of `weight` (V, C) picked by integer `ids` of any shape -> ids.shape + (C,)."""
    return kernels.dispatch("embedding")(ids, weight)


@replaces("embedding")
def embedding_composed(ids: np.ndarray, weight: Tensor) -> Tensor:
    return weight[ids]  # indexing's backward adds each picked row's gradient into its row


# ---------------------------------------------------------------------- dropout
def dropout(x: Tensor, p: float, rng: np.random.Generator, training: bool = True) -> Tensor:
    """Zero each entry with probability p and scale the rest by 1/(1-p) (inverted dropout)."""
    if not 0 <= p < 1:
        raise ValueError(f"dropout probability must be in [0, 1), got {p}")
    if not training or p == 0:
        return x
    keep = (rng.random(x.shape) >= p).astype(x.dtype) / (1 - p)
    return x * keep
