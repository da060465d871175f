"""Fused kernels, the fast path: each one graph node computing what a chain of primitive ops does.

For the small networks RL uses, the Python bookkeeping of a graph node costs as much as
its arithmetic, so a two-layer MLP step built from primitives (matmul, add, relu, ...,
log_softmax, gather, mean) spends most of its time outside NumPy. A kernel runs the same
chain as one node: its forward calls the ops/ forwards in order, its backward calls
their backwards in reverse. It restates no formula: the math is the ops/ pairs.

Every kernel is registered here against the composed reference it replaces (the
readable definition in nets/functional.py, built from Tensor primitives), and
`tests/test_nets_kernels.py` walks this registry checking each kernel's forward and
every gradient against its reference.

The switch: inside `with reading_path():`, or everywhere when the environment has
RL_SCRATCH_READING_PATH=1, every kernel's reference runs instead, and the models'
graph-free inference runs their traced forward: what executes is then the
primitive-by-primitive chain a learner reads, only slower.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np

from . import ops
from .tensor import Tensor

# The switch and the registry; the fused kernels themselves run through functional.py's functions.
__all__ = ["reading_path", "fused_enabled", "KERNELS", "Kernel", "kernel", "replaces"]

_fused = os.environ.get("RL_SCRATCH_READING_PATH", "0") in ("", "0")


def fused_enabled() -> bool:
    """False on the reading path (inside `reading_path()`, or with RL_SCRATCH_READING_PATH=1).

        >>> from rl_scratch.nets import reading_path
        >>> with reading_path():
        ...     fused_enabled()
        False
    """
    return _fused


class reading_path:
    """Run composed primitives instead of fused kernels (and traced forwards instead of graph-free
    inference) inside the block. `reading_path(False)` forces the fast path instead.

        >>> from rl_scratch.nets import F, MLP, Tensor, reading_path
        >>> net = MLP([4, 8, 3], rng=np.random.default_rng(0))
        >>> x, y = Tensor(np.ones((2, 4))), np.array([0, 2])
        >>> fast = F.cross_entropy(net(x), y)
        >>> with reading_path():
        ...     step_by_step = F.cross_entropy(net(x), y)  # one Tensor primitive per node
        >>> step_by_step._op, fast._op, bool(np.isclose(step_by_step.item(), fast.item()))
        ('mean', 'cross_entropy', True)
    """

    __slots__ = ("_on", "_previous")

    def __init__(self, on: bool = True):
        self._on = on

    def __enter__(self):
        global _fused
        self._previous, _fused = _fused, not self._on
        return self

    def __exit__(self, *exc_info):
        global _fused
        _fused = self._previous
        return False


@dataclass
class Kernel:
    """A registry entry: the fused function and the composed reference it replaces.

        >>> entry = KERNELS["layer_norm"]
        >>> entry.name, entry.fused.__name__, entry.reference.__name__
        ('layer_norm', 'layer_norm', 'layer_norm_composed')
    """
    name: str
    fused: object
    reference: object = None


KERNELS: dict[str, Kernel] = {}


def kernel(fused):
    """Register a fused kernel under its function's name; `replaces` attaches its reference.

        >>> sorted(KERNELS)[:3], KERNELS["linear"].reference.__name__
        (['attention', 'binary_cross_entropy_with_logits', 'cross_entropy'], 'linear_composed')
    """
    KERNELS[fused.__name__] = Kernel(fused.__name__, fused)
    return fused


def replaces(name: str):
    """Decorator for a composed reference: registers it as what kernel `name` computes.

    `tests/test_nets_kernels.py` checks every registered pair against each other.

        >>> KERNELS["mse_loss"].fused.__module__, KERNELS["mse_loss"].reference.__module__
        ('rl_scratch.nets.kernels', 'rl_scratch.nets.functional')
    """
    def register(reference):
        KERNELS[name].reference = reference
        return reference
    return register


def dispatch(name: str):
    """The function to run for kernel `name`: the fused kernel, or on the reading path its reference."""
    entry = KERNELS[name]
    return entry.fused if _fused else entry.reference


# ---------------------------------------------------------------- linear layers
# Activations a fused layer applies in place to its output (their backward needs only that output).
IN_PLACE_ACTIVATIONS = ("relu", "tanh")


def _accumulate_linear(x, weight, bias, d_x, d_weight, d_bias):
    if x.requires_grad:
        x._accumulate(d_x)
    if weight.requires_grad:
        weight._accumulate(d_weight)
    if bias is not None and bias.requires_grad:
        bias._accumulate(d_bias)


@kernel
def linear(x: Tensor, weight: Tensor, bias: Tensor | None = None, activation: str | None = None) -> Tensor:
    """activation(x @ weight + bias) as one node (activation: None, "relu" or "tanh")."""
    y, saved = ops.linear.linear(x.data, weight.data, None if bias is None else bias.data)
    if activation is not None:
        forward, derivative = ops.activations.ACTIVATIONS[activation]
        forward(y, out=y)
    out = Tensor._result(y, (x, weight) if bias is None else (x, weight, bias), "linear")
    if out.requires_grad:
        def _backward(out_grad):
            g = out_grad if activation is None else derivative(y, out_grad)
            _accumulate_linear(x, weight, bias, *ops.linear.linear_backward(saved, g, x.requires_grad))
        out._backward = _backward
    return out


@kernel
def mlp(x: Tensor, layers, activation: str) -> Tensor:
    """Linear layers with `activation` ("relu" or "tanh") after every one but the last, as one node.

    `layers` have a `weight` (in, out) and a `bias` (out,) or None, as Linear modules do. The
    backward is the per-layer loop of a NumPy network written by hand.
    """
    forward, derivative = ops.activations.ACTIVATIONS[activation]
    xd = x.data
    h = xd if xd.ndim == 2 else xd.reshape(-1, xd.shape[-1])  # the tokens or samples as rows
    saved_layers, parents = [], [x]
    for i, layer in enumerate(layers):
        if i:
            forward(h, out=h)  # in place: the backward needs only the activated output
        h, saved = ops.linear.linear(h, layer.weight.data, None if layer.bias is None else layer.bias.data)
        saved_layers.append(saved)
        parents += [layer.weight] if layer.bias is None else [layer.weight, layer.bias]
    out = Tensor._result(h if xd.ndim == 2 else h.reshape(xd.shape[:-1] + h.shape[-1:]), tuple(parents), "mlp")
    if out.requires_grad:
        def _backward(out_grad):
            g = out_grad if out_grad.ndim == 2 else out_grad.reshape(h.shape)
            for i in range(len(layers) - 1, -1, -1):
                layer = layers[i]
                d_h, d_weight, d_bias = ops.linear.linear_backward(saved_layers[i], g, i > 0 or x.requires_grad)
                if i:
                    g = derivative(saved_layers[i][0], d_h)  # layer i's input: layer i-1's activated output
                elif d_h is not None:
                    d_h = d_h.reshape(xd.shape)
                _accumulate_linear(x if i == 0 else _NO_GRAD, layer.weight, layer.bias, d_h, d_weight, d_bias)
        out._backward = _backward
    return out


class _NoGrad:
    requires_grad = False


_NO_GRAD = _NoGrad()  # stands for an intermediate of a fused chain, which has no .grad of its own


# ----------------------------------------------------------------------- losses
def _loss_node(value, saved, backward, prediction: Tensor, op: str) -> Tensor:
    out = Tensor._result(np.asarray(value), (prediction,), op)
    if out.requires_grad:
        def _backward(out_grad):
            prediction._accumulate(backward(saved, out_grad))
        out._backward = _backward
    return out


@kernel
def cross_entropy(logits: Tensor, target: np.ndarray, reduction: str = "mean", label_smoothing: float = 0.0) -> Tensor:
    """log_softmax, the pick of the targets and the reduction as one node (targets checked by the caller)."""
    z = logits.data
    if target.dtype.kind in "iu" and not label_smoothing:
        value, saved = ops.losses.cross_entropy(z, target, reduction)
        return _loss_node(value, saved, ops.losses.cross_entropy_backward, logits, "cross_entropy")
    value, saved = ops.losses.soft_cross_entropy(z, _target_probabilities(z, target, label_smoothing), reduction)
    return _loss_node(value, saved, ops.losses.soft_cross_entropy_backward, logits, "cross_entropy")


def _target_probabilities(z: np.ndarray, target: np.ndarray, label_smoothing: float) -> np.ndarray:
    """Class indices as one-hot rows, then (1 - s) p + s / C: what label smoothing trains towards."""
    if target.dtype.kind in "iu":
        probs = np.zeros_like(z)
        np.put_along_axis(probs, target[..., None], 1, axis=-1)
    else:
        probs = target.astype(z.dtype, copy=False)
    if label_smoothing:
        probs = probs * (1 - label_smoothing) + label_smoothing / z.shape[-1]
    return probs


@kernel
def mse_loss(prediction: Tensor, target: np.ndarray, reduction: str = "mean") -> Tensor:
    value, saved = ops.losses.mse(prediction.data, target, reduction)
    return _loss_node(value, saved, ops.losses.mse_backward, prediction, "mse_loss")


@kernel
def huber_loss(prediction: Tensor, target: np.ndarray, delta: float = 1.0, reduction: str = "mean") -> Tensor:
    value, saved = ops.losses.huber(prediction.data, target, delta, reduction)
    return _loss_node(value, saved, ops.losses.huber_backward, prediction, "huber_loss")


@kernel
def binary_cross_entropy_with_logits(logits: Tensor, target: np.ndarray, reduction: str = "mean") -> Tensor:
    value, saved = ops.losses.binary_cross_entropy_with_logits(logits.data, target, reduction)
    return _loss_node(value, saved, ops.losses.binary_cross_entropy_with_logits_backward, logits, "bce_with_logits")


# ------------------------------------------------------------ transformer parts
@kernel
def layer_norm(x: Tensor, weight: Tensor, bias: Tensor, eps: float) -> Tensor:
    y, saved = ops.norms.layer_norm(x.data, weight.data, bias.data, eps)
    out = Tensor._result(y, (x, weight, bias), "layer_norm")
    if out.requires_grad:
        def _backward(out_grad):
            d_x, d_weight, d_bias = ops.norms.layer_norm_backward(saved, out_grad)
            _accumulate_linear(x, weight, bias, d_x, d_weight, d_bias)
        out._backward = _backward
    return out


@kernel
def rms_norm(x: Tensor, weight: Tensor, eps: float) -> Tensor:
    y, saved = ops.norms.rms_norm(x.data, weight.data, eps)
    out = Tensor._result(y, (x, weight), "rms_norm")
    if out.requires_grad:
        def _backward(out_grad):
            d_x, d_weight = ops.norms.rms_norm_backward(saved, out_grad)
            _accumulate_linear(x, weight, None, d_x, d_weight, None)
        out._backward = _backward
    return out


@kernel
def attention(qkv: Tensor, mask: np.ndarray | None = None, every_row_sees_a_key: bool = False):
    """(output, weights) of attention over q, k, v stacked as qkv (3, ..., T, head_dim), as one node.

    The weights are read-only: the backward uses them.
    """
    data = qkv.data
    y, saved = ops.attention.attention(data[0], data[1], data[2], mask, every_row_sees_a_key)
    weights = saved[3]
    weights.flags.writeable = False
    out = Tensor._result(y, (qkv,), "attention")
    if out.requires_grad:
        def _backward(out_grad):
            qkv._accumulate(np.stack(ops.attention.attention_backward(saved, out_grad)))
        out._backward = _backward
    return out, weights


@kernel
def embedding(ids: np.ndarray, weight: Tensor) -> Tensor:
    y, saved = ops.indexing.embedding(weight.data, ids)
    out = Tensor._result(y, (weight,), "embedding")
    if out.requires_grad:
        def _backward(out_grad):
            weight._accumulate(ops.indexing.embedding_backward(saved, out_grad))
        out._backward = _backward
    return out
