"""Running mean and variance of observations, for observation normalization.

The statistics are updated from each batch the agent collects (Chan et al.'s
parallel merge of batch moments) and applied as (x - mean) / sqrt(var + eps),
clipped to [-clip, clip]. They belong to the agent, not to an env wrapper, so
`act` on a plain env and a restored checkpoint see exactly what training saw.
"""

from __future__ import annotations

import numpy as np


class RunningMeanStd:
    """Per-feature running mean/variance over every sample seen (float64 accumulators).

        >>> import numpy as np
        >>> stats = RunningMeanStd((1,))
        >>> stats.update(np.array([[1.0], [3.0]]))
        >>> stats.mean.round(3), stats.normalize(np.array([[2.0]])).round(3)
        (array([2.]), array([[0.]], dtype=float32))
    """

    def __init__(self, shape: tuple, epsilon: float = 1e-8, clip: float = 10.0):
        self.mean = np.zeros(shape, dtype=np.float64)
        self.var = np.ones(shape, dtype=np.float64)
        # A tiny prior count: the first batch almost replaces the (0, 1) prior instead of averaging with it.
        self.count = 1e-4
        self.epsilon, self.clip = epsilon, clip

    def update(self, batch: np.ndarray) -> None:
        """Merge the moments of `batch` (samples along axis 0)."""
        batch = np.asarray(batch, dtype=np.float64)
        batch_count = batch.shape[0]
        if batch_count == 0:
            return
        if batch_count == 1:  # DQN's one observation per env step: its own mean, variance 0, without two reductions
            batch_mean, batch_var = batch[0], 0.0
        else:
            batch_mean, batch_var = batch.mean(axis=0), batch.var(axis=0)
        total = self.count + batch_count
        delta = batch_mean - self.mean
        self.mean = self.mean + delta * (batch_count / total)
        m2 = self.var * self.count + batch_var * batch_count + delta * delta * (self.count * batch_count / total)
        self.var = m2 / total
        self.count = total

    def normalize(self, x: np.ndarray) -> np.ndarray:
        scaled = (x - self.mean) / np.sqrt(self.var + self.epsilon)
        return np.clip(scaled, -self.clip, self.clip).astype(np.float32)

    def state_dict(self) -> dict:
        return {"mean": self.mean.copy(), "var": self.var.copy(), "count": np.array(self.count)}

    def load_state_dict(self, arrays: dict) -> None:
        mean, var = np.asarray(arrays["mean"]), np.asarray(arrays["var"])
        if mean.shape != self.mean.shape or var.shape != self.var.shape:
            raise ValueError(f"normalizer statistics have shape {mean.shape}, expected {self.mean.shape}")
        self.mean, self.var, self.count = mean.astype(np.float64), var.astype(np.float64), float(arrays["count"])
