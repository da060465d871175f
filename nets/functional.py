"""Fused ops and losses: each is one graph node with a hand-written backward.

Fusing pays for the small networks RL uses, where Python overhead per node
costs more than the arithmetic. `tests/test_nets_tensor.py` checks every fused
op against the same computation composed from primitive Tensor ops. Backward
closures follow tensor.py's rule: they receive `out_grad` and never hold the output.
"""

from __future__ import annotations

import functools

import numpy as np

from .tensor import Tensor, _as_array, _softmax_parts


# Activations that linear() and mlp() apply in place, as `forward(y, out=y)`, each with its derivative
# written in terms of its output y (so backward needs nothing but y). ReLU's are partial ufunc calls,
# max(0, y) and 0 < y: no Python frame per layer and step.
FUSED_ACTIVATIONS = {
    "relu": (functools.partial(np.maximum, 0), functools.partial(np.less, 0)),
    "tanh": (np.tanh, lambda y: 1 - y * y),
}


def linear(x: Tensor, weight: Tensor, bias: Tensor | None = None, layer=None, activation: str | None = None) -> Tensor:
    """activation(x @ weight + bias) for x of shape (..., in), weight (in, out), bias (out,).

    `activation` ("relu" or "tanh") is applied in the same graph node: one node per
    hidden layer instead of two, which is most of an MLP's per-step overhead.
    """
    xd, wd = x.data, weight.data
    if xd.shape[-1:] != wd.shape[:1]:
        raise ValueError(
            f"{layer if layer is not None else 'linear'}: input has shape {xd.shape} but the layer expects "
            f"(..., {wd.shape[0]}) (weight shape {wd.shape}): the last input dimension must be {wd.shape[0]}"
        )
    if xd.ndim > 2:  # one 2-D product beats NumPy's stacked matmul on small matrices
        y = (xd.reshape(-1, wd.shape[0]) @ wd).reshape(xd.shape[:-1] + wd.shape[1:])
    else:
        y = xd @ wd
    if bias is not None:
        y += bias.data
        out = Tensor._result(y, (x, weight, bias), "linear")
    else:
        out = Tensor._result(y, (x, weight), "linear")
    if activation is not None:
        forward, derivative = FUSED_ACTIVATIONS[activation]
        forward(y, out=y)
    if out.requires_grad:
        def _backward(out_grad):
            g = out_grad if activation is None else out_grad * derivative(y)
            rows_g = g.reshape(-1, g.shape[-1])  # (..., out) as rows: every product below is 2-D
            if x.requires_grad:
                x._accumulate((rows_g @ wd.T).reshape(xd.shape))
            _add_layer_gradients(weight, bias, xd.reshape(-1, xd.shape[-1]), rows_g)
        out._backward = _backward
    return out


def _add_layer_gradients(weight: Tensor, bias: Tensor | None, inputs: np.ndarray, g: np.ndarray) -> None:
    """Add a linear layer's gradients: inputs.T @ g to the weight's, g summed over rows to the bias's.

    inputs (rows, in) is what the layer saw and g (rows, out) the gradient of its output.
    """
    if weight.requires_grad:
        weight._accumulate(inputs.T @ g)
    if bias is not None and bias.requires_grad:
        bias._accumulate(np.add.reduce(g, axis=0))


def mlp(x: Tensor, layers, activation: str) -> Tensor:
    """A stack of linear layers with `activation` ("relu" or "tanh") after every one but the last.

    `layers` are Linear modules, or anything with a `weight` of shape (in, out) and a
    `bias` of shape (out,) or None; x is (..., in). Computes what chaining
    linear(..., activation=...) and a last plain linear does, as one graph node: its
    backward is the per-layer loop a hand-written NumPy network would run. For the
    small networks RL uses, one node per layer costs as much Python bookkeeping as
    arithmetic.
    """
    xd, first = x.data, layers[0].weight
    if xd.shape[-1:] != first.data.shape[:1]:
        linear(x, first, None, layers[0])  # raises linear's shape error
    forward, derivative = FUSED_ACTIVATIONS[activation]
    h = xd if xd.ndim == 2 else xd.reshape(-1, xd.shape[-1])
    weights, biases, inputs, parents = [], [], [], [x]  # inputs: every layer's input, which its weight gradient needs
    for layer in layers:
        if inputs:
            forward(h, out=h)
        weight, bias = layer.weight, layer.bias
        weights.append(weight)
        biases.append(bias)
        inputs.append(h)
        parents.append(weight)
        h = h.dot(weight.data)  # ndarray.dot: less dispatch than the matmul ufunc for small matrices
        if bias is not None:
            h += bias.data
            parents.append(bias)
    y = h if xd.ndim == 2 else h.reshape(xd.shape[:-1] + h.shape[-1:])
    out = Tensor._result(y, tuple(parents), "mlp")
    if out.requires_grad:
        def _backward(out_grad):
            g = out_grad if out_grad.ndim == 2 else out_grad.reshape(h.shape)
            for i in range(len(weights) - 1, -1, -1):
                weight = weights[i]
                _add_layer_gradients(weight, biases[i], inputs[i], g)
                if i:
                    g = g.dot(weight.data.T)
                    g *= derivative(inputs[i])  # layer i's input is layer i - 1's activated output
                elif x.requires_grad:
                    x._accumulate(g.dot(weight.data.T).reshape(xd.shape))
        out._backward = _backward
    return out


