"""Optimizers against textbook formulas and PyTorch, optimizer/module interplay,
gradient clipping, and learning tests: an MLP must fit two moons three ways."""

import time

import numpy as np
import pytest
from conftest import import_torch

from rl_scratch.nets import MLP, SGD, Adam, AdamW, F, Linear, Parameter, Tensor, clip_grad_norm

SHAPES = [(2, 3), (3,), (1,)]
CENTERS = [np.linspace(-1, 1, 6).reshape(2, 3), np.array([0.3, -0.2, 0.9]), np.array([-0.5])]


def start_values():
    rng = np.random.default_rng(0)
    return [rng.uniform(-1.5, 1.5, shape) for shape in SHAPES]


def gradient_at(values):
    """Gradient of sum((w^4)/4 - c*w): depends on the current weights, as a real loss's does."""
    return [w ** 3 - c for w, c in zip(values, CENTERS)]


def run_ours(make_optimizer, steps, chunk=None):
    """`chunk`: a CHUNK below the parameter count, so that the update runs per parameter, in pieces."""
    params = [Parameter(v) for v in start_values()]
    optimizer = make_optimizer(params)
    if chunk is not None:
        optimizer.CHUNK = chunk
    for _ in range(steps):
        for p, g in zip(params, gradient_at([p.data for p in params])):
            p.grad = g
        optimizer.step()
    return [p.data.copy() for p in params]


def textbook_sgd(steps, lr, momentum=0.0, weight_decay=0.0, nesterov=False):
    params, buffers = start_values(), [None] * len(SHAPES)
    for _ in range(steps):
        for i, (p, g) in enumerate(zip(params, gradient_at(params))):
            g = g + weight_decay * p
            if momentum:
                # PyTorch convention: the buffer starts as the first gradient, not (1 - mu) * g
                buffers[i] = g.copy() if buffers[i] is None else momentum * buffers[i] + g
                g = g + momentum * buffers[i] if nesterov else buffers[i]
            params[i] = p - lr * g
    return params


def textbook_adam(steps, lr, betas, eps, weight_decay=0.0, decoupled=False):
    b1, b2 = betas
    params = start_values()
    m = [np.zeros(s) for s in SHAPES]
    v = [np.zeros(s) for s in SHAPES]
    for t in range(1, steps + 1):
        grads = gradient_at(params)
        for i, (p, g) in enumerate(zip(params, grads)):
            if decoupled:
                p = p * (1 - lr * weight_decay)
            else:
                g = g + weight_decay * p
            m[i] = b1 * m[i] + (1 - b1) * g
            v[i] = b2 * v[i] + (1 - b2) * g ** 2
            m_hat, v_hat = m[i] / (1 - b1 ** t), v[i] / (1 - b2 ** t)
            params[i] = p - lr * m_hat / (np.sqrt(v_hat) + eps)
    return params


SGD_CASES = {
    "plain": dict(lr=0.1),
    "momentum": dict(lr=0.1, momentum=0.9),
    "weight decay": dict(lr=0.1, weight_decay=0.1),
    "momentum and weight decay": dict(lr=0.05, momentum=0.8, weight_decay=0.2),
    "nesterov": dict(lr=0.1, momentum=0.9, nesterov=True),
    "nesterov and weight decay": dict(lr=0.1, momentum=0.7, nesterov=True, weight_decay=0.1),
}
ADAM_CASES = {
    "adam": (Adam, dict(lr=0.1, betas=(0.8, 0.9), eps=1e-3)),
    "adam defaults": (Adam, dict(lr=0.01)),
    "adam with L2": (Adam, dict(lr=0.1, betas=(0.8, 0.9), eps=1e-8, weight_decay=0.3)),
    "adamw": (AdamW, dict(lr=0.1, betas=(0.8, 0.9), eps=1e-8, weight_decay=0.3)),
    "adamw defaults": (AdamW, dict(lr=0.01)),
}


@pytest.mark.parametrize("chunk", [None, 2], ids=["gathered", "per parameter in chunks"])
@pytest.mark.parametrize("case", SGD_CASES)
def test_sgd_matches_the_textbook(case, chunk):
    options = SGD_CASES[case]
    ours = run_ours(lambda params: SGD(params, **options), steps=3, chunk=chunk)
    for got, expected, start in zip(ours, textbook_sgd(3, **options), start_values()):
        np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-14)
        assert not np.allclose(got, start)


