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

__all__ = [
    "linear", "linear_composed", "mlp", "mlp_composed", "cross_entropy", "cross_entropy_composed", "nll_loss",
    "mse_loss", "mse_loss_composed", "huber_loss", "huber_loss_composed", "binary_cross_entropy_with_logits",
    "binary_cross_entropy_with_logits_composed", "binary_cross_entropy", "layer_norm", "layer_norm_composed",
    "rms_norm", "rms_norm_composed", "attention", "attention_composed", "embedding", "embedding_composed", "dropout",
]

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

        >>> from rl_scratch.nets import F, Tensor
        >>> F.linear(Tensor([[1.0, 2.0]]), Tensor([[1.0, -1.0], [1.0, -1.0]]), Tensor([0.5, 0.5]), activation="relu")
        Tensor([[3.5 0. ]], dtype=float32)
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
    """The reading path of `linear`: the same math in Tensor primitives (what `reading_path()` runs).

        >>> from rl_scratch.nets import F, Tensor
        >>> x, w = Tensor(np.ones((2, 3))), Tensor(np.eye(3))
        >>> np.allclose(F.linear_composed(x, w, activation='tanh').numpy(), F.linear(x, w, activation='tanh').numpy())
        True
    """
    y = x @ weight
    if bias is not None:
        y = y + bias
    return y if activation is None else getattr(y, activation)()


def mlp(x: Tensor, layers, activation: str) -> Tensor:
    """A stack of linear layers with `activation` ("relu" or "tanh") after every one but the last.

    `layers` are Linear modules, or anything with a `weight` of shape (in, out) and a
    `bias` of shape (out,) or None; x is (..., in).

        >>> from rl_scratch.nets import F, MLP, Tensor
        >>> net = MLP([4, 8, 2], rng=np.random.default_rng(0))
        >>> F.mlp(Tensor(np.ones((3, 4))), net.layers, "tanh").shape
        (3, 2)
    """
    first = layers[0].weight
    if x.data.shape[-1:] != first.data.shape[:1]:
        linear(x, first, None, layers[0])  # raises linear's shape error
    return kernels.dispatch("mlp")(x, layers, activation)


@replaces("mlp")
def mlp_composed(x: Tensor, layers, activation: str) -> Tensor:
    """The reading path of `mlp`: the same math in Tensor primitives (what `reading_path()` runs).

        >>> from rl_scratch.nets import F, Tensor
        >>> from rl_scratch.nets import MLP
        >>> net = MLP([4, 8, 2], rng=np.random.default_rng(0))
        >>> np.allclose(F.mlp_composed(Tensor(np.ones((2, 4))), net.layers, 'relu').numpy(), F.mlp(Tensor(np.ones((2, 4))), net.layers, 'relu').numpy())
        True
    """
    for layer in layers[:-1]:
        x = linear_composed(x, layer.weight, layer.bias, activation)
    return linear_composed(x, layers[-1].weight, layers[-1].bias)


