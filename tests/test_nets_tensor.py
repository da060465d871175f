"""Unit tests for the Tensor engine and the fused ops in `nets.functional`.

Every op and loss is gradient-checked in float64 with central differences
(`gradcheck` reduces a non-scalar output with uneven random weights), on shapes
that hypothesis draws, broadcasting pairs and scalars included. Fused ops are
compared with the same computation composed from primitives, and a few with
PyTorch when it is installed.
"""

import math
import sys
from types import SimpleNamespace

import numpy as np
import pytest
from conftest import import_torch
from hypothesis import example, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import array_shapes, mutually_broadcastable_shapes

from rl_scratch.nets import F, Linear, Tensor, concat, gradcheck, is_grad_enabled, no_grad, stack, where, zeros, ones
from rl_scratch.nets.value import Value

FEW = settings(max_examples=12, deadline=None)
seeds = st.integers(0, 2**32 - 1)
shapes = array_shapes(min_dims=0, max_dims=3, min_side=1, max_side=4)
nonscalar_shapes = array_shapes(min_dims=1, max_dims=3, min_side=1, max_side=4)
shape_pairs = mutually_broadcastable_shapes(num_shapes=2, min_dims=0, max_dims=3, max_side=3).map(
    lambda result: result.input_shapes)


def leaf(array) -> Tensor:
    return Tensor(np.array(array, dtype=np.float64), requires_grad=True)


def away_from_zero(rng, shape, low=0.2, high=2.0) -> np.ndarray:
    """Values with |x| in [low, high]: keeps kinks (relu, abs) and poles (1/x) out of the finite differences."""
    return np.asarray(rng.uniform(low, high, shape) * rng.choice([-1.0, 1.0], shape))


def distinct(rng, shape) -> np.ndarray:
    """Values at least 0.4 apart, so max/min have no ties a finite difference could flip."""
    size = math.prod(shape)
    return (rng.permutation(size) * 0.5 + rng.uniform(0, 0.1, size)).reshape(shape) - size / 4


def torch_module():
    return import_torch()


# ------------------------------------------------------------------ binary ops
BINARY_OPS = {
    "add": (lambda a, b: a + b, np.add),
    "sub": (lambda a, b: a - b, np.subtract),
    "mul": (lambda a, b: a * b, np.multiply),
    "div": (lambda a, b: a / b, np.divide),
    "pow": (lambda a, b: a ** b, np.power),  # tensor exponent: exp(b log a), a > 0
}


@pytest.mark.parametrize("name", BINARY_OPS)
@FEW
@given(shape_pair=shape_pairs, seed=seeds)
@example(shape_pair=((3, 1, 4), (2, 4)), seed=0)
@example(shape_pair=((), (2, 3)), seed=1)
@example(shape_pair=((2, 3), ()), seed=2)
def test_binary_op_gradients_with_broadcasting(name, shape_pair, seed):
    op, reference = BINARY_OPS[name]
    rng = np.random.default_rng(seed)
    a = rng.uniform(0.5, 2.0, shape_pair[0])
    b = away_from_zero(rng, shape_pair[1], 0.5, 2.0)
    np.testing.assert_allclose(op(leaf(a), leaf(b)).data, reference(a, b), rtol=1e-12)
    gradcheck(op, [leaf(a), leaf(b)])


SCALAR_OPERAND_OPS = {
    "x + 2.5": lambda x: x + 2.5,
    "2.5 + x": lambda x: 2.5 + x,
    "x - 1.5": lambda x: x - 1.5,
    "1.5 - x": lambda x: 1.5 - x,
    "x * -3": lambda x: x * -3,
    "-3 * x": lambda x: -3 * x,
    "x / 2": lambda x: x / 2,
    "2 / x": lambda x: 2 / x,
    "-x": lambda x: -x,
    "x ** 3": lambda x: x ** 3,
    "x ** 0.5": lambda x: x ** 0.5,
    "x ** -1.5": lambda x: x ** -1.5,
    "ndarray + x": lambda x: np.linspace(-1, 1, x.shape[-1]) + x,
    "ndarray - x": lambda x: np.linspace(-1, 1, x.shape[-1]) - x,
    "ndarray * x": lambda x: np.linspace(-1, 1, x.shape[-1]) * x,
}


@pytest.mark.parametrize("name", SCALAR_OPERAND_OPS)
def test_ops_with_python_and_numpy_operands(name):
    op = SCALAR_OPERAND_OPS[name]
    x = np.random.default_rng(0).uniform(0.5, 2.0, (2, 3))  # positive: fractional powers
    out = op(leaf(x))
    assert isinstance(out, Tensor)
    np.testing.assert_allclose(out.data, op(x), rtol=1e-12)
    gradcheck(op, [leaf(x)])


# ---------------------------------------------------------------------- matmul
MATMUL_SHAPES = {
    "vector @ vector": lambda n, k, m, b: ((k,), (k,)),
    "vector @ matrix": lambda n, k, m, b: ((k,), (k, m)),
    "matrix @ vector": lambda n, k, m, b: ((n, k), (k,)),
    "matrix @ matrix": lambda n, k, m, b: ((n, k), (k, m)),
    "batch @ weight": lambda n, k, m, b: ((b, n, k), (k, m)),
    "matrix @ batch": lambda n, k, m, b: ((n, k), (b, k, m)),
    "vector @ batch": lambda n, k, m, b: ((k,), (b, k, m)),
    "batch @ vector": lambda n, k, m, b: ((b, n, k), (k,)),
    "broadcast batch dims": lambda n, k, m, b: ((b, 1, n, k), (2, k, m)),
}


@pytest.mark.parametrize("case", MATMUL_SHAPES)
@settings(max_examples=6, deadline=None)
@given(sizes=st.tuples(*[st.integers(1, 3)] * 4), seed=seeds)
def test_matmul_gradients(case, sizes, seed):
    shape_a, shape_b = MATMUL_SHAPES[case](*sizes)
    rng = np.random.default_rng(seed)
    a, b = rng.standard_normal(shape_a), rng.standard_normal(shape_b)
    np.testing.assert_allclose((leaf(a) @ leaf(b)).data, a @ b, rtol=1e-12)
    gradcheck(lambda x, y: x @ y, [leaf(a), leaf(b)])