def any_index_outside(indices: np.ndarray, n: int) -> bool:
    """Whether some integer index falls outside [0, n).

    One reduction checks both bounds: seen as unsigned, a negative index is huge.
    """
    return indices.size > 0 and bool(np.maximum.reduce(indices.astype(np.uint64, copy=False), axis=None) >= n)


@functools.lru_cache(maxsize=16)
def _row_numbers(n_rows: int) -> np.ndarray:
    """0, 1, ..., n_rows - 1, made once per batch size."""
    rows = np.arange(n_rows)
    rows.flags.writeable = False  # shared by every caller through the cache
    return rows


def _reduce(loss: np.ndarray, reduction: str):
    if reduction == "mean":
        return np.add.reduce(loss, axis=None) * (1.0 / max(loss.size, 1))
    if reduction == "sum":
        return loss.sum()
    if reduction == "none":
        return loss
    raise ValueError(f"reduction must be 'mean', 'sum' or 'none', got {reduction!r}")


def _reduction_grad(out_grad: np.ndarray, shape: tuple, reduction: str) -> np.ndarray:
    """The loss's upstream gradient spread to each element of the unreduced loss."""
    if reduction == "none":
        return out_grad
    scale = 1.0 / max(int(np.prod(shape)), 1) if reduction == "mean" else 1.0
    return np.broadcast_to(out_grad * scale, shape)


def cross_entropy(logits: Tensor, target, reduction: str = "mean", label_smoothing: float = 0.0) -> Tensor:
    """Softmax cross-entropy over the last axis, fused with log_softmax.

    `target` holds class indices (integer array of shape logits.shape[:-1]) or
    probabilities (float array of logits' shape).
    """
    z = logits.data
    if type(target) is not np.ndarray:
        target = target.data if isinstance(target, Tensor) else np.asarray(target)
    if reduction not in ("mean", "sum", "none"):
        raise ValueError(f"reduction must be 'mean', 'sum' or 'none', got {reduction!r}")
    if target.dtype.kind not in "iu":
        if target.shape != z.shape:
            raise ValueError(f"cross_entropy: probability target has shape {target.shape}, expected {z.shape}")
        return _soft_cross_entropy(logits, target.astype(z.dtype, copy=False), reduction, label_smoothing)
    if target.shape != z.shape[:-1]:
        raise ValueError(f"cross_entropy: class-index target has shape {target.shape}, "
                         f"expected {z.shape[:-1]} for logits of shape {z.shape}")
    # Each target's index in the flattened logits: only the targets' log-probabilities are needed,
    # and one flat pick is the cheapest way NumPy has to take one entry per row. The same call
    # checks every class index is in range.
    classes = target if target.ndim == 1 else target.ravel()
    try:
        picked = np.ravel_multi_index((_row_numbers(classes.size), classes), (classes.size, z.shape[-1]))
    except ValueError:
        raise ValueError(f"cross_entropy: class index out of range [0, {z.shape[-1]}): "
                         f"got values from {target.min()} to {target.max()}") from None
    if label_smoothing:
        one_hot = np.zeros_like(z)
        one_hot.ravel()[picked] = 1
        return _soft_cross_entropy(logits, one_hot, reduction, label_smoothing)
    shifted, exp_shifted, totals = _softmax_parts(z)
    per_item = np.log(totals).ravel() - shifted.ravel()[picked]
    scale = 1.0 / max(per_item.size, 1) if reduction == "mean" else 1.0  # d(loss) / d(each item's loss)
    loss = per_item.reshape(target.shape) if reduction == "none" else np.add.reduce(per_item, axis=None) * scale
    out = Tensor._result(np.asarray(loss), (logits,), "cross_entropy")
    if out.requires_grad:
        def _backward(out_grad):
            grad = exp_shifted / totals  # softmax
            grad.ravel()[picked] -= 1
            grad *= out_grad[..., None] if reduction == "none" else float(out_grad) * scale
            logits._accumulate(grad)
        out._backward = _backward
    return out


