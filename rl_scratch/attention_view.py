"""Pictures of what an attention policy attends to, drawn onto the env's frames (`play --attention`).

Per head, the weights of the policy network's last attention block (`Agent.attention_weights`):

- cell tokens (GridWorld obs_mode="grid", one token per cell): a copy of the frame per head, each
  cell tinted by the attention it receives (averaged over the tokens that attend), side by side;
- time-step tokens (history=K windows): under the frame, one row per head of K boxes, oldest step
  on the left, the current one on the right, shaded by the weight the current step gives each.

Weights are scaled per head to its largest one, so each head shows where it looks most.
"""

from __future__ import annotations

import numpy as np

_TINT = np.array([124, 58, 237], dtype=np.float64)     # violet: strong attention (values are red to green)
_GAP = 4
_BACKGROUND = np.array([248, 250, 252], dtype=np.uint8)


def _scaled(weights: np.ndarray) -> np.ndarray:
    top = weights.max(axis=-1, keepdims=True)
    return weights / np.where(top > 0, top, 1.0)


def cell_heads(frame: np.ndarray, weights: np.ndarray, n_rows: int, n_cols: int) -> np.ndarray:
    """(H, W, 3) frame and (heads, n_rows * n_cols) weights -> one tinted copy per head, side by side."""
    height, width = frame.shape[:2]
    cell_h, cell_w = height // n_rows, width // n_cols
    panels = []
    for head in _scaled(weights):
        alpha = np.kron(head.reshape(n_rows, n_cols), np.ones((cell_h, cell_w)))[..., None] * 0.75
        panel = frame.astype(np.float64).copy()
        panel[:n_rows * cell_h, :n_cols * cell_w] = (1 - alpha) * panel[:n_rows * cell_h, :n_cols * cell_w] \
            + alpha * _TINT
        panels.append(panel.astype(np.uint8))
    gap = np.broadcast_to(_BACKGROUND, (height, _GAP, 3))
    return np.concatenate([p for panel in panels for p in (panel, gap)][:-1], axis=1)


def step_heads(frame: np.ndarray, weights: np.ndarray, box: int = 24) -> np.ndarray:
    """(H, W, 3) frame and (heads, K) weights -> the frame with one row of K shaded boxes per head under it."""
    heads, steps = weights.shape
    width = max(frame.shape[1], steps * box)
    strip = np.empty((heads * (box + _GAP) + _GAP, width, 3), dtype=np.uint8)
    strip[...] = _BACKGROUND
    for h, head in enumerate(_scaled(weights)):
        top = _GAP + h * (box + _GAP)
        for k, w in enumerate(head):
            colour = (1 - w) * 255 + w * _TINT
            strip[top:top + box - 2, k * box + 1:(k + 1) * box - 1] = colour.astype(np.uint8)
    padded = np.empty((frame.shape[0], width, 3), dtype=np.uint8)
    padded[...] = _BACKGROUND
    padded[:, :frame.shape[1]] = frame
    return np.concatenate([padded, strip], axis=0)


def draw(frame: np.ndarray, weights: np.ndarray | None, env, history: int) -> np.ndarray:
    """The frame with the attention picture that fits the policy's tokens (unchanged when there is none)."""
    if weights is None:
        return frame
    base = env.unwrapped
    n_rows, n_cols = getattr(base, "n_rows", 0), getattr(base, "n_cols", 0)
    if history == 1 and n_rows * n_cols == weights.shape[1]:
        return cell_heads(frame, weights, n_rows, n_cols)
    return step_heads(frame, weights)
