"""Normalization over the last axis: layer norm and RMS norm."""

from __future__ import annotations

import numpy as np

from .reductions import row_sum


def layer_norm(x, weight, bias, eps):
    """(x - mean) / sqrt(var + eps) * weight + bias over the last axis (population variance)."""
    normalized = x - row_sum(x, mean=True)              # centered, scaled in place below
    inv_std = row_sum(normalized * normalized, mean=True)
    inv_std += eps
    np.sqrt(inv_std, out=inv_std)
    np.reciprocal(inv_std, out=inv_std)
    normalized *= inv_std
    y = normalized * weight
    y += bias
    return y, (normalized, inv_std, weight)


def layer_norm_backward(saved, g):
    """(d x, d weight, d bias). d x removes from g * weight its mean and its component along x_hat."""
    normalized, inv_std, weight = saved
    g_rows = g.reshape(-1, g.shape[-1])
    d_weight = np.einsum("ij,ij->j", g_rows, normalized.reshape(g_rows.shape))
    d_bias = np.add.reduce(g_rows, axis=0)
    g_hat = g * weight
    dx = g_hat - row_sum(g_hat, mean=True)
    g_hat *= normalized
    dx -= normalized * row_sum(g_hat, mean=True)
    dx *= inv_std
    return dx, d_weight, d_bias


def rms_norm(x, weight, eps):
    """x / sqrt(mean(x^2) + eps) * weight over the last axis (no centering, no bias)."""
    inv_rms = row_sum(x * x, mean=True)
    inv_rms += eps
    np.sqrt(inv_rms, out=inv_rms)
    np.reciprocal(inv_rms, out=inv_rms)
    normalized = x * inv_rms
    return normalized * weight, (normalized, inv_rms, weight)


def rms_norm_backward(saved, g):
    """(d x, d weight)."""
    normalized, inv_rms, weight = saved
    d_weight = np.add.reduce((g * normalized).reshape(-1, g.shape[-1]), axis=0)
    g_hat = g * weight
    dx = g_hat - normalized * row_sum(g_hat * normalized, mean=True)
    dx *= inv_rms
    return dx, d_weight
