"""Summary statistics for results: confidence intervals and the interquartile mean.

One method for every interval the project reports (over the episodes of an
evaluation, and over the seeds of a benchmark): the percentile bootstrap of the
mean, with a fixed generator so the same numbers give the same interval.

The interquartile mean follows rliable (Agarwal et al., "Deep Reinforcement
Learning at the Edge of the Statistical Precipice", NeurIPS 2021): the mean of the
middle half, robust to one lucky or unlucky seed and less noisy than the median.
"""

from __future__ import annotations

import numpy as np

__all__ = ["bootstrap_ci", "iqm", "summarize", "CONFIDENCE"]

CONFIDENCE = 0.95
BOOTSTRAP_RESAMPLES = 10_000
BOOTSTRAP_SEED = 0


def bootstrap_ci(values, confidence: float = CONFIDENCE, resamples: int = BOOTSTRAP_RESAMPLES,
                 seed: int = BOOTSTRAP_SEED) -> tuple[float, float]:
    """The percentile-bootstrap confidence interval of the mean of `values`.

    Equal values give a zero-width interval at that value (a deterministic policy
    on a deterministic env scores the same every episode).

        >>> low, high = bootstrap_ci([1.0, 0.0] * 50)  # 100 episodes, half of them successes
        >>> round(low, 2), round(high, 2)
        (0.4, 0.6)
        >>> bootstrap_ci([0.93] * 10)
        (0.93, 0.93)
    """
    values = np.asarray(values, dtype=np.float64).ravel()
    if values.size == 0:
        raise ValueError("a confidence interval needs at least one value")
    if values.size == 1 or np.all(values == values[0]):
        return float(values[0]), float(values[0])
    rng = np.random.default_rng(seed)
    # Chunks keep memory bounded for 1000-episode evaluations.
    means = np.concatenate([values[rng.integers(0, values.size, size=(chunk, values.size))].mean(axis=1)
                            for chunk in _chunks(resamples, max(1, 2_000_000 // values.size))])
    tail = (1.0 - confidence) / 2.0
    low, high = np.quantile(means, [tail, 1.0 - tail])
    return float(low), float(high)


def _chunks(total: int, size: int):
    while total > 0:
        yield min(size, total)
        total -= size


def iqm(values) -> float:
    """Interquartile mean: the mean after cutting the lowest and highest quarter (scipy's trim_mean(0.25)).

        >>> iqm([500, 480, 490, 20])  # one collapsed seed does not drag it down as the mean would
        485.0
    """
    values = np.sort(np.asarray(values, dtype=np.float64).ravel())
    if values.size == 0:
        raise ValueError("the interquartile mean needs at least one value")
    cut = int(0.25 * values.size)
    return float(values[cut:values.size - cut].mean())


def summarize(values) -> dict:
    """mean, std, the bootstrap 95% interval of the mean, and the count.

        >>> summarize([1.0, 1.0, 1.0, 1.0])
        {'mean': 1.0, 'std': 0.0, 'ci_low': 1.0, 'ci_high': 1.0, 'n': 4}
    """
    values = np.asarray(values, dtype=np.float64).ravel()
    low, high = bootstrap_ci(values)
    return {"mean": float(values.mean()), "std": float(values.std()), "ci_low": low, "ci_high": high,
            "n": int(values.size)}
