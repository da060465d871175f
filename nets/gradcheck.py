"""Compare autograd gradients with central finite differences, in float64."""

from __future__ import annotations

import numpy as np

from .tensor import Tensor


def gradcheck(fn, inputs, eps: float = 1e-6, atol: float = 1e-5, rtol: float = 1e-4, seed: int = 0) -> bool:
    """Check d fn(*inputs) / d input for every input that requires grad.

    `fn` maps Tensors to a Tensor. A non-scalar output is reduced with fixed
    random weights (an uneven upstream gradient: a plain sum hides mistakes).
    Inputs must be float64. Raises AssertionError naming the input and the worst
    element on mismatch; returns True otherwise.

        >>> from rl_scratch.nets import Tensor, gradcheck
        >>> rng = np.random.default_rng(0)
        >>> x = Tensor(rng.normal(size=(3, 4)), requires_grad=True)
        >>> w = Tensor(rng.normal(size=(4, 2)), requires_grad=True)
        >>> gradcheck(lambda x, w: ((x @ w).tanh() + 1) ** 2, [x, w])
        True
    """
    inputs = list(inputs)
    for i, t in enumerate(inputs):
        if not isinstance(t, Tensor):
            raise TypeError(f"gradcheck input {i} is a {type(t).__name__}, expected a Tensor")
        if t.requires_grad and t.dtype != np.float64:
            raise TypeError(f"gradcheck input {i} has dtype {t.dtype}; finite differences need float64")
    output = fn(*inputs)
    weights = np.random.default_rng(seed).uniform(0.5, 1.5, output.shape)

    def objective() -> float:
        with_no_graph = fn(*inputs)
        return float((with_no_graph.data * weights).sum())

    for t in inputs:
        t.grad = None
    (output * Tensor(weights)).sum().backward()
    for i, t in enumerate(inputs):
        if not t.requires_grad:
            continue
        analytic = np.zeros_like(t.data) if t.grad is None else t.grad
        if not t.data.flags.c_contiguous:
            t.data = np.ascontiguousarray(t.data)
        numeric = np.zeros_like(t.data)
        flat = t.data.reshape(-1)  # a view: writing it perturbs the input in place
        for j in range(flat.size):
            original = flat[j]
            flat[j] = original + eps
            plus = objective()
            flat[j] = original - eps
            minus = objective()
            flat[j] = original
            numeric.reshape(-1)[j] = (plus - minus) / (2 * eps)
        error = np.abs(analytic - numeric)
        bound = atol + rtol * np.abs(numeric)
        if np.any(error > bound):
            worst = np.unravel_index(np.argmax(error - bound), t.shape)
            raise AssertionError(
                f"gradient of input {i} (shape {t.shape}) is wrong at index {worst}: "
                f"autograd {analytic[worst]:.8g}, finite differences {numeric[worst]:.8g}"
            )
    return True
