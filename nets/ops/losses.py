"""Losses of predictions against targets, each with an optional reduction ("mean", "sum", "none")."""

from __future__ import annotations

import numpy as np

from . import reductions
from .activations import sigmoid
from .softmax import shifted_exp


def reduce(per_item, reduction):
    """The loss of each item combined as `reduction` asks: (value, saved for reduce_backward)."""
    if reduction == "none":
        return per_item, None
    op = reductions.mean if reduction == "mean" else reductions.sum
    return op(per_item)


def reduce_backward(reduction, saved, g):
    """The upstream gradient spread to each item's loss."""
    if reduction == "none":
        return g
    return (reductions.mean_backward if reduction == "mean" else reductions.sum_backward)(saved, g)


def cross_entropy(z, target, reduction="mean"):
    """-log softmax(z)[target] over the last axis, for integer classes `target` of shape z.shape[:-1].

    Only the targets' log-probabilities are needed: one flat pick (each target's index in the
    ravelled logits) is the cheapest way NumPy has to take one entry per row. Every class must be
    in range [0, C) (callers check).
    """
    classes = target.ravel()
    picked = classes + np.arange(0, classes.size * z.shape[-1], z.shape[-1])
    shifted, e, total = shifted_exp(z)
    per_item = (np.log(total).ravel() - shifted.ravel()[picked]).reshape(target.shape)
    loss, reduced = reduce(per_item, reduction)
    return loss, (e, total, picked, reduction, reduced)


def cross_entropy_backward(saved, g):
    """dz = softmax(z) - onehot(target), times each item's upstream gradient."""
    e, total, picked, reduction, reduced = saved
    grad = e / total
    grad.ravel()[picked] -= 1
    grad *= reduce_backward(reduction, reduced, g)[..., None]
    return grad


def soft_cross_entropy(z, probs, reduction="mean"):
    """-sum_k probs_k log softmax(z)_k over the last axis, for target probabilities of z's shape."""
    shifted, e, total = shifted_exp(z)
    per_item = np.add.reduce(probs * (np.log(total) - shifted), axis=-1)
    loss, reduced = reduce(per_item, reduction)
    return loss, (e, total, probs, reduction, reduced)


def soft_cross_entropy_backward(saved, g):
    e, total, probs, reduction, reduced = saved
    grad = e / total * np.add.reduce(probs, axis=-1, keepdims=True) - probs
    return grad * reduce_backward(reduction, reduced, g)[..., None]


def mse(prediction, target, reduction="mean"):
    diff = prediction - target
    loss, reduced = reduce(diff * diff, reduction)
    return loss, (diff, reduction, reduced)


def mse_backward(saved, g):
    diff, reduction, reduced = saved
    return 2 * diff * reduce_backward(reduction, reduced, g)


def huber(prediction, target, delta=1.0, reduction="mean"):
    """0.5 d^2 where |d| <= delta, delta (|d| - delta / 2) beyond (PyTorch's HuberLoss), d = prediction - target."""
    diff = prediction - target
    small = np.abs(diff) <= delta
    per_item = np.where(small, 0.5 * diff * diff, delta * (np.abs(diff) - 0.5 * delta))
    loss, reduced = reduce(per_item, reduction)
    return loss, (diff, small, delta, reduction, reduced)


def huber_backward(saved, g):
    diff, small, delta, reduction, reduced = saved
    return np.where(small, diff, delta * np.sign(diff)) * reduce_backward(reduction, reduced, g)


def binary_cross_entropy_with_logits(z, target, reduction="mean"):
    """BCE on raw scores, stable for any logit: max(z, 0) - z y + log(1 + exp(-|z|))."""
    per_item = np.maximum(z, 0) - z * target + np.log1p(np.exp(-np.abs(z)))
    loss, reduced = reduce(per_item, reduction)
    return loss, (z, target, reduction, reduced)


def binary_cross_entropy_with_logits_backward(saved, g):
    """dz = sigmoid(z) - y."""
    z, target, reduction, reduced = saved
    return (sigmoid(z)[0] - target) * reduce_backward(reduction, reduced, g)