@pytest.mark.parametrize("chunk", [None, 2], ids=["gathered", "per parameter in chunks"])
@pytest.mark.parametrize("case", ADAM_CASES)
def test_adam_matches_the_textbook(case, chunk):
    optimizer, options = ADAM_CASES[case]
    ours = run_ours(lambda params: optimizer(params, **options), steps=3, chunk=chunk)
    full = dict(betas=(0.9, 0.999), eps=1e-8, weight_decay=0.01 if optimizer is AdamW else 0.0) | options
    expected = textbook_adam(3, decoupled=optimizer is AdamW, **full)
    for got, want in zip(ours, expected):
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-14)


def test_adam_first_step_moves_every_weight_by_lr():
    # bias correction makes the first step lr * sign(g) (up to eps): a missing correction shrinks it 10x
    after = run_ours(lambda ps: Adam(ps, lr=0.01, eps=1e-12), steps=1)
    for start, end, g in zip(start_values(), after, gradient_at(start_values())):
        np.testing.assert_allclose(start - end, 0.01 * np.sign(g), rtol=1e-9)


TORCH_CASES = {
    "sgd momentum nesterov wd": (SGD, "SGD", dict(lr=0.05, momentum=0.9, nesterov=True, weight_decay=0.1)),
    "sgd momentum": (SGD, "SGD", dict(lr=0.05, momentum=0.5)),
    "adam": (Adam, "Adam", dict(lr=0.05, betas=(0.85, 0.95), eps=1e-6)),
    "adam with L2": (Adam, "Adam", dict(lr=0.05, weight_decay=0.2)),
    "adamw": (AdamW, "AdamW", dict(lr=0.05, betas=(0.85, 0.95), weight_decay=0.3)),
}