def test_batched_matmul_gives_the_weight_a_summed_gradient():
    rng = np.random.default_rng(0)
    x, w = leaf(rng.standard_normal((5, 3, 4))), leaf(rng.standard_normal((4, 2)))
    upstream = rng.standard_normal((5, 3, 2))
    (x @ w).backward(upstream)
    assert w.grad.shape == (4, 2)
    np.testing.assert_allclose(w.grad, sum(x.data[i].T @ upstream[i] for i in range(5)), rtol=1e-12)


def test_ndarray_matmul_tensor():
    rng = np.random.default_rng(0)
    a, w = rng.standard_normal((3, 4)), leaf(rng.standard_normal((4, 2)))
    out = a @ w
    assert isinstance(out, Tensor)
    out.backward(np.ones((3, 2)))
    np.testing.assert_allclose(w.grad, a.T @ np.ones((3, 2)))


# ------------------------------------------------------------------ reductions
REDUCTIONS = {
    "sum": (lambda x, axis, keep: x.sum(axis=axis, keepdims=keep), np.sum),
    "mean": (lambda x, axis, keep: x.mean(axis=axis, keepdims=keep), np.mean),
    "var": (lambda x, axis, keep: x.var(axis=axis, keepdims=keep), np.var),
    "max": (lambda x, axis, keep: x.max(axis=axis, keepdims=keep), np.max),
    "min": (lambda x, axis, keep: x.min(axis=axis, keepdims=keep), np.min),
}


@st.composite
def shape_and_axis(draw):
    shape = draw(nonscalar_shapes)
    ndim = len(shape)
    single = st.integers(-ndim, ndim - 1)
    pairs = st.lists(st.integers(0, ndim - 1), min_size=2, max_size=2, unique=True).map(tuple)
    axis = draw(st.one_of(st.none(), single, pairs) if ndim > 1 else st.one_of(st.none(), single))
    return shape, axis


@pytest.mark.parametrize("name", REDUCTIONS)
@FEW
@given(case=shape_and_axis(), keepdims=st.booleans(), seed=seeds)
def test_reduction_gradients(name, case, keepdims, seed):
    op, reference = REDUCTIONS[name]
    shape, axis = case
    x = distinct(np.random.default_rng(seed), shape)
    out = op(leaf(x), axis, keepdims)
    np.testing.assert_allclose(out.data, reference(x, axis=axis, keepdims=keepdims), rtol=1e-12, atol=1e-12)
    gradcheck(lambda t: op(t, axis, keepdims), [leaf(x)])


def test_max_splits_the_gradient_between_ties():
    x = leaf([1.0, 3.0, 3.0, 2.0])
    x.max().backward()
    np.testing.assert_array_equal(x.grad, [0.0, 0.5, 0.5, 0.0])


# ----------------------------------------------------------------- elementwise
def _clip_safe(rng, shape):
    """|x| in [0.05, 0.45] or [0.55, 1.5]: never within 0.05 of the clip bounds +-0.5."""
    inside = rng.uniform(0.05, 0.45, shape)
    outside = rng.uniform(0.55, 1.5, shape)
    return np.where(rng.random(shape) < 0.5, inside, outside) * rng.choice([-1.0, 1.0], shape)


UNARY_OPS = {
    # name: (op, numpy reference, input sampler)
    "neg": (lambda x: -x, np.negative, lambda r, s: r.uniform(-2, 2, s)),
    "exp": (lambda x: x.exp(), np.exp, lambda r, s: r.uniform(-2, 2, s)),
    "log": (lambda x: x.log(), np.log, lambda r, s: r.uniform(0.2, 3, s)),
    "sqrt": (lambda x: x.sqrt(), np.sqrt, lambda r, s: r.uniform(0.2, 3, s)),
    "abs": (lambda x: x.abs(), np.abs, away_from_zero),
    "relu": (lambda x: x.relu(), lambda x: np.maximum(x, 0), away_from_zero),
    "tanh": (lambda x: x.tanh(), np.tanh, lambda r, s: r.uniform(-3, 3, s)),
    "sigmoid": (lambda x: x.sigmoid(), lambda x: 1 / (1 + np.exp(-x)), lambda r, s: r.uniform(-5, 5, s)),
    "gelu": (lambda x: x.gelu(),
             lambda x: 0.5 * x * (1 + np.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x ** 3))),
             lambda r, s: r.uniform(-3, 3, s)),
    "clip": (lambda x: x.clip(-0.5, 0.5), lambda x: np.clip(x, -0.5, 0.5), _clip_safe),
    "clip low only": (lambda x: x.clip(low=-0.5), lambda x: np.maximum(x, -0.5), _clip_safe),
    "clip high only": (lambda x: x.clip(high=0.5), lambda x: np.minimum(x, 0.5), _clip_safe),
    "pow 3": (lambda x: x ** 3, lambda x: x ** 3, lambda r, s: r.uniform(-2, 2, s)),
    "pow -2": (lambda x: x ** -2, lambda x: x ** -2.0, away_from_zero),
    "pow 0.5": (lambda x: x ** 0.5, np.sqrt, lambda r, s: r.uniform(0.2, 3, s)),
}


@pytest.mark.parametrize("name", UNARY_OPS)
@FEW
@given(shape=shapes, seed=seeds)
def test_unary_op_gradients(name, shape, seed):
    op, reference, sample = UNARY_OPS[name]
    x = np.asarray(sample(np.random.default_rng(seed), shape), dtype=np.float64)
    np.testing.assert_allclose(op(leaf(x)).data, reference(x), rtol=1e-12, atol=1e-15)
    gradcheck(op, [leaf(x)])


@pytest.mark.parametrize("function", ["softmax", "log_softmax"])
@FEW
@given(case=shape_and_axis(), temperature=st.sampled_from([0.5, 1.0, 3.0]), seed=seeds)
def test_softmax_gradients_with_temperature(function, case, temperature, seed):
    shape, axis = case
    axis = -1 if axis is None or isinstance(axis, tuple) else axis
    x = np.random.default_rng(seed).standard_normal(shape) * 2
    op = lambda t: getattr(t, function)(axis=axis, temperature=temperature)
    z = x / temperature
    log_p = z - z.max(axis, keepdims=True) - np.log(np.exp(z - z.max(axis, keepdims=True)).sum(axis, keepdims=True))
    expected = log_p if function == "log_softmax" else np.exp(log_p)
    np.testing.assert_allclose(op(leaf(x)).data, expected, rtol=1e-10, atol=1e-12)
    gradcheck(op, [leaf(x)])


