"""Categorical: the distribution of a discrete policy or a language model's next token.

    dist = Categorical(logits)            # logits (..., n): a Tensor in a loss, an array when acting
    actions = dist.sample(rng)            # (...,) ints, one uniform draw per row
    loss = -(dist.log_prob(actions) * advantages).mean() - ent_coef * dist.entropy().mean()

log_prob and entropy are Tensor ops on `log_softmax(logits)` (max-subtracted, never
log of a softmax), so a loss built from them backpropagates into the logits.
sample and mode are plain arrays: nothing flows through a draw.
"""

from __future__ import annotations

import numpy as np

from .tensor import Tensor


class Categorical:
    """A distribution over classes 0..n-1 of the last axis of `logits` (unnormalized log-probabilities).

    A logit of -inf gives its class probability 0 (top-k sampling masks tokens so).

        >>> from rl_scratch.nets import Categorical, Tensor
        >>> logits = Tensor(np.log([[0.2, 0.8], [0.5, 0.5]]), requires_grad=True)
        >>> dist = Categorical(logits)
        >>> advantages = np.array([1.0, -1.0])
        >>> loss = -(dist.log_prob(np.array([1, 0])) * advantages).mean() - 0.01 * dist.entropy().mean()
        >>> loss.backward()  # the policy-gradient step raises p(1 | row 0), lowers p(0 | row 1)
        >>> (logits.grad[:, 0] > 0).tolist(), dist.mode().tolist()
        ([True, True], [1, 0])
    """

    __slots__ = ("logits", "log_probs")

    def __init__(self, logits):
        self.logits = logits if isinstance(logits, Tensor) else Tensor(logits)
        if self.logits.ndim == 0:
            raise ValueError("Categorical needs logits with a class axis, got a 0-d value")
        self.log_probs = self.logits.log_softmax(axis=-1)  # (..., n): every class's log-probability

    @property
    def probs(self) -> Tensor:
        """The probabilities, softmax of the logits.

            >>> Categorical(np.log([[1.0, 3.0]])).probs
            Tensor([[0.25 0.75]], dtype=float64)
        """
        return self.log_probs.exp()

    def log_prob(self, value) -> Tensor:
        """log p(value) for integer classes `value` of shape logits.shape[:-1].

            >>> Categorical(np.log([[0.25, 0.75]])).log_prob(np.array([1])).exp()
            Tensor([0.75], dtype=float64)
        """
        value = np.asarray(value)
        return self.log_probs.gather(value[..., None], axis=-1)[..., 0]

    def entropy(self) -> Tensor:
        """-sum_k p_k log p_k over the classes, per row; a class of probability 0 adds nothing.

            >>> Categorical(np.array([[0.0, 0.0, -np.inf]])).entropy()  # log 2: the impossible class adds nothing
            Tensor([0.6931], dtype=float64)
        """
        p = self.probs
        return -(p * self.log_probs.masked_fill(p.data == 0, 0.0)).sum(axis=-1)

    def sample(self, rng: np.random.Generator) -> np.ndarray:
        """One class per row by inverting the CDF: the first k with cdf_k >= u, u uniform in [0, total).

            >>> draws = Categorical(np.log([0.1, 0.9]) * np.ones((1000, 2))).sample(np.random.default_rng(0))
            >>> draws.shape, bool(0.85 < draws.mean() < 0.95)
            ((1000,), True)
        """
        cdf = np.exp(self.log_probs.data).cumsum(axis=-1)
        u = rng.random(cdf.shape[:-1] + (1,)) * cdf[..., -1:]  # scaled by the total: rounding leaves it near 1
        return np.minimum((cdf < u).sum(axis=-1), cdf.shape[-1] - 1)

    def mode(self) -> np.ndarray:
        """The most likely class per row (the first, on ties).

            >>> Categorical(np.array([[1.0, 3.0, 3.0]])).mode()
            array([1])
        """
        return self.logits.data.argmax(axis=-1)
