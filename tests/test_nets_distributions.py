"""nets.Categorical: log_prob, entropy, sample and mode, against PyTorch's and by gradient checks."""

import numpy as np
import pytest
from conftest import import_torch

from rl_scratch.nets import Categorical, Tensor, gradcheck


def logits64(rng, shape=(5, 4)) -> Tensor:
    return Tensor(rng.normal(size=shape) * 2, requires_grad=True, dtype=np.float64)


def test_log_prob_and_entropy_match_pytorch():
    torch = import_torch()
    rng = np.random.default_rng(0)
    logits = logits64(rng, (6, 5))
    logits.data[0, 1] = -np.inf  # a masked class: probability 0, and no NaN in the entropy
    actions = rng.integers(0, 5, 6)
    actions[0] = 2
    ours = Categorical(logits)
    theirs = torch.distributions.Categorical(logits=torch.tensor(logits.data))
    np.testing.assert_allclose(ours.log_prob(actions).data, theirs.log_prob(torch.tensor(actions)).numpy(), rtol=1e-12)
    np.testing.assert_allclose(ours.entropy().data, theirs.entropy().numpy(), rtol=1e-12)
    np.testing.assert_allclose(ours.probs.data, theirs.probs.numpy(), rtol=1e-12, atol=1e-15)
    np.testing.assert_array_equal(ours.mode(), theirs.mode.numpy())


def test_log_prob_and_entropy_gradients():
    rng = np.random.default_rng(1)
    actions = rng.integers(0, 4, 5)
    gradcheck(lambda z: Categorical(z).log_prob(actions), [logits64(rng)])
    gradcheck(lambda z: Categorical(z).entropy(), [logits64(rng)])
    gradcheck(lambda z: Categorical(z).log_prob(actions[:3].reshape(3, 1)), [logits64(rng, (3, 1, 4))])


def test_sample_frequencies_follow_the_probabilities_and_the_seed():
    probs = np.array([0.1, 0.6, 0.3])
    dist = Categorical(np.tile(np.log(probs), (20_000, 1)))
    samples = dist.sample(np.random.default_rng(0))
    assert samples.shape == (20_000,) and samples.dtype.kind == "i"
    np.testing.assert_allclose(np.bincount(samples, minlength=3) / 20_000, probs, atol=0.01)
    np.testing.assert_array_equal(samples, dist.sample(np.random.default_rng(0)))
    masked = Categorical(np.array([[0.0, -np.inf, 0.0]] * 1000)).sample(np.random.default_rng(1))
    assert set(masked.tolist()) == {0, 2}  # a class of probability 0 is never drawn


def test_mode_is_the_first_argmax_and_0d_logits_are_refused():
    np.testing.assert_array_equal(Categorical(np.array([[1.0, 3.0, 3.0], [2.0, 0.0, -1.0]])).mode(), [1, 0])
    with pytest.raises(ValueError, match="class axis"):
        Categorical(np.float64(1.0))