# ------------------------------------------------------------------- shape ops
SHAPE_OPS = {
    "reshape": lambda x: x.reshape(4, 6),
    "reshape tuple with -1": lambda x: x.reshape((-1, 3)),
    "flatten": lambda x: x.flatten(),
    "permute": lambda x: x.permute(2, 0, 1),
    "permute negative axes": lambda x: x.permute(-1, 0, -2),
    "transpose": lambda x: x.transpose(0, 2),
    "transpose default": lambda x: x.transpose(),
    "T": lambda x: x.T,
    "unsqueeze": lambda x: x.unsqueeze(1),
    "squeeze": lambda x: x[:, :1].squeeze(1),
}


@pytest.mark.parametrize("name", SHAPE_OPS)
def test_shape_op_gradients(name):
    x = np.random.default_rng(0).standard_normal((2, 3, 4))
    gradcheck(SHAPE_OPS[name], [leaf(x)])


@FEW
@given(shape=nonscalar_shapes, data=st.data(), seed=seeds)
def test_permute_gradients_for_any_axis_order(shape, data, seed):
    axes = data.draw(st.permutations(range(len(shape))))
    x = np.random.default_rng(seed).standard_normal(shape)
    np.testing.assert_array_equal(leaf(x).permute(*axes).data, x.transpose(axes))
    gradcheck(lambda t: t.permute(*axes), [leaf(x)])


_X45 = np.random.default_rng(1).standard_normal((4, 5))
INDEXES = {
    "integer": 1,
    "slice": slice(1, 3),
    "negative step": slice(None, None, -2),
    "column slice": (slice(None), slice(1, 4, 2)),
    "integer array with repeats": np.array([0, 2, 0, 0]),
    "list with repeats": [3, 3, 1],
    "2-D integer array": np.array([[0, 1], [1, 1]]),
    "paired arrays with repeats": (np.array([0, 0, 3, 0]), np.array([1, 1, 2, 1])),
    "boolean mask": _X45 > 0,
    "ellipsis": (Ellipsis, 2),
    "newaxis and negative": (None, slice(1, None), -1),
    "tensor index": Tensor(np.array([2, 2, 0]), dtype=np.int64),
}


@pytest.mark.parametrize("name", INDEXES)
def test_getitem_gradients(name):
    index = INDEXES[name]
    raw = index.data if isinstance(index, Tensor) else index
    np.testing.assert_array_equal(leaf(_X45)[index].data, _X45[raw])
    gradcheck(lambda t: t[index], [leaf(_X45)])


def test_repeated_indices_sum_their_gradients():
    x = leaf(np.zeros((3, 2)))
    x[[0, 0, 0, 2]].sum().backward()
    np.testing.assert_array_equal(x.grad, [[3, 3], [0, 0], [1, 1]])


GATHERS = {
    "rows pick columns, repeats": ((3, 4), np.array([[0, 0], [3, 1], [2, 2]]), 1),
    "columns pick rows, repeats": ((3, 4), np.array([[0, 2, 2, 1], [0, 0, 2, 1]]), 0),
    "3-D last axis": ((2, 3, 4), np.array([[[1], [3], [3]], [[0], [0], [2]]]), -1),
    "one row picked per column": ((3, 4), np.array([[0, 2, 1, 1]]), 0),
}


@pytest.mark.parametrize("name", GATHERS)
def test_gather_gradients(name):
    shape, index, axis = GATHERS[name]
    x = np.random.default_rng(0).standard_normal(shape)
    np.testing.assert_array_equal(leaf(x).gather(index, axis=axis).data, np.take_along_axis(x, index, axis))
    gradcheck(lambda t: t.gather(index, axis=axis), [leaf(x)])


def test_gather_rejects_bad_indices():
    x = leaf(np.zeros((3, 4)))
    with pytest.raises(TypeError, match="integers"):
        x.gather(np.zeros((3, 1)), axis=1)
    with pytest.raises(ValueError, match=r"index\[:, None\]"):
        x.gather(np.array([0, 1, 2]), axis=1)


@pytest.mark.parametrize("shapes_, axis", [
    (((2, 3), (1, 3), (4, 3)), 0),
    (((2, 1), (2, 3)), -1),
    (((2, 2, 1), (2, 2, 2), (2, 2, 3)), 2),
])
def test_concat_gradients(shapes_, axis):
    rng = np.random.default_rng(0)
    arrays = [rng.standard_normal(s) for s in shapes_]
    np.testing.assert_array_equal(concat([leaf(a) for a in arrays], axis=axis).data, np.concatenate(arrays, axis))
    gradcheck(lambda *ts: concat(ts, axis=axis), [leaf(a) for a in arrays])


@pytest.mark.parametrize("axis", [0, 1, -1])
def test_stack_gradients(axis):
    rng = np.random.default_rng(0)
    arrays = [rng.standard_normal((2, 3)) for _ in range(3)]
    np.testing.assert_array_equal(stack([leaf(a) for a in arrays], axis=axis).data, np.stack(arrays, axis))
    gradcheck(lambda *ts: stack(ts, axis=axis), [leaf(a) for a in arrays])


def test_concat_with_a_constant_only_reaches_the_leaf():
    x = leaf(np.ones((2, 2)))
    concat([x, np.zeros((1, 2))], axis=0).sum().backward()
    np.testing.assert_array_equal(x.grad, np.ones((2, 2)))


@pytest.mark.parametrize("shape_a, shape_b", [((2, 3), (2, 3)), ((2, 3), (3,)), ((1, 3), (2, 1)), ((2, 3), ())])
def test_where_gradients(shape_a, shape_b):
    rng = np.random.default_rng(0)
    condition = rng.random((2, 3)) < 0.5
    a, b = rng.standard_normal(shape_a), rng.standard_normal(shape_b)
    np.testing.assert_array_equal(where(condition, leaf(a), leaf(b)).data, np.where(condition, a, b))
    gradcheck(lambda x, y: where(condition, x, y), [leaf(a), leaf(b)])


def test_where_with_a_python_number_keeps_the_tensor_dtype():
    x = Tensor(np.ones(3, dtype=np.float32), requires_grad=True)
    condition = np.array([True, False, True])
    assert where(condition, x, 0.0).dtype == np.float32
    assert where(condition, 0.0, x).dtype == np.float32


@pytest.mark.parametrize("mask_shape", [(2, 3), (3,), (2, 1)])
def test_masked_fill_gradients(mask_shape):
    rng = np.random.default_rng(0)
    mask = rng.random(mask_shape) < 0.5
    x = rng.standard_normal((2, 3))
    out = leaf(x).masked_fill(mask, -5.0)
    np.testing.assert_array_equal(out.data, np.where(mask, -5.0, x))
    gradcheck(lambda t: t.masked_fill(mask, -5.0), [leaf(x)])