@pytest.mark.parametrize("case", TORCH_CASES)
def test_optimizers_match_pytorch(case):
    torch = import_torch()
    ours_class, torch_name, options = TORCH_CASES[case]
    steps = 6
    ours = run_ours(lambda params: ours_class(params, **options), steps)
    theirs = [torch.tensor(v, requires_grad=True) for v in start_values()]
    optimizer = getattr(torch.optim, torch_name)(theirs, **options)
    for _ in range(steps):
        for p, g in zip(theirs, gradient_at([p.detach().numpy() for p in theirs])):
            p.grad = torch.tensor(g)
        optimizer.step()
    for got, want in zip(ours, theirs):
        np.testing.assert_allclose(got, want.detach().numpy(), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("make", [
    lambda ps: SGD(ps, lr=0.1, momentum=0.9, weight_decay=0.1),
    lambda ps: Adam(ps, lr=0.1, weight_decay=0.1),
    lambda ps: AdamW(ps, lr=0.1, weight_decay=0.1),
], ids=["sgd", "adam", "adamw"])
def test_parameters_without_gradient_are_skipped(make):
    rng = np.random.default_rng(0)
    trained, frozen = Parameter(rng.standard_normal(4)), Parameter(rng.standard_normal(3))
    alone = Parameter(trained.data.copy())
    frozen_before = frozen.data.copy()
    both, single = make([trained, frozen]), make([alone])
    for _ in range(3):
        trained.grad = trained.data ** 3
        alone.grad = alone.data ** 3
        frozen.grad = None
        both.step()
        single.step()
    np.testing.assert_array_equal(frozen.data, frozen_before)  # no decay, no momentum drift either
    np.testing.assert_allclose(trained.data, alone.data, rtol=1e-12)
    assert not np.allclose(trained.data, frozen_before[:1])


# ---------------------------------------------------------------- state
def _loss_backward(net, x, y):
    net.zero_grad()
    F.cross_entropy(net(x), y).backward()


@pytest.mark.parametrize("make", [
    lambda ps: SGD(ps, lr=0.05, momentum=0.9),
    lambda ps: Adam(ps, lr=0.01),
    lambda ps: AdamW(ps, lr=0.01, weight_decay=0.1),
], ids=["sgd", "adam", "adamw"])
def test_optimizer_state_dict_round_trip_continues_identically(make):
    rng = np.random.default_rng(0)
    x, y = Tensor(rng.standard_normal((16, 3))), rng.integers(0, 2, 16)
    first = MLP([3, 8, 2], rng=np.random.default_rng(1), dtype=np.float64)
    first_optimizer = make(first.parameters())
    for _ in range(3):
        _loss_backward(first, x, y)
        first_optimizer.step()

    second, fresh = (MLP([3, 8, 2], rng=np.random.default_rng(9), dtype=np.float64) for _ in range(2))
    second_optimizer, fresh_optimizer = make(second.parameters()), make(fresh.parameters())
    second.load_state_dict(first.state_dict())
    fresh.load_state_dict(first.state_dict())
    state = first_optimizer.state_dict()
    second_optimizer.load_state_dict(state)
    assert second_optimizer.steps == 3
    for net, optimizer in ((first, first_optimizer), (second, second_optimizer), (fresh, fresh_optimizer)):
        for _ in range(3):
            _loss_backward(net, x, y)
            optimizer.step()
    for a, b, c in zip(first.parameters(), second.parameters(), fresh.parameters()):
        np.testing.assert_array_equal(a.data, b.data)
    assert not all(np.allclose(a.data, c.data) for a, c in zip(first.parameters(), fresh.parameters()))


def test_optimizer_load_state_dict_rejects_another_network():
    small, large = MLP([3, 4, 2]), MLP([3, 8, 2])
    with pytest.raises(ValueError, match="different network"):
        Adam(small.parameters()).load_state_dict(Adam(large.parameters()).state_dict())
    with pytest.raises(ValueError, match="expected"):
        Adam(small.parameters()).load_state_dict(SGD(small.parameters()).state_dict())


def test_optimizer_still_updates_the_module_after_load_state_dict():
    rng = np.random.default_rng(0)
    x, y = Tensor(rng.standard_normal((8, 3)).astype(np.float32)), rng.integers(0, 2, 8)
    net = MLP([3, 8, 2], rng=np.random.default_rng(1))
    optimizer = SGD(net.parameters(), lr=0.1)
    net.load_state_dict(MLP([3, 8, 2], rng=np.random.default_rng(2)).state_dict())
    loaded = net.state_dict()
    _loss_backward(net, x, y)
    grads = {name: p.grad.copy() for name, p in net.named_parameters()}
    optimizer.step()
    for name, p in net.named_parameters():
        np.testing.assert_allclose(p.data, loaded[name] - 0.1 * grads[name], rtol=1e-6)
    assert not np.array_equal(net.layers[0].weight.data, loaded["layers.0.weight"])


def test_optimizer_follows_the_module_through_to_float64():
    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((8, 3)), rng.integers(0, 2, 8)
    net = MLP([3, 8, 2], rng=np.random.default_rng(1))
    optimizer = SGD(net.parameters(), lr=0.1, momentum=0.9)
    _loss_backward(net, Tensor(x.astype(np.float32)), y)
    first_grads = [p.grad.astype(np.float64) for p in net.parameters()]
    optimizer.step()

    net.to(np.float64)
    before = [p.data.copy() for p in net.parameters()]
    _loss_backward(net, Tensor(x), y)
    second_grads = [p.grad.copy() for p in net.parameters()]
    optimizer.step()
    for p, start, g1, g2 in zip(net.parameters(), before, first_grads, second_grads):
        assert p.dtype == np.float64 and g2.dtype == np.float64  # not rounded through a float32 buffer
        np.testing.assert_allclose(p.data, start - 0.1 * (0.9 * g1 + g2), rtol=1e-5, atol=1e-7)  # momentum kept


def test_a_gradient_is_an_array_the_user_may_keep():
    # .grad is the array backward made: no optimizer buffer that the next backward overwrites
    rng = np.random.default_rng(2)
    x, y = Tensor(rng.standard_normal((8, 3)).astype(np.float32)), rng.integers(0, 2, 8)
    plain, trained = MLP([3, 8, 2], rng=np.random.default_rng(1)), MLP([3, 8, 2], rng=np.random.default_rng(1))
    optimizer = Adam(trained.parameters(), lr=0.1)
    _loss_backward(plain, x, y)
    expected = [p.grad.copy() for p in plain.parameters()]
    _loss_backward(trained, x, y)
    kept = [p.grad for p in trained.parameters()]
    optimizer.step()
    optimizer.zero_grad()
    _loss_backward(trained, Tensor(rng.standard_normal((8, 3)).astype(np.float32)), 1 - y)
    for g, want, p in zip(kept, expected, trained.parameters()):
        np.testing.assert_array_equal(g, want)  # unchanged by the step and by the next backward
        assert p.grad is not g
    F.cross_entropy(trained(x), y).backward()  # a second backward without zero_grad adds up, in fresh arrays
    for g, want in zip(kept, expected):
        np.testing.assert_array_equal(g, want)


def test_each_parameter_is_a_view_of_the_optimizers_flat_vector():
    net = MLP([3, 4, 2], rng=np.random.default_rng(0))
    before = [p.data.copy() for p in net.parameters()]
    flat = Adam(net.parameters()).flat
    for p, start, where in zip(net.parameters(), before, flat.slices):
        np.testing.assert_array_equal(p.data, start)  # linking keeps the values
        assert np.shares_memory(p.data, flat.data) and p.data.size == where.stop - where.start
    flat.data[...] = np.arange(flat.data.size)
    np.testing.assert_array_equal(np.concatenate([p.data.ravel() for p in net.parameters()]),
                                  np.arange(flat.data.size))


def test_optimizer_follows_a_replaced_data_array():
    layer = Linear(2, 2, dtype=np.float64)
    optimizer = SGD(layer.parameters(), lr=0.5)
    layer.weight.data = np.ones((2, 2))
    layer.weight.grad = np.full((2, 2), 2.0)
    layer.bias.grad = np.ones(2)
    optimizer.step()
    np.testing.assert_array_equal(layer.weight.data, np.zeros((2, 2)))
    np.testing.assert_array_equal(layer.bias.data, [-0.5, -0.5])


def test_optimizer_arguments_are_validated():
    params = [Parameter(np.zeros(2))]
    with pytest.raises(ValueError, match="empty"):
        SGD([], lr=0.1)
    with pytest.raises(ValueError, match="learning rate"):
        Adam(params, lr=0.0)
    with pytest.raises(ValueError, match="nesterov"):
        SGD(params, lr=0.1, nesterov=True)
    with pytest.raises(ValueError, match="momentum"):
        SGD(params, lr=0.1, momentum=1.0)
    with pytest.raises(ValueError, match="betas"):
        Adam(params, betas=(0.9, 1.0))


# ---------------------------------------------------------------- clipping
def test_clip_grad_norm_scales_to_max_norm_and_returns_the_old_norm():
    rng = np.random.default_rng(0)
    params = [Parameter(np.zeros(s)) for s in SHAPES] + [Parameter(np.zeros(2))]
    for p in params[:-1]:
        p.grad = rng.standard_normal(p.shape) * 10
    before = [p.grad.copy() for p in params[:-1]]
    expected_norm = np.sqrt(sum((g ** 2).sum() for g in before))
    norm = clip_grad_norm(params, max_norm=1.5)
    assert norm == pytest.approx(expected_norm, rel=1e-12)
    assert np.sqrt(sum((p.grad ** 2).sum() for p in params[:-1])) == pytest.approx(1.5, rel=1e-5)
    for p, g in zip(params, before):
        np.testing.assert_allclose(p.grad, g * (1.5 / expected_norm), rtol=1e-5)  # direction kept
    assert params[-1].grad is None


def test_clip_grad_norm_leaves_small_gradients_alone():
    p = Parameter(np.zeros(3))
    p.grad = np.array([0.1, -0.2, 0.2])
    assert clip_grad_norm([p], max_norm=1.0) == pytest.approx(0.3)
    np.testing.assert_array_equal(p.grad, [0.1, -0.2, 0.2])


def test_clip_grad_norm_accepts_a_generator():
    net = MLP([2, 4, 1], dtype=np.float64)
    for p in net.parameters():
        p.grad = np.full(p.shape, 5.0)
    clip_grad_norm((p for p in net.parameters()), max_norm=1.0)
    assert np.sqrt(sum((p.grad ** 2).sum() for p in net.parameters())) == pytest.approx(1.0, rel=1e-5)


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_clip_grad_norm_raises_on_non_finite_gradients(bad):
    p = Parameter(np.zeros(3))
    p.grad = np.array([1.0, bad, 0.0])
    with pytest.raises(FloatingPointError, match="NaN"):
        clip_grad_norm([p], max_norm=1.0)


# ---------------------------------------------------------------- learning
def two_moons(n: int, noise: float, rng: np.random.Generator):
    """scikit-learn's make_moons, written out: two interleaved half circles."""
    half = n // 2
    angle = rng.uniform(0, np.pi, n)
    upper = np.stack([np.cos(angle[:half]), np.sin(angle[:half])], axis=1)
    lower = np.stack([1 - np.cos(angle[half:]), 0.5 - np.sin(angle[half:])], axis=1)
    x = np.concatenate([upper, lower]) + rng.normal(0, noise, (n, 2))
    y = np.concatenate([np.zeros(half, dtype=np.int64), np.ones(n - half, dtype=np.int64)])
    return x.astype(np.float32), y


MOONS_X, MOONS_Y = two_moons(200, 0.1, np.random.default_rng(0))
HELD_OUT_X, HELD_OUT_Y = two_moons(400, 0.1, np.random.default_rng(1))


def accuracy(net, x, y) -> float:
    return float((net(Tensor(x)).argmax(-1) == y).mean())


def train(net, optimizer, epochs, batch_size, rng):
    n = len(MOONS_Y)
    for _ in range(epochs):
        order = rng.permutation(n)
        for start in range(0, n, batch_size):
            batch = order[start:start + batch_size]
            optimizer.zero_grad()
            F.cross_entropy(net(Tensor(MOONS_X[batch])), MOONS_Y[batch]).backward()
            optimizer.step()


def test_two_moons_are_not_linearly_separable():
    linear = Linear(2, 2, rng=np.random.default_rng(0))
    train(linear, Adam(linear.parameters(), lr=0.05), epochs=300, batch_size=200, rng=np.random.default_rng(0))
    assert accuracy(linear, MOONS_X, MOONS_Y) < 0.92


@pytest.mark.parametrize("strategy, epochs, batch_size, make_optimizer", [
    ("full batch", 300, 200, lambda ps: Adam(ps, lr=0.02)),
    ("mini-batch", 60, 20, lambda ps: SGD(ps, lr=0.1, momentum=0.9)),
    ("per sample", 20, 1, lambda ps: SGD(ps, lr=0.02)),
])
def test_mlp_learns_two_moons(strategy, epochs, batch_size, make_optimizer):
    net = MLP([2, 16, 16, 2], rng=np.random.default_rng(0))
    optimizer = make_optimizer(net.parameters())
    start = time.perf_counter()
    train(net, optimizer, epochs, batch_size, np.random.default_rng(1))
    seconds = time.perf_counter() - start
    train_accuracy, held_out_accuracy = accuracy(net, MOONS_X, MOONS_Y), accuracy(net, HELD_OUT_X, HELD_OUT_Y)
    assert train_accuracy >= 0.95 and held_out_accuracy >= 0.95, (
        f"{strategy}: accuracy {train_accuracy:.3f} on the training set, {held_out_accuracy:.3f} held out")
    assert seconds < 10, f"{strategy} took {seconds:.1f} s"


@pytest.mark.parametrize("case", ["adam", "adamw", "sgd momentum"])
def test_a_parameter_without_gradient_on_some_steps_matches_pytorch(case):
    # torch.optim counts steps per parameter: a parameter's bias correction (and SGD's first
    # momentum step) follows the updates it received, not the optimizer's. One global count
    # drifted 2.6e-3 from PyTorch after two steps.
    torch = import_torch()
    ours_class, torch_name, options = TORCH_CASES[case]
    rng = np.random.default_rng(0)
    starts = [rng.standard_normal(3), rng.standard_normal(2)]
    ours = [Parameter(v.copy()) for v in starts]
    theirs = [torch.tensor(v, requires_grad=True) for v in starts]
    ours_optimizer = ours_class(ours, **options)
    theirs_optimizer = getattr(torch.optim, torch_name)(theirs, **options)
    for step in range(5):
        late = step >= 2  # the second parameter gets its first gradient on the third step
        for p, t, has_grad in zip(ours, theirs, [True, late]):
            g = np.cos(p.data) + 0.5 if has_grad else None
            p.grad = g
            t.grad = None if g is None else torch.tensor(g)
        ours_optimizer.step()
        theirs_optimizer.step()
        for p, t in zip(ours, theirs):
            np.testing.assert_allclose(p.data, t.detach().numpy(), rtol=1e-10, atol=1e-12)
