"""The fast path against the reading path.

Every fused kernel in `nets.kernels.KERNELS` is checked against the composed reference it
is registered with: forward, and the gradient of every input, in float64 with an uneven
upstream gradient. The primitives the references are built from are gradient-checked in
test_nets_tensor.py; here also on 0-d and empty shapes. Last, a representative subset of
the suite's learning tests runs again with RL_SCRATCH_READING_PATH=1.
"""

import os
import subprocess
import sys
from types import SimpleNamespace

import numpy as np
import pytest

from rl_scratch.nets import MLP, Tensor, gradcheck, kernels, no_grad, reading_path, where


def leaf(rng, *shape, scale=1.0):
    return Tensor(rng.normal(size=shape) * scale, requires_grad=True, dtype=np.float64)


def layers(*pairs):
    return [SimpleNamespace(weight=w, bias=b) for w, b in pairs]


def causal(T):
    return np.tril(np.ones((T, T), dtype=bool))


# name -> {case: rng -> (positional args, the Tensors whose gradients are compared)}
EXAMPLES = {
    "linear": {
        "2-D with bias": lambda r: ((x := leaf(r, 5, 3), w := leaf(r, 3, 4), b := leaf(r, 4), None), [x, w, b]),
        "3-D relu": lambda r: ((x := leaf(r, 2, 3, 3), w := leaf(r, 3, 4), b := leaf(r, 4), "relu"), [x, w, b]),
        "1-D tanh, no bias": lambda r: ((x := leaf(r, 3), w := leaf(r, 3, 2), None, "tanh"), [x, w]),
    },
    "mlp": {
        "relu, a layer without bias": lambda r: (
            (x := leaf(r, 6, 3), layers((w1 := leaf(r, 3, 5), b1 := leaf(r, 5)), (w2 := leaf(r, 5, 4), None),
                                        (w3 := leaf(r, 4, 2), b3 := leaf(r, 2))), "relu"), [x, w1, b1, w2, w3, b3]),
        "tanh on tokens": lambda r: (
            (x := leaf(r, 2, 3, 4), layers((w1 := leaf(r, 4, 5), b1 := leaf(r, 5)), (w2 := leaf(r, 5, 3), b2 := leaf(r, 3))),
             "tanh"), [x, w1, b1, w2, b2]),
    },
    "cross_entropy": {
        f"{kind} {reduction} smoothing {s}": (lambda kind, reduction, s: lambda r: (
            (z := leaf(r, 2, 3, 4, scale=2), r.integers(0, 4, (2, 3)) if kind == "indices"
             else r.dirichlet(np.ones(4), (2, 3)), reduction, s), [z]))(kind, reduction, s)
        for kind in ("indices", "probabilities") for reduction in ("mean", "sum", "none") for s in (0.0, 0.1)
    },
    "mse_loss": {reduction: (lambda reduction: lambda r: ((p := leaf(r, 4, 3), r.normal(size=(4, 3)), reduction), [p]))(
        reduction) for reduction in ("mean", "sum", "none")},
    "huber_loss": {f"{reduction} delta {delta}": (lambda reduction, delta: lambda r: (
        (p := leaf(r, 4, 3, scale=2), r.normal(size=(4, 3)), delta, reduction), [p]))(reduction, delta)
        for reduction in ("mean", "none") for delta in (1.0, 0.3)},
    "binary_cross_entropy_with_logits": {reduction: (lambda reduction: lambda r: (
        (z := leaf(r, 4, 3, scale=3), r.integers(0, 2, (4, 3)).astype(float), reduction), [z]))(reduction)
        for reduction in ("mean", "sum", "none")},
    "layer_norm": {"tokens": lambda r: ((x := leaf(r, 2, 3, 6, scale=3), w := leaf(r, 6), b := leaf(r, 6), 1e-5),
                                        [x, w, b])},
    "rms_norm": {"tokens": lambda r: ((x := leaf(r, 2, 3, 6, scale=3), w := leaf(r, 6), 1e-5), [x, w])},
    "attention": {
        "no mask": lambda r: ((qkv := leaf(r, 3, 2, 2, 4, 3), None, False), [qkv]),
        "causal": lambda r: ((qkv := leaf(r, 3, 2, 2, 4, 3), causal(4), True), [qkv]),
        "key mask": lambda r: ((qkv := leaf(r, 3, 2, 1, 4, 3), np.array([[True, False, True, True]])[:, None, None],
                                False), [qkv]),
    },
    "embedding": {"repeated ids": lambda r: ((np.array([[0, 3, 3], [6, 0, 3]]), w := leaf(r, 7, 5)), [w])},
}


def test_every_kernel_has_a_reference_and_examples():
    assert set(kernels.KERNELS) == set(EXAMPLES)
    for entry in kernels.KERNELS.values():
        assert entry.reference is not None and entry.reference is not entry.fused


def _output(result):
    return result[0] if isinstance(result, tuple) else result  # attention returns (output, weights)


def _grads(fn, args, inputs):
    for t in inputs:
        t.grad = None
    result = fn(*args)
    out = _output(result)
    ((out + 1) ** 2).mean().backward()  # uneven upstream gradient: a plain sum hides mistakes
    return result, [t.grad.copy() for t in inputs]