# ---------------------------------------------------------- functional and losses
@pytest.mark.parametrize("x_shape", [(5, 3), (2, 4, 3), (3,)])
@pytest.mark.parametrize("with_bias", [True, False])
def test_linear_gradients_and_composed_reference(x_shape, with_bias):
    rng = np.random.default_rng(0)
    x, w, b = rng.standard_normal(x_shape), rng.standard_normal((3, 2)), rng.standard_normal(2)
    inputs = [leaf(x), leaf(w)] + ([leaf(b)] if with_bias else [])
    gradcheck(F.linear, inputs)

    fused_inputs = [leaf(x), leaf(w)] + ([leaf(b)] if with_bias else [])
    composed_inputs = [leaf(x), leaf(w)] + ([leaf(b)] if with_bias else [])
    fused = F.linear(*fused_inputs)
    composed = composed_inputs[0] @ composed_inputs[1] + (composed_inputs[2] if with_bias else 0.0)
    np.testing.assert_allclose(fused.data, composed.data, rtol=1e-12)
    upstream = rng.standard_normal(fused.shape)
    fused.backward(upstream)
    composed.backward(upstream)
    for f, c in zip(fused_inputs, composed_inputs):
        np.testing.assert_allclose(f.grad, c.grad, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("activation", ["relu", "tanh"])
@pytest.mark.parametrize("x_shape", [(5, 3), (2, 4, 3)])
def test_linear_with_fused_activation_matches_the_composed_ops(activation, x_shape):
    rng = np.random.default_rng(1)
    x, w, b = rng.standard_normal(x_shape), rng.standard_normal((3, 4)), rng.standard_normal(4)
    gradcheck(lambda *t: F.linear(*t, activation=activation), [leaf(x), leaf(w), leaf(b)])
    fused_inputs, composed_inputs = [leaf(x), leaf(w), leaf(b)], [leaf(x), leaf(w), leaf(b)]
    fused = F.linear(*fused_inputs, activation=activation)
    composed = getattr(F.linear(*composed_inputs), activation)()
    np.testing.assert_allclose(fused.data, composed.data, rtol=1e-12)
    upstream = rng.standard_normal(fused.shape)
    fused.backward(upstream)
    composed.backward(upstream)
    for f, c in zip(fused_inputs, composed_inputs):
        np.testing.assert_allclose(f.grad, c.grad, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("activation", ["relu", "tanh"])
@pytest.mark.parametrize("x_shape", [(5, 3), (2, 4, 3), (3,)])
def test_fused_mlp_matches_chained_linear_layers(activation, x_shape):
    rng = np.random.default_rng(2)
    arrays = [rng.standard_normal(x_shape), rng.standard_normal((3, 4)), rng.standard_normal(4),
              rng.standard_normal((4, 5)), None, rng.standard_normal((5, 2)), rng.standard_normal(2)]

    def build():
        x, w1, b1, w2, b2, w3, b3 = [None if a is None else leaf(a) for a in arrays]
        return x, [w1, w2, w3], [b1, b2, b3]

    def layers(weights, biases):  # F.mlp reads each layer's weight and bias, as a Linear has them
        return [SimpleNamespace(weight=w, bias=b) for w, b in zip(weights, biases)]

    x, weights, biases = build()
    gradcheck(lambda x, w1, b1, w2, w3, b3: F.mlp(x, layers([w1, w2, w3], [b1, None, b3]), activation),
              [x, weights[0], biases[0], weights[1], weights[2], biases[2]])
    fused_x, fused_w, fused_b = build()
    chained_x, chained_w, chained_b = build()
    fused = F.mlp(fused_x, layers(fused_w, fused_b), activation)
    h = F.linear(chained_x, chained_w[0], chained_b[0], activation=activation)
    h = F.linear(h, chained_w[1], None, activation=activation)
    chained = F.linear(h, chained_w[2], chained_b[2])
    np.testing.assert_allclose(fused.data, chained.data, rtol=1e-12)
    upstream = rng.standard_normal(fused.shape)
    for _ in range(2):  # a second backward through the same graph adds the same gradients again
        fused.backward(upstream)
        chained.backward(upstream)
    for f, c in zip([fused_x, *fused_w, fused_b[0], fused_b[2]], [chained_x, *chained_w, chained_b[0], chained_b[2]]):
        np.testing.assert_allclose(f.grad, c.grad, rtol=1e-12, atol=1e-14)


def test_cross_entropy_backward_twice_doubles_the_gradient():
    rng = np.random.default_rng(3)
    logits, target = leaf(rng.standard_normal((6, 4))), rng.integers(0, 4, 6)
    loss = F.cross_entropy(logits, target)
    loss.backward()
    once = logits.grad.copy()
    loss.backward()
    np.testing.assert_allclose(logits.grad, 2 * once, rtol=1e-12)


REDUCTION_MODES = ["mean", "sum", "none"]


@pytest.mark.parametrize("reduction", REDUCTION_MODES)
@pytest.mark.parametrize("label_smoothing", [0.0, 0.1])
@pytest.mark.parametrize("logits_shape", [(5, 4), (2, 3, 4)])
def test_cross_entropy_with_indices_gradients(reduction, label_smoothing, logits_shape):
    rng = np.random.default_rng(0)
    logits = rng.standard_normal(logits_shape) * 2
    target = rng.integers(0, 4, logits_shape[:-1])
    gradcheck(lambda z: F.cross_entropy(z, target, reduction=reduction, label_smoothing=label_smoothing),
              [leaf(logits)])


@pytest.mark.parametrize("reduction", REDUCTION_MODES)
@pytest.mark.parametrize("label_smoothing", [0.0, 0.2])
def test_cross_entropy_with_probabilities_gradients(reduction, label_smoothing):
    rng = np.random.default_rng(1)
    logits = rng.standard_normal((5, 3))
    target = rng.dirichlet(np.ones(3), size=5)
    gradcheck(lambda z: F.cross_entropy(z, target, reduction=reduction, label_smoothing=label_smoothing),
              [leaf(logits)])


@pytest.mark.parametrize("label_smoothing", [0.0, 0.1])
def test_cross_entropy_equals_composed_log_softmax(label_smoothing):
    rng = np.random.default_rng(2)
    logits = rng.standard_normal((6, 5)) * 3
    target = rng.integers(0, 5, 6)
    onehot = np.eye(5)[target] * (1 - label_smoothing) + label_smoothing / 5
    fused_in, composed_in = leaf(logits), leaf(logits)
    fused = F.cross_entropy(fused_in, target, label_smoothing=label_smoothing)
    composed = -(composed_in.log_softmax(-1) * onehot).sum(-1).mean()
    np.testing.assert_allclose(fused.item(), composed.item(), rtol=1e-12)
    fused.backward()
    composed.backward()
    np.testing.assert_allclose(fused_in.grad, composed_in.grad, rtol=1e-10, atol=1e-14)

    probs = rng.dirichlet(np.ones(5), size=6)
    from_probs = F.cross_entropy(leaf(logits), probs, reduction="sum")
    np.testing.assert_allclose(from_probs.item(), -(leaf(logits).log_softmax(-1) * probs).sum().item(), rtol=1e-12)


def test_cross_entropy_rejects_bad_targets():
    logits = leaf(np.zeros((3, 4)))
    for out_of_range in ([0, 4, 1], [0, -1, 1], np.array([0, 2**63, 1], np.uint64)):
        with pytest.raises(ValueError, match="out of range"):
            F.cross_entropy(logits, np.array(out_of_range))
        with pytest.raises(ValueError, match="out of range"):
            F.cross_entropy(logits, np.array(out_of_range), label_smoothing=0.1)
    with pytest.raises(ValueError, match="shape"):
        F.cross_entropy(logits, np.array([0, 1]))
    with pytest.raises(ValueError, match="reduction"):
        F.cross_entropy(logits, np.array([0, 1, 2]), reduction="average")


@pytest.mark.parametrize("loss", [
    lambda x, reduction: F.cross_entropy(x, np.array([0, 1]), reduction=reduction),
    lambda x, reduction: F.nll_loss(x.log_softmax(-1), np.array([0, 1]), reduction=reduction),
    lambda x, reduction: F.mse_loss(x, np.zeros((2, 3)), reduction=reduction),
    lambda x, reduction: F.huber_loss(x, np.zeros((2, 3)), reduction=reduction),
    lambda x, reduction: F.binary_cross_entropy_with_logits(x, np.zeros((2, 3)), reduction=reduction),
    lambda x, reduction: F.binary_cross_entropy(x.sigmoid(), np.zeros((2, 3)), reduction=reduction),
], ids=["cross_entropy", "nll", "mse", "huber", "bce_with_logits", "bce"])
def test_every_loss_rejects_an_unknown_reduction(loss):
    with pytest.raises(ValueError, match="'avg'"):
        loss(leaf(np.zeros((2, 3))), "avg")


@pytest.mark.parametrize("axis", [-1, 0])
def test_log_softmax_equals_the_manual_stable_formula(axis):
    x = np.random.default_rng(3).standard_normal((4, 5)) * 3
    fused_in, manual_in = leaf(x), leaf(x)
    fused = fused_in.log_softmax(axis)
    shifted = manual_in - manual_in.max(axis=axis, keepdims=True)
    manual = shifted - shifted.exp().sum(axis=axis, keepdims=True).log()
    np.testing.assert_allclose(fused.data, manual.data, rtol=1e-12, atol=1e-14)
    upstream = np.random.default_rng(4).standard_normal(x.shape)
    fused.backward(upstream)
    manual.backward(upstream)
    np.testing.assert_allclose(fused_in.grad, manual_in.grad, rtol=1e-10, atol=1e-12)

    softmax_in, composed_in = leaf(x), leaf(x)
    softmax = softmax_in.softmax(axis)
    e = composed_in.exp()
    composed = e / e.sum(axis=axis, keepdims=True)
    np.testing.assert_allclose(softmax.data, composed.data, rtol=1e-12)
    softmax.backward(upstream)
    composed.backward(upstream)
    np.testing.assert_allclose(softmax_in.grad, composed_in.grad, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("reduction", REDUCTION_MODES)
def test_mse_gradients(reduction):
    rng = np.random.default_rng(0)
    prediction, target = rng.standard_normal((4, 3)), rng.standard_normal((4, 3))
    gradcheck(lambda p: F.mse_loss(p, target, reduction=reduction), [leaf(prediction)])
    expected = {"mean": np.mean, "sum": np.sum, "none": lambda a: a}[reduction]((prediction - target) ** 2)
    np.testing.assert_allclose(F.mse_loss(leaf(prediction), target, reduction=reduction).data, expected)


@pytest.mark.parametrize("reduction", REDUCTION_MODES)
@pytest.mark.parametrize("delta", [1.0, 0.5])
def test_huber_gradients_in_both_regimes(reduction, delta):
    rng = np.random.default_rng(0)
    target = rng.standard_normal(12)
    # half the errors well inside delta (quadratic), half well beyond (linear)
    offsets = np.concatenate([rng.uniform(0.1, 0.8, 6), rng.uniform(1.2, 3.0, 6)]) * delta
    offsets *= rng.choice([-1.0, 1.0], 12)
    prediction = target + offsets
    gradcheck(lambda p: F.huber_loss(p, target, delta=delta, reduction=reduction), [leaf(prediction)])
    per_item = F.huber_loss(leaf(prediction), target, delta=delta, reduction="none").data
    np.testing.assert_allclose(per_item[:6], 0.5 * offsets[:6] ** 2)
    np.testing.assert_allclose(per_item[6:], delta * (np.abs(offsets[6:]) - 0.5 * delta))


@pytest.mark.parametrize("reduction", REDUCTION_MODES)
def test_bce_with_logits_gradients(reduction):
    rng = np.random.default_rng(0)
    logits = rng.standard_normal((3, 4)) * 3
    target = np.where(rng.random((3, 4)) < 0.5, rng.random((3, 4)), rng.integers(0, 2, (3, 4)))
    gradcheck(lambda z: F.binary_cross_entropy_with_logits(z, target, reduction=reduction), [leaf(logits)])
    p = 1 / (1 + np.exp(-logits))
    expected = -(target * np.log(p) + (1 - target) * np.log(1 - p))
    np.testing.assert_allclose(F.binary_cross_entropy_with_logits(leaf(logits), target, reduction="none").data,
                               expected, rtol=1e-10)


@pytest.mark.parametrize("reduction", REDUCTION_MODES)
def test_bce_on_probabilities_gradients(reduction):
    rng = np.random.default_rng(0)
    probs = rng.uniform(0.05, 0.95, (3, 4))
    target = rng.integers(0, 2, (3, 4)).astype(float)
    gradcheck(lambda p: F.binary_cross_entropy(p, target, reduction=reduction), [leaf(probs)])
    logits = np.log(probs / (1 - probs))
    np.testing.assert_allclose(F.binary_cross_entropy(leaf(probs), target, reduction=reduction).data,
                               F.binary_cross_entropy_with_logits(leaf(logits), target, reduction=reduction).data,
                               rtol=1e-10)


@pytest.mark.parametrize("reduction", REDUCTION_MODES)
def test_nll_loss_gradients_and_agreement_with_cross_entropy(reduction):
    rng = np.random.default_rng(0)
    logits = rng.standard_normal((5, 3))
    target = np.array([0, 2, 2, 1, 0])
    gradcheck(lambda z: F.nll_loss(z.log_softmax(-1), target, reduction=reduction), [leaf(logits)])
    np.testing.assert_allclose(F.nll_loss(leaf(logits).log_softmax(-1), target, reduction=reduction).data,
                               F.cross_entropy(leaf(logits), target, reduction=reduction).data, rtol=1e-12)


# ------------------------------------------------------------------- PyTorch
def test_gelu_matches_pytorch_tanh_approximation():
    torch = torch_module()
    x = np.linspace(-6, 6, 101)
    ours = leaf(x)
    out = ours.gelu()
    out.backward(np.ones_like(x))
    theirs = torch.tensor(x, requires_grad=True)
    reference = torch.nn.functional.gelu(theirs, approximate="tanh")
    reference.sum().backward()
    np.testing.assert_allclose(out.data, reference.detach().numpy(), rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(ours.grad, theirs.grad.numpy(), rtol=1e-10, atol=1e-14)


def _compare_loss_with_torch(torch, ours_fn, torch_fn, x):
    ours = leaf(x)
    loss = ours_fn(ours)
    loss.backward(np.ones(loss.shape))
    theirs = torch.tensor(x, requires_grad=True)
    reference = torch_fn(theirs)
    reference.backward(torch.ones_like(reference))
    np.testing.assert_allclose(loss.data, reference.detach().numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(ours.grad, theirs.grad.numpy(), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("reduction", REDUCTION_MODES)
@pytest.mark.parametrize("delta", [1.0, 0.3])
def test_huber_matches_pytorch(reduction, delta):
    torch = torch_module()
    rng = np.random.default_rng(0)
    prediction, target = rng.standard_normal(20) * 2, rng.standard_normal(20)
    _compare_loss_with_torch(
        torch, lambda p: F.huber_loss(p, target, delta=delta, reduction=reduction),
        lambda p: torch.nn.functional.huber_loss(p, torch.tensor(target), delta=delta, reduction=reduction),
        prediction)


@pytest.mark.parametrize("reduction", REDUCTION_MODES)
def test_bce_with_logits_matches_pytorch(reduction):
    torch = torch_module()
    rng = np.random.default_rng(0)
    logits = np.concatenate([rng.standard_normal(10) * 3, [-800.0, -30.0, 30.0, 800.0]])
    target = np.concatenate([rng.random(10), [1.0, 0.0, 1.0, 0.0]])
    _compare_loss_with_torch(
        torch, lambda z: F.binary_cross_entropy_with_logits(z, target, reduction=reduction),
        lambda z: torch.nn.functional.binary_cross_entropy_with_logits(z, torch.tensor(target), reduction=reduction),
        logits)


@pytest.mark.parametrize("reduction", REDUCTION_MODES)
@pytest.mark.parametrize("target_kind", ["indices", "probabilities"])
def test_cross_entropy_with_label_smoothing_matches_pytorch(reduction, target_kind):
    torch = torch_module()
    rng = np.random.default_rng(0)
    logits = rng.standard_normal((7, 5)) * 2
    target = rng.integers(0, 5, 7) if target_kind == "indices" else rng.dirichlet(np.ones(5), 7)
    _compare_loss_with_torch(
        torch, lambda z: F.cross_entropy(z, target, reduction=reduction, label_smoothing=0.15),
        lambda z: torch.nn.functional.cross_entropy(z, torch.tensor(target), reduction=reduction,
                                                    label_smoothing=0.15),
        logits)


# ------------------------------------------------------------------- stability
def test_log_softmax_is_stable_for_huge_logits():
    logits = np.array([[1e4, 0.0, -1e4], [-1e4, -1e4, -1e4 + 1]])
    x = leaf(logits)
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        out = x.log_softmax(-1)
        loss = F.cross_entropy(x, np.array([1, 2]))
        (out.sum() + loss).backward()
    assert np.all(np.isfinite(out.data)) and np.all(np.isfinite(x.grad))
    np.testing.assert_allclose(out.data[0], [0.0, -1e4, -2e4])
    np.testing.assert_allclose(out.data[1, 2], -np.log1p(2 * np.exp(-1.0)), rtol=1e-12)
    np.testing.assert_allclose(loss.item(), (1e4 + np.log1p(2 * np.exp(-1.0))) / 2, rtol=1e-12)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_sigmoid_is_stable_for_large_inputs(dtype):
    x = Tensor(np.array([-1000.0, -50.0, 0.0, 50.0, 1000.0], dtype=dtype), requires_grad=True)
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        out = x.sigmoid()
        out.sum().backward()
        bce = F.binary_cross_entropy_with_logits(x, np.array([1.0, 0, 1, 1, 0], dtype=dtype), reduction="none")
    assert out.dtype == dtype
    np.testing.assert_allclose(out.data[[0, 2, 4]], [0.0, 0.5, 1.0])
    assert np.all(np.isfinite(x.grad)) and np.all(np.isfinite(bce.data))
    np.testing.assert_allclose(bce.data[[0, 4]], [1000.0, 1000.0], rtol=1e-6)


def test_softmax_temperature_limits():
    logits = np.random.default_rng(0).standard_normal((5, 6))
    cold = Tensor(logits).softmax(-1, temperature=1e-3).data
    np.testing.assert_allclose(cold, np.eye(6)[logits.argmax(-1)], atol=1e-6)
    hot = Tensor(logits).softmax(-1, temperature=1e4).data
    np.testing.assert_allclose(hot, np.full((5, 6), 1 / 6), atol=1e-3)
    cold_log = Tensor(logits).log_softmax(-1, temperature=1e-3).data
    assert np.all(np.isfinite(cold_log))
    np.testing.assert_allclose(np.exp(cold_log), cold, atol=1e-12)


@pytest.mark.parametrize("function", ["softmax", "log_softmax"])
@pytest.mark.parametrize("temperature", [0.0, -1.0])
def test_non_positive_temperature_raises(function, temperature):
    with pytest.raises(ValueError, match="temperature"):
        getattr(Tensor(np.zeros(3)), function)(temperature=temperature)


# ----------------------------------------------------------- autograd semantics
def test_gradients_accumulate_across_backward_calls():
    x = leaf([1.0, -2.0])
    loss = (x * x).sum()
    loss.backward()
    loss.backward()
    np.testing.assert_allclose(x.grad, 4 * x.data)


def test_second_backward_through_a_shared_subgraph_counts_it_once():
    # actor and critic losses on one trunk, backpropagated separately
    rng = np.random.default_rng(0)
    x, w = leaf(rng.standard_normal((4, 3))), leaf(rng.standard_normal((3, 2)))
    trunk = (x @ w).tanh()
    (trunk * trunk).sum().backward()
    (trunk * 3.0).sum().backward()
    separate = w.grad

    w2 = leaf(w.data)
    trunk2 = (x.data @ w2).tanh()
    ((trunk2 * trunk2).sum() + (trunk2 * 3.0).sum()).backward()
    np.testing.assert_allclose(separate, w2.grad, rtol=1e-12)


def test_tensor_used_twice_gets_both_contributions():
    x = leaf([3.0])
    (x * x + x).backward(np.ones(1))
    np.testing.assert_allclose(x.grad, [7.0])
    y = leaf([2.0])
    z = y * 2
    (z + z).sum().backward()
    np.testing.assert_allclose(y.grad, [4.0])


def test_an_intermediate_waits_for_every_path_before_its_backward_runs():
    # b reaches the loss directly and through a longer chain; b's backward may only run once
    # the chain's gradient has arrived too, whichever path a traversal finds first
    x = leaf([0.5, -1.5])
    b = x * 2.0
    chain = b
    for _ in range(4):
        chain = (chain * 1.5).tanh()
    (b + chain).sum().backward()
    gradient, y = 1.0, 2.0 * x.data
    for _ in range(4):  # d(chain)/d(b), step by step
        y = np.tanh(1.5 * y)
        gradient = gradient * 1.5 * (1 - y * y)
    np.testing.assert_allclose(x.grad, 2.0 * (1.0 + gradient), rtol=1e-12)


def test_no_grad_records_nothing_and_restores_on_error():
    w = leaf(np.ones((2, 2)))
    with no_grad():
        assert not is_grad_enabled()
        out = (w @ w).exp().sum()
        out_module = Linear(2, 3)(Tensor(np.ones((1, 2), dtype=np.float32)))
    assert not out.requires_grad and out._parents == ()
    assert not out_module.requires_grad
    with pytest.raises(RuntimeError, match="does not require grad"):
        out.backward()
    with pytest.raises(KeyError):
        with no_grad():
            raise KeyError("boom")
    assert is_grad_enabled()
    assert (w * 2).requires_grad


def test_detach_cuts_the_graph():
    x = leaf([1.0, 2.0])
    detached = x.detach()
    assert not detached.requires_grad
    (x * detached).sum().backward()
    np.testing.assert_allclose(x.grad, x.data)


def test_backward_on_non_scalar_needs_a_gradient():
    y = leaf(np.ones((2, 3))) * 2
    with pytest.raises(RuntimeError, match="non-scalar"):
        y.backward()
    with pytest.raises(RuntimeError, match=r"\(3, 2\)"):
        y.backward(np.ones((3, 2)))


def test_matmul_shape_mismatch_names_both_shapes():
    with pytest.raises(ValueError) as error:
        leaf(np.ones((2, 3))) @ leaf(np.ones((4, 5)))
    assert "(2, 3)" in str(error.value) and "(4, 5)" in str(error.value)
    with pytest.raises(ValueError, match="at least one dimension"):
        leaf(np.ones(())) @ leaf(np.ones(3))


def test_linear_with_wrong_width_names_input_shape_and_layer():
    layer = Linear(3, 4)
    with pytest.raises(ValueError) as error:
        layer(Tensor(np.ones((8, 5), dtype=np.float32)))
    message = str(error.value)
    assert "(8, 5)" in message and "Linear(3, 4" in message


def test_dtypes():
    assert Tensor([1, 2, 3]).dtype == np.float32
    assert Tensor([1.5, 2.5]).dtype == np.float32 and Tensor(0.5).dtype == np.float32
    assert Tensor(np.arange(3)).dtype == np.float32
    assert Tensor(np.ones(2)).dtype == np.float64  # a float64 ndarray is how float64 is requested
    assert Tensor([1.5], dtype=np.float64).dtype == np.float64
    assert zeros(2, 3).dtype == np.float32 and ones(2).dtype == np.float32
    assert Tensor(np.ones(2), dtype=np.float32).dtype == np.float32
    assert Linear(2, 3).weight.dtype == np.float32

    rng = np.random.default_rng(0)
    for dtype in (np.float32, np.float64):
        x = Tensor(rng.standard_normal((4, 3)).astype(dtype), requires_grad=True)
        w = Tensor(rng.standard_normal((3, 3)).astype(dtype), requires_grad=True)
        h = (x @ w + 1.0) * 2 - 0.5
        h = (h / 3).tanh().sigmoid().gelu().relu() + x.exp() + x.abs().sqrt() + x ** 2
        h = F.linear(h, w).softmax(-1, temperature=2.0)[1:].reshape(-1)
        loss = h.mean() + h.var() + F.mse_loss(h, np.zeros(h.shape)) + F.cross_entropy(x, np.array([0, 1, 2, 0]))
        assert loss.dtype == dtype, f"{dtype.__name__} became {loss.dtype}"
        loss.backward()
        assert x.grad.dtype == dtype and w.grad.dtype == dtype


def test_backward_of_a_very_deep_graph_does_not_recurse():
    depth = max(10_000, 5 * sys.getrecursionlimit())
    x = leaf(0.5)
    y = x
    for _ in range(depth):
        y = y + x
    y.backward()
    assert x.grad == pytest.approx(depth + 1)

    v = Value(0.5)
    w = v
    for _ in range(depth):
        w = w + v
    w.backward()
    assert v.grad == pytest.approx(depth + 1)


def test_gradcheck_catches_a_wrong_backward():
    def wrong_square(t):
        out = Tensor._result(t.data ** 2, (t,), "wrong_square")
        if out.requires_grad:
            out._backward = lambda out_grad: t._accumulate(out_grad * t.data)  # missing the factor 2
        return out

    with pytest.raises(AssertionError, match="input 0"):
        gradcheck(wrong_square, [leaf([1.0, 2.0])])
    with pytest.raises(TypeError, match="float64"):
        gradcheck(lambda t: t * 2, [Tensor(np.ones(2, dtype=np.float32), requires_grad=True)])


def test_a_finished_graph_is_freed_without_the_garbage_collector():
    """Closures must not capture their output tensor: each step's graph would become a cycle."""
    import gc
    import weakref

    rng = np.random.default_rng(0)
    x, w = leaf(rng.standard_normal((4, 3))), leaf(rng.standard_normal((3, 2)))
    enabled = gc.isenabled()
    gc.disable()
    try:
        hidden = F.linear(x, w, activation="tanh")
        loss = F.cross_entropy(hidden.softmax(-1).log() * 2.0 + hidden.exp(), np.array([0, 1, 1, 0]))
        loss.backward()
        refs = [weakref.ref(loss), weakref.ref(hidden)]
        del loss, hidden
        assert all(ref() is None for ref in refs)
    finally:
        if enabled:
            gc.enable()


# ------------------------------------------------------ agreement with PyTorch
# Each test below failed before the fix it names; the PyTorch values are in the comments and
# the torch comparisons, which run wherever torch is installed (CI installs it).
@pytest.mark.parametrize("reduce", ["max", "min"])
def test_max_and_min_backward_keep_float32(reduce):
    x = Tensor(np.array([[1.0, 3.0, 3.0], [2.0, 0.0, 2.0]], dtype=np.float32), requires_grad=True)
    getattr(x, reduce)(axis=1).sum().backward()
    assert x.grad.dtype == np.float32  # the tie count was int64 and promoted the division to float64


POWER_CASES = {  # base, exponent: PyTorch's value, d/d base, d/d exponent
    "0 ** 0": (0.0, 0.0, 1.0, 0.0, 0.0),
    "inf ** 0": (math.inf, 0.0, 1.0, 0.0, None),  # d/d exponent: inf * log(inf), not compared
    "(-2) ** 3": (-2.0, 3.0, -8.0, 12.0, None),   # log of a negative base: NaN in PyTorch too
    "(-2) ** 2": (-2.0, 2.0, 4.0, -4.0, None),
    "0 ** 0.3": (0.0, 0.3, 0.0, math.inf, 0.0),
    "2 ** -1": (2.0, -1.0, 0.5, -0.25, 0.5 * math.log(2.0)),
}


@pytest.mark.parametrize("case", POWER_CASES)
def test_tensor_power_edge_cases_match_pytorch(case):
    base, exponent, value, d_base, d_exponent = POWER_CASES[case]
    x, y = leaf(base), leaf(exponent)
    out = x ** y
    out.backward()
    np.testing.assert_allclose(out.data, value)
    np.testing.assert_allclose(x.grad, d_base)
    if d_exponent is not None:
        np.testing.assert_allclose(y.grad, d_exponent)


def test_power_with_a_zero_exponent_has_zero_gradient_at_zero():
    x = leaf([0.0, 1.5])
    (x ** 0.0).sum().backward()
    np.testing.assert_array_equal(x.grad, [0.0, 0.0])  # PyTorch: 0 (the formula gives 0 * inf = NaN)


def test_power_gradients_match_pytorch_at_edges():
    torch = torch_module()
    bases = np.array([0.0, 0.0, 0.0, -2.0, -2.0, 2.0, 1.5])
    exponents = np.array([0.0, 0.3, 2.0, 3.0, 2.0, -1.0, 0.5])
    x, y = leaf(bases), leaf(exponents)
    (x ** y).sum().backward()
    tx, ty = (torch.tensor(a, requires_grad=True) for a in (bases, exponents))
    (tx ** ty).sum().backward()
    np.testing.assert_allclose((leaf(bases) ** leaf(exponents)).data, (tx ** ty).detach().numpy())
    np.testing.assert_allclose(x.grad, tx.grad.numpy())
    np.testing.assert_allclose(y.grad, ty.grad.numpy())  # NaN where PyTorch has NaN (log of a negative)


def test_python_number_to_a_tensor_power():
    torch = torch_module()
    exponents = np.array([-1.0, 0.0, 0.5, 2.0])
    y = leaf(exponents)
    out = 2.0 ** y
    assert isinstance(out, Tensor)
    out.sum().backward()
    ty = torch.tensor(exponents, requires_grad=True)
    (2.0 ** ty).sum().backward()
    np.testing.assert_allclose(out.data, 2.0 ** exponents)
    np.testing.assert_allclose(y.grad, ty.grad.numpy())
    z = leaf([0.0, 1.0])
    (0.0 ** z).sum().backward()  # d/dz 0 ** z is 0 for z >= 0 (PyTorch), not 0 * log 0
    np.testing.assert_array_equal(z.grad, [0.0, 0.0])


@pytest.mark.parametrize("reduce", ["sum", "mean"])
def test_reducing_a_0d_tensor_over_axis_0(reduce):
    x = leaf(2.5)
    out = getattr(x, reduce)(axis=0)
    out.backward()
    assert out.shape == () and out.item() == 2.5
    assert x.grad.shape == () and x.grad == 1.0


def test_mean_over_an_empty_axis_is_nan():
    x = leaf(np.zeros((0, 3)))
    out = x.mean(axis=0)
    assert out.shape == (3,) and np.isnan(out.data).all()  # PyTorch: NaN; before: ZeroDivisionError
    out.sum().backward()
    assert x.grad.shape == (0, 3)
    assert np.isnan(leaf(np.zeros(0)).mean().data)


def test_comparisons_return_boolean_arrays():
    x = Tensor([-1.0, 0.0, 2.0])
    for got, want in [(x > 0, [False, False, True]), (x >= 0, [False, True, True]),
                      (x < 0, [True, False, False]), (x <= 0, [True, True, False]),
                      (x > Tensor([0.0, -1.0, 3.0]), [False, True, False]),
                      (np.zeros(3) < x, [False, False, True])]:
        assert isinstance(got, np.ndarray) and got.dtype == bool
        np.testing.assert_array_equal(got, want)
    np.testing.assert_array_equal(where(x > 0, x, 0.0).data, [0.0, 0.0, 2.0])