# ----------------------------------------------------------------------- losses
def cross_entropy(logits: Tensor, target, reduction: str = "mean", label_smoothing: float = 0.0) -> Tensor:
    """Softmax cross-entropy over the last axis: -log softmax(logits)[target], reduced.

    `target` holds class indices (integer array of shape logits.shape[:-1]) or
    probabilities (float array of logits' shape). `label_smoothing` s trains towards
    (1 - s) target + s / classes.

        >>> from rl_scratch.nets import F, Tensor
        >>> logits = Tensor([[0.0, 0.0], [0.0, 0.0]], requires_grad=True)
        >>> loss = F.cross_entropy(logits, np.array([0, 1]))
        >>> round(loss.item(), 4)  # log 2: uniform over two classes
        0.6931
        >>> loss.backward(); logits.grad.tolist()
        [[-0.25, 0.25], [0.25, -0.25]]
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
    """The reading path of `cross_entropy`: the same math in Tensor primitives (what `reading_path()` runs).

        >>> from rl_scratch.nets import F, Tensor
        >>> logits = Tensor(np.random.default_rng(0).normal(size=(2, 3)))
        >>> np.allclose(F.cross_entropy_composed(logits, np.array([0, 2]), 'mean', 0.1).numpy(), F.cross_entropy(logits, np.array([0, 2]), 'mean', 0.1).numpy())
        True
    """
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
    """Negative log-likelihood of class indices given log-probabilities.

        >>> from rl_scratch.nets import F, Tensor
        >>> F.nll_loss(Tensor([[0.25, 0.75]]).log(), np.array([1]), reduction="none").exp()
        Tensor([1.3333], dtype=float32)
    """
    _check_reduction(reduction)
    target = np.asarray(target.data if isinstance(target, Tensor) else target)
    return _reduce(-log_probs.gather(target[..., None], axis=-1)[..., 0], reduction)


def _check_pair(name: str, prediction: Tensor, target, what: str = "prediction"):
    target = _as_array(target, prediction.data.dtype)
    if target.shape != prediction.shape:
        raise ValueError(f"{name}: {what} shape {prediction.shape} and target shape {target.shape} differ")
    return target


def mse_loss(prediction: Tensor, target, reduction: str = "mean") -> Tensor:
    """(prediction - target)^2, reduced ("mean", "sum" or "none").

        >>> from rl_scratch.nets import F, Tensor
        >>> F.mse_loss(Tensor([1.0, 2.0]), np.array([0.0, 4.0]), reduction="sum")
        Tensor(5., dtype=float32)
    """
    _check_reduction(reduction)
    return kernels.dispatch("mse_loss")(prediction, _check_pair("mse_loss", prediction, target), reduction)


@replaces("mse_loss")
def mse_loss_composed(prediction: Tensor, target: np.ndarray, reduction: str = "mean") -> Tensor:
    """The reading path of `mse_loss`: the same math in Tensor primitives (what `reading_path()` runs).

        >>> from rl_scratch.nets import F, Tensor
        >>> np.allclose(F.mse_loss_composed(Tensor([1.0, 2.0]), np.array([0.0, 0.0])).numpy(), F.mse_loss(Tensor([1.0, 2.0]), np.array([0.0, 0.0])).numpy())
        True
    """
    diff = prediction - target
    return _reduce(diff * diff, reduction)


def huber_loss(prediction: Tensor, target, delta: float = 1.0, reduction: str = "mean") -> Tensor:
    """Quadratic within `delta` of the target, linear beyond (PyTorch's HuberLoss).

        >>> from rl_scratch.nets import F, Tensor
        >>> F.huber_loss(Tensor([0.5, 3.0]), np.zeros(2), reduction="none")
        Tensor([0.125 2.5  ], dtype=float32)
    """
    _check_reduction(reduction)
    target = _check_pair("huber_loss", prediction, target)
    return kernels.dispatch("huber_loss")(prediction, target, delta, reduction)


@replaces("huber_loss")
def huber_loss_composed(prediction: Tensor, target: np.ndarray, delta: float = 1.0, reduction: str = "mean") -> Tensor:
    """The reading path of `huber_loss`: the same math in Tensor primitives (what `reading_path()` runs).

        >>> from rl_scratch.nets import F, Tensor
        >>> np.allclose(F.huber_loss_composed(Tensor([0.5, 3.0]), np.zeros(2, np.float32)).numpy(), F.huber_loss(Tensor([0.5, 3.0]), np.zeros(2, np.float32)).numpy())
        True
    """
    diff = prediction - target
    size = diff.abs()
    return _reduce(where(size <= delta, diff * diff * 0.5, (size - 0.5 * delta) * delta), reduction)


def binary_cross_entropy_with_logits(logits: Tensor, target, reduction: str = "mean") -> Tensor:
    """BCE on raw scores, stable for any logit: max(z, 0) - z y + log(1 + exp(-|z|)).

        >>> from rl_scratch.nets import F, Tensor
        >>> F.binary_cross_entropy_with_logits(Tensor([0.0, -2.0]), np.array([1.0, 0.0]), reduction="none")
        Tensor([0.6931 0.1269], dtype=float32)
    """
    _check_reduction(reduction)
    target = _check_pair("binary_cross_entropy", logits, target, "logits")
    return kernels.dispatch("binary_cross_entropy_with_logits")(logits, target, reduction)


@replaces("binary_cross_entropy_with_logits")
def binary_cross_entropy_with_logits_composed(logits: Tensor, target: np.ndarray, reduction: str = "mean") -> Tensor:
    """The reading path of `binary_cross_entropy_with_logits`: the same math in Tensor primitives (what `reading_path()` runs).

        >>> from rl_scratch.nets import F, Tensor
        >>> np.allclose(F.binary_cross_entropy_with_logits_composed(Tensor([-2.0, 3.0]), np.array([0.0, 1.0], np.float32)).numpy(), F.binary_cross_entropy_with_logits(Tensor([-2.0, 3.0]), np.array([0.0, 1.0], np.float32)).numpy())
        True
    """
    return _reduce(logits.relu() - logits * target + ((-logits.abs()).exp() + 1).log(), reduction)


def binary_cross_entropy(probs: Tensor, target, reduction: str = "mean", eps: float = 1e-7) -> Tensor:
    """BCE on probabilities in (0, 1); prefer the `_with_logits` form for stability.

        >>> from rl_scratch.nets import F, Tensor
        >>> round(F.binary_cross_entropy(Tensor([0.5, 0.5]), np.array([0.0, 1.0])).item(), 4)
        0.6931
    """
    _check_reduction(reduction)
    target = _as_array(target, probs.data.dtype)
    p = probs.clip(eps, 1 - eps)
    return _reduce(-(p.log() * target + (1 - p).log() * (1 - target)), reduction)


# ------------------------------------------------------------ transformer parts
def layer_norm(x: Tensor, weight: Tensor, bias: Tensor, eps: float = 1e-5) -> Tensor:
    """(x - mean) / sqrt(var + eps) * weight + bias over the last axis (population variance).

        >>> from rl_scratch.nets import F, Tensor
        >>> F.layer_norm(Tensor([[1.0, 3.0]]), Tensor([1.0, 1.0]), Tensor([0.0, 0.0]))
        Tensor([[-1.  1.]], dtype=float32)
    """
    return kernels.dispatch("layer_norm")(x, weight, bias, eps)


@replaces("layer_norm")
def layer_norm_composed(x: Tensor, weight: Tensor, bias: Tensor, eps: float = 1e-5) -> Tensor:
    """The reading path of `layer_norm`: the same math in Tensor primitives (what `reading_path()` runs).

        >>> from rl_scratch.nets import F, Tensor
        >>> np.allclose(F.layer_norm_composed(Tensor([[1.0, 2.0, 4.0]]), Tensor(np.ones(3)), Tensor(np.zeros(3))).numpy(), F.layer_norm(Tensor([[1.0, 2.0, 4.0]]), Tensor(np.ones(3)), Tensor(np.zeros(3))).numpy())
        True
    """
    centered = x - x.mean(axis=-1, keepdims=True)
    variance = (centered * centered).mean(axis=-1, keepdims=True)
    return centered / (variance + eps).sqrt() * weight + bias


def rms_norm(x: Tensor, weight: Tensor, eps: float = 1e-5) -> Tensor:
    """x / sqrt(mean(x^2) + eps) * weight over the last axis (no centering, no bias).

        >>> from rl_scratch.nets import F, Tensor
        >>> F.rms_norm(Tensor([[3.0, 4.0]]), Tensor([1.0, 1.0])) * np.sqrt(12.5)
        Tensor([[3. 4.]], dtype=float32)
    """
    return kernels.dispatch("rms_norm")(x, weight, eps)


@replaces("rms_norm")
def rms_norm_composed(x: Tensor, weight: Tensor, eps: float = 1e-5) -> Tensor:
    """The reading path of `rms_norm`: the same math in Tensor primitives (what `reading_path()` runs).

        >>> from rl_scratch.nets import F, Tensor
        >>> np.allclose(F.rms_norm_composed(Tensor([[1.0, 2.0, 4.0]]), Tensor(np.ones(3))).numpy(), F.rms_norm(Tensor([[1.0, 2.0, 4.0]]), Tensor(np.ones(3))).numpy())
        True
    """
    return x / ((x * x).mean(axis=-1, keepdims=True) + eps).sqrt() * weight


def attention(qkv: Tensor, mask: np.ndarray | None = None, every_row_sees_a_key: bool = False):
    """softmax(q k^T / sqrt(head_dim), masked) v for q, k, v stacked as qkv (3, ..., T, head_dim).

    `mask` is boolean, broadcastable to (..., T, T), True where query i may see key j.
    Returns (output (..., T, head_dim), attention weights (..., T, T) as an ndarray).
    A query that may see no key gets output 0 on the fast path, NaN on the reading path;
    `every_row_sees_a_key` promises there is none (a causal mask).

        >>> from rl_scratch.nets import F, Tensor
        >>> qkv = Tensor(np.random.default_rng(0).normal(size=(3, 2, 4, 8)))  # (3, batch, T, head_dim)
        >>> causal = np.tril(np.ones((4, 4), dtype=bool))
        >>> out, weights = F.attention(qkv, causal, every_row_sees_a_key=True)
        >>> out.shape, weights[0, 0].round(2).tolist()  # the first query sees only itself
        ((2, 4, 8), [1.0, 0.0, 0.0, 0.0])
    """
    return kernels.dispatch("attention")(qkv, mask, every_row_sees_a_key)


@replaces("attention")
def attention_composed(qkv: Tensor, mask: np.ndarray | None = None, every_row_sees_a_key: bool = False):
    """The reading path of `attention`: the same math in Tensor primitives (what `reading_path()` runs).

        >>> from rl_scratch.nets import F, Tensor
        >>> qkv = Tensor(np.random.default_rng(0).normal(size=(3, 4, 8)))
        >>> np.allclose(F.attention_composed(qkv)[0].numpy(), F.attention(qkv)[0].numpy())
        True
    """
    q, k, v = qkv[0], qkv[1], qkv[2]
    scores = (q @ k.transpose(-2, -1)) * (1 / math.sqrt(q.shape[-1]))  # (..., T, T)
    if mask is not None:
        scores = scores.masked_fill(~np.asarray(mask, dtype=bool), -np.inf)
    weights = scores.softmax(axis=-1)
    return weights @ v, weights.data


def embedding(ids: np.ndarray, weight: Tensor) -> Tensor:
    """Rows of `weight` (V, C) picked by integer `ids` of any shape -> ids.shape + (C,).

        >>> from rl_scratch.nets import F, Tensor
        >>> F.embedding(np.array([[2, 0]]), Tensor(np.arange(6.0).reshape(3, 2)))
        Tensor([[[4. 5.]
          [0. 1.]]], dtype=float64)
    """
    return kernels.dispatch("embedding")(ids, weight)


@replaces("embedding")
def embedding_composed(ids: np.ndarray, weight: Tensor) -> Tensor:
    """The reading path of `embedding`: the same math in Tensor primitives (what `reading_path()` runs).

        >>> from rl_scratch.nets import F, Tensor
        >>> np.allclose(F.embedding_composed(np.array([1, 1]), Tensor(np.eye(3))).numpy(), F.embedding(np.array([1, 1]), Tensor(np.eye(3))).numpy())
        True
    """
    return weight[ids]  # indexing's backward adds each picked row's gradient into its row


# ---------------------------------------------------------------------- dropout
def dropout(x: Tensor, p: float, rng: np.random.Generator, training: bool = True) -> Tensor:
    """Zero each entry with probability p and scale the rest by 1/(1-p) (inverted dropout).

        >>> from rl_scratch.nets import F, Tensor
        >>> F.dropout(Tensor(np.ones(4)), 0.5, np.random.default_rng(0))
        Tensor([2. 0. 0. 0.], dtype=float64)
        >>> F.dropout(Tensor(np.ones(4)), 0.5, np.random.default_rng(0), training=False)
        Tensor([1. 1. 1. 1.], dtype=float64)
    """
    if not 0 <= p < 1:
        raise ValueError(f"dropout probability must be in [0, 1), got {p}")
    if not training or p == 0:
        return x
    keep = (rng.random(x.shape) >= p).astype(x.dtype) / (1 - p)
    return x * keep