@pytest.mark.parametrize("name, case", [(name, case) for name, cases in EXAMPLES.items() for case in cases])
def test_kernel_matches_its_reference(name, case):
    entry = kernels.KERNELS[name]
    args, inputs = EXAMPLES[name][case](np.random.default_rng(0))
    fused, fused_grads = _grads(entry.fused, args, inputs)
    with reading_path():
        composed, composed_grads = _grads(entry.reference, args, inputs)
    np.testing.assert_allclose(_output(fused).data, _output(composed).data, rtol=1e-10, atol=1e-12)
    if isinstance(fused, tuple):
        np.testing.assert_allclose(fused[1], composed[1], rtol=1e-10, atol=1e-12)
    for i, (a, b) in enumerate(zip(fused_grads, composed_grads)):
        np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-11, err_msg=f"{name} [{case}]: gradient of input {i}")
    gradcheck(lambda *_: _output(entry.fused(*args)), inputs)


def test_the_switch_picks_the_path():
    assert kernels.fused_enabled()
    net = MLP([3, 4, 2], rng=np.random.default_rng(0), dtype=np.float64)
    x = np.random.default_rng(1).normal(size=(5, 3))
    fast = net(Tensor(x))
    assert fast._op == "mlp"
    with reading_path():
        assert not kernels.fused_enabled() and kernels.dispatch("mlp") is kernels.KERNELS["mlp"].reference
        read = net(Tensor(x))
        assert read._op == "add"  # the last layer's bias: a chain of primitives
        np.testing.assert_allclose(net.predict(x), fast.data, rtol=1e-12)
        with reading_path(False):
            assert kernels.fused_enabled()
    assert kernels.fused_enabled()
    np.testing.assert_allclose(read.data, fast.data, rtol=1e-12)
    with no_grad():
        np.testing.assert_allclose(net(Tensor(x)).data, fast.data, rtol=1e-12)


def test_the_environment_variable_turns_the_reading_path_on():
    code = "from rl_scratch.nets import kernels; print(kernels.fused_enabled())"
    for value, expected in [("1", "False"), ("0", "True")]:
        env = dict(os.environ, RL_SCRATCH_READING_PATH=value)
        out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
        assert out.stdout.strip() == expected


# ------------------------------------------------- primitives at the edges
EDGE_OPS = {
    "add": lambda x: x + x * 2, "sub": lambda x: 1 - x, "mul": lambda x: x * x, "div": lambda x: x / (x * x + 1),
    "neg": lambda x: -x, "pow": lambda x: x ** 2, "tensor pow": lambda x: (x * x + 1) ** x, "exp": Tensor.exp,
    "log": lambda x: (x * x + 1).log(), "sqrt": lambda x: (x * x + 1).sqrt(), "abs": Tensor.abs,
    "clip": lambda x: x.clip(-0.5, 0.5), "relu": Tensor.relu, "tanh": Tensor.tanh, "sigmoid": Tensor.sigmoid,
    "gelu": Tensor.gelu, "sum": lambda x: x.sum(), "mean": lambda x: x.mean(), "max": lambda x: x.max(),
    "var": lambda x: x.var(), "softmax": lambda x: x.softmax(axis=-1), "log_softmax": lambda x: x.log_softmax(axis=-1),
    "reshape": lambda x: x.reshape(-1), "transpose": lambda x: x.T, "getitem": lambda x: x[..., None],
    "matmul": lambda x: x @ x.T if x.ndim else x * x, "where": lambda x: where(x > 0, x, -x),
}


EDGE_CASES = [(name, shape) for name in EDGE_OPS for shape in [(), (0,), (0, 3), (3, 0)]
              if not (shape == () and name in ("softmax", "log_softmax"))]  # a 0-d value has no axis to normalize


@pytest.mark.parametrize("name, shape", EDGE_CASES)
def test_primitives_on_0d_and_empty_shapes(name, shape):
    op = EDGE_OPS[name]
    if name == "max" and 0 in shape:
        with pytest.raises(ValueError):  # NumPy and PyTorch: the max of nothing is an error
            op(leaf(np.random.default_rng(0), *shape))
        return
    x = leaf(np.random.default_rng(0), *shape)
    out = op(x)
    if out.size:
        out = ((out + 1) ** 2).mean()
        out.backward()
        assert x.grad.shape == x.shape and x.grad.dtype == x.dtype
        gradcheck(lambda t: ((op(t) + 1) ** 2).mean(), [x])
    else:
        out.backward(np.zeros(out.shape))
        assert x.grad.shape == x.shape


# ------------------------------------------------- learning on the reading path
READING_PATH_LEARNING_TESTS = [
    "tests/test_agents_ppo.py::test_reaches_the_value_iteration_optimum_on_gridworld",
    "tests/test_agents_deep.py::test_dqn_reaches_the_optimal_return_on_gridworld",
    "tests/test_agents_deep.py::test_reinforce_reaches_the_optimal_return_on_gridworld",
    "tests/test_supervised.py::test_supervised_learns_iris_quickly",
]


def test_learning_tests_pass_on_the_reading_path():
    env = dict(os.environ, RL_SCRATCH_READING_PATH="1")
    result = subprocess.run([sys.executable, "-m", "pytest", "-q", "-x", "-p", "no:cacheprovider",
                             *READING_PATH_LEARNING_TESTS], env=env, capture_output=True, text=True,
                            cwd=os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    assert " passed" in result.stdout and "skipped" not in result.stdout