def _soft_cross_entropy(logits: Tensor, probs: np.ndarray, reduction: str, label_smoothing: float) -> Tensor:
    """Cross-entropy against target probabilities (what label smoothing makes of class indices too)."""
    n_classes = probs.shape[-1]
    if label_smoothing:
        probs = probs * (1 - label_smoothing) + label_smoothing / n_classes
    shifted, exp_shifted, totals = _softmax_parts(logits.data)
    per_item = np.add.reduce(probs * (np.log(totals) - shifted), axis=-1)
    out = Tensor._result(np.asarray(_reduce(per_item, reduction)), (logits,), "cross_entropy")
    if out.requires_grad:
        def _backward(out_grad):
            grad = exp_shifted / totals * np.add.reduce(probs, axis=-1, keepdims=True) - probs
            logits._accumulate(grad * _reduction_grad(out_grad, per_item.shape, reduction)[..., None])
        out._backward = _backward
    return out


def nll_loss(log_probs: Tensor, target, reduction: str = "mean") -> Tensor:
    """Negative log-likelihood of class indices given log-probabilities."""
    target = np.asarray(target.data if isinstance(target, Tensor) else target)
    picked = log_probs.gather(target[..., None], axis=-1)[..., 0]
    loss = -picked
    if reduction == "mean":
        return loss.mean()
    if reduction == "sum":
        return loss.sum()
    if reduction == "none":
        return loss
    raise ValueError(f"reduction must be 'mean', 'sum' or 'none', got {reduction!r}")


def mse_loss(prediction: Tensor, target, reduction: str = "mean") -> Tensor:
    target = _as_array(target, prediction.data.dtype)
    if target.shape != prediction.shape:
        raise ValueError(f"mse_loss: prediction shape {prediction.shape} and target shape {target.shape} differ")
    diff = prediction.data - target
    out = Tensor._result(np.asarray(_reduce(diff * diff, reduction)), (prediction,), "mse_loss")
    if out.requires_grad:
        def _backward(out_grad):
            prediction._accumulate(2 * diff * _reduction_grad(out_grad, diff.shape, reduction))
        out._backward = _backward
    return out


def huber_loss(prediction: Tensor, target, delta: float = 1.0, reduction: str = "mean") -> Tensor:
    """Quadratic within `delta` of the target, linear beyond (PyTorch's HuberLoss)."""
    target = _as_array(target, prediction.data.dtype)
    if target.shape != prediction.shape:
        raise ValueError(f"huber_loss: prediction shape {prediction.shape} and target shape {target.shape} differ")
    diff = prediction.data - target
    small = np.abs(diff) <= delta
    per_item = np.where(small, 0.5 * diff * diff, delta * (np.abs(diff) - 0.5 * delta))
    out = Tensor._result(np.asarray(_reduce(per_item, reduction)), (prediction,), "huber_loss")
    if out.requires_grad:
        def _backward(out_grad):
            local = np.where(small, diff, delta * np.sign(diff))
            prediction._accumulate(local * _reduction_grad(out_grad, diff.shape, reduction))
        out._backward = _backward
    return out


def binary_cross_entropy_with_logits(logits: Tensor, target, reduction: str = "mean") -> Tensor:
    """BCE on raw scores, stable for any logit: max(z,0) - z*y + log(1 + exp(-|z|))."""
    target = _as_array(target, logits.data.dtype)
    if target.shape != logits.shape:
        raise ValueError(f"binary_cross_entropy: logits shape {logits.shape} and target shape {target.shape} differ")
    z = logits.data
    per_item = np.maximum(z, 0) - z * target + np.log1p(np.exp(-np.abs(z)))
    out = Tensor._result(np.asarray(_reduce(per_item, reduction)), (logits,), "bce_with_logits")
    if out.requires_grad:
        def _backward(out_grad):
            e = np.exp(-np.abs(z))
            sig = np.where(z >= 0, 1 / (1 + e), e / (1 + e))
            logits._accumulate((sig - target) * _reduction_grad(out_grad, z.shape, reduction))
        out._backward = _backward
    return out


def binary_cross_entropy(probs: Tensor, target, reduction: str = "mean", eps: float = 1e-7) -> Tensor:
    """BCE on probabilities in (0, 1); prefer the `_with_logits` form for stability."""
    target = _as_array(target, probs.data.dtype)
    p = probs.clip(eps, 1 - eps)
    loss = -(p.log() * target + (1 - p).log() * (1 - target))
    if reduction == "mean":
        return loss.mean()
    if reduction == "sum":
        return loss.sum()
    if reduction == "none":
        return loss
    raise ValueError(f"reduction must be 'mean', 'sum' or 'none', got {reduction!r}")


def dropout(x: Tensor, p: float, rng: np.random.Generator, training: bool = True) -> Tensor:
    """Zero each entry with probability p and scale the rest by 1/(1-p) (inverted dropout)."""
    if not 0 <= p < 1:
        raise ValueError(f"dropout probability must be in [0, 1), got {p}")
    if not training or p == 0:
        return x
    keep = (rng.random(x.shape) >= p).astype(x.dtype) / (1 - p)
    return x * keep
