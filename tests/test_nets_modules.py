"""Unit tests for modules: parameter discovery, train/eval, persistence, initializers,
and agreement between the Tensor engine and the scalar Value engine."""

import os

import numpy as np
import pytest

from rl_scratch.nets import (
    MLP, Dropout, F, Linear, Module, Parameter, ReLU, Sequential, Tensor, gradcheck, init, is_grad_enabled,
    load_arrays, manual_seed, no_grad, save_arrays,
)
from rl_scratch.nets import value


class TwoHeads(Module):
    """Attributes in a deliberate order: a layer, a list of layers, a bare Parameter."""

    def __init__(self, rng):
        self.trunk = Linear(3, 4, rng=rng)
        self.heads = [Linear(4, 2, rng=rng), Linear(4, 1, rng=rng, bias=False)]
        self.log_std = Parameter(np.zeros(2))

    def forward(self, x):
        h = self.trunk(x).relu()
        return self.heads[0](h), self.heads[1](h)


# ------------------------------------------------------------------ discovery
def test_mlp_parameter_names_shapes_and_order():
    net = MLP([3, 5, 4, 2], rng=np.random.default_rng(0))
    assert [(name, p.shape) for name, p in net.named_parameters()] == [
        ("layers.0.weight", (3, 5)), ("layers.0.bias", (5,)),
        ("layers.1.weight", (5, 4)), ("layers.1.bias", (4,)),
        ("layers.2.weight", (4, 2)), ("layers.2.bias", (2,)),
    ]
    assert net.parameters() == [p for _, p in net.named_parameters()]
    assert all(isinstance(p, Parameter) and p.requires_grad for p in net.parameters())
    assert net.num_parameters() == 3 * 5 + 5 + 5 * 4 + 4 + 4 * 2 + 2


def test_nested_module_names_follow_definition_order():
    net = TwoHeads(np.random.default_rng(0))
    assert [name for name, _ in net.named_parameters()] == [
        "trunk.weight", "trunk.bias", "heads.0.weight", "heads.0.bias", "heads.1.weight", "log_std",
    ]
    sequential = Sequential(Linear(2, 3), ReLU(), Linear(3, 1))
    assert [name for name, _ in sequential.named_parameters()] == [
        "layers.0.weight", "layers.0.bias", "layers.2.weight", "layers.2.bias",
    ]


def test_shared_parameters_are_listed_once():
    layer = Linear(3, 3)
    shared = Sequential(layer, ReLU(), layer)
    assert [name for name, _ in shared.named_parameters()] == ["layers.0.weight", "layers.0.bias"]

    tied = TwoHeads(np.random.default_rng(0))
    tied.heads[1].weight = tied.heads[0].weight  # (4, 2) shared by both heads
    names = [name for name, _ in tied.named_parameters()]
    assert names == ["trunk.weight", "trunk.bias", "heads.0.weight", "heads.0.bias", "log_std"]
    assert len({id(p) for p in tied.parameters()}) == len(tied.parameters())


@pytest.mark.parametrize("activation,output_activation", [("relu", None), ("tanh", "sigmoid"), ("sigmoid", None),
                                                          ("gelu", "tanh")])
def test_predict_and_no_grad_forward_equal_the_traced_forward(activation, output_activation):
    net = MLP([4, 8, 8, 3], activation=activation, output_activation=output_activation,
              rng=np.random.default_rng(0))
    obs = np.random.default_rng(1).standard_normal((5, 4)).astype(np.float32)
    traced = net(Tensor(obs))
    assert traced.requires_grad
    with no_grad():
        untraced = net(Tensor(obs))
    assert not untraced.requires_grad
    predicted = net.predict(obs)
    assert type(predicted) is np.ndarray and predicted.dtype == np.float32
    np.testing.assert_allclose(untraced.data, traced.data, rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(predicted, traced.data, rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(net.predict(obs[0]), traced.data[0], rtol=1e-6, atol=1e-6)  # one observation
    with pytest.raises(ValueError, match=r"expects \(\.\.\., 4\)"):
        net.predict(np.zeros(5, np.float32))


def test_module_predict_runs_forward_without_a_graph():
    net = TwoHeads(np.random.default_rng(0))
    single = Sequential(net.trunk, ReLU(), net.heads[0])
    x = np.random.default_rng(1).standard_normal((2, 3)).astype(np.float32)
    np.testing.assert_allclose(single.predict(x), single(Tensor(x)).data, rtol=1e-6)
    assert is_grad_enabled()


def test_zero_grad_clears_every_gradient():
    net = TwoHeads(np.random.default_rng(0))
    a, b = net(Tensor(np.ones((2, 3), dtype=np.float32)))
    (a.sum() + b.sum() + net.log_std.sum()).backward()
    assert all(p.grad is not None for p in net.parameters())
    net.zero_grad()
    assert all(p.grad is None for p in net.parameters())


# ----------------------------------------------------------------- train/eval
def test_train_and_eval_toggle_dropout_everywhere():
    net = Sequential(Linear(4, 4), Sequential(Dropout(0.5, rng=np.random.default_rng(0))))
    x = Tensor(np.ones((3, 4), dtype=np.float32))
    assert all(m.training for m in net.modules())
    assert net.eval() is net
    assert not any(m.training for m in net.modules())
    np.testing.assert_array_equal(net(x).data, net.layers[0](x).data)
    net.train()
    assert all(m.training for m in net.modules())


def test_dropout_zeroes_p_and_scales_the_rest():
    p = 0.3
    dropout = Dropout(p, rng=np.random.default_rng(0))
    x = Tensor(np.random.default_rng(1).uniform(1, 2, 200_000))
    y = dropout(x).data
    dropped = y == 0
    assert dropped.mean() == pytest.approx(p, abs=0.005)
    np.testing.assert_allclose(y[~dropped], x.data[~dropped] / (1 - p), rtol=1e-12)
    assert y.mean() == pytest.approx(x.data.mean(), rel=0.01)  # inverted dropout keeps the expectation

    dropout.eval()
    np.testing.assert_array_equal(dropout(x).data, x.data)


def test_dropout_gradient_uses_the_same_mask():
    x = Tensor(np.ones(1000), requires_grad=True)
    y = Dropout(0.5, rng=np.random.default_rng(0))(x)
    y.sum().backward()
    np.testing.assert_array_equal(x.grad, y.data)


def test_dropout_probability_is_validated():
    for p in (-0.1, 1.0):
        with pytest.raises(ValueError, match="dropout probability"):
            Dropout(p)


# ---------------------------------------------------------------- persistence
def test_state_dict_round_trip():
    source, target = MLP([3, 8, 2], rng=np.random.default_rng(0)), MLP([3, 8, 2], rng=np.random.default_rng(1))
    x = Tensor(np.random.default_rng(2).standard_normal((5, 3)).astype(np.float32))
    assert not np.allclose(source(x).data, target(x).data)
    state = source.state_dict()
    assert list(state) == [name for name, _ in source.named_parameters()]
    target.load_state_dict(state)
    np.testing.assert_array_equal(source(x).data, target(x).data)
    state["layers.0.weight"][...] = 0  # state_dict holds copies, not the live parameters
    assert np.any(source.layers[0].weight.data != 0)


@pytest.mark.parametrize("change, name", [
    (lambda s: s.pop("layers.1.bias"), "layers.1.bias"),
    (lambda s: s.update({"layers.2.weight": np.zeros((8, 2))}), "layers.2.weight"),
    (lambda s: s.update({"layers.0.weight": np.zeros((8, 3))}), "layers.0.weight"),
])
def test_load_state_dict_rejects_missing_extra_and_misshaped(change, name):
    net = MLP([3, 8, 2], rng=np.random.default_rng(0))
    state = net.state_dict()
    change(state)
    before = net.state_dict()
    with pytest.raises(ValueError, match=name.replace(".", r"\.")):
        net.load_state_dict(state)
    for key, array in net.state_dict().items():  # a rejected state changes nothing
        np.testing.assert_array_equal(array, before[key])


def test_save_load_round_trip_is_exact(tmp_path):
    net = TwoHeads(np.random.default_rng(0))
    net.log_std.data[...] = [0.5, -0.25]
    path = tmp_path / "model.npz"
    net.save(path)
    net.save(path)  # overwriting goes through a temp file too
    assert os.listdir(tmp_path) == ["model.npz"]

    restored = TwoHeads(np.random.default_rng(1))
    restored.load(path)
    x = Tensor(np.random.default_rng(3).standard_normal((4, 3)).astype(np.float32))
    for ours, theirs in zip(net(x), restored(x)):
        np.testing.assert_array_equal(ours.data, theirs.data)
    np.testing.assert_array_equal(restored.log_std.data, [0.5, -0.25])


def test_failed_save_keeps_the_old_file_and_leaves_no_temp_file(tmp_path):
    class Unwritable:
        def __array__(self, *args, **kwargs):
            raise RuntimeError("cannot convert")

    path = tmp_path / "arrays.npz"
    save_arrays(path, {"a": np.arange(3)})
    with pytest.raises(RuntimeError, match="cannot convert"):
        save_arrays(path, {"a": np.arange(5), "b": Unwritable()})
    assert os.listdir(tmp_path) == ["arrays.npz"]
    np.testing.assert_array_equal(load_arrays(path)["a"], np.arange(3))


@pytest.mark.parametrize("damage", ["garbage", "truncated", "empty"])
def test_loading_a_damaged_file_names_it(tmp_path, damage):
    path = tmp_path / "model.npz"
    net = MLP([3, 16, 2])
    net.save(path)
    if damage == "garbage":
        path.write_bytes(b"this is not a zip archive" * 10)
    elif damage == "truncated":
        path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    else:
        path.write_bytes(b"")
    with pytest.raises(ValueError, match="model.npz"):
        net.load(path)


def test_loading_a_missing_file_names_it(tmp_path):
    with pytest.raises(FileNotFoundError, match="nothing.npz"):
        MLP([2, 2]).load(tmp_path / "nothing.npz")


# ------------------------------------------------------------------ dtypes
def test_to_float64_casts_parameters_and_keeps_values():
    net = MLP([3, 6, 2], rng=np.random.default_rng(0))
    assert all(p.dtype == np.float32 for p in net.parameters())
    before = net.state_dict()
    assert net.to(np.float64) is net
    assert all(p.dtype == np.float64 for p in net.parameters())
    for name, p in net.named_parameters():
        np.testing.assert_array_equal(p.data, before[name].astype(np.float64))
    x = np.random.default_rng(1).standard_normal((4, 3))
    out = net(x)
    assert out.dtype == np.float64
    out.sum().backward()
    assert all(p.grad.dtype == np.float64 for p in net.parameters())
    layer = net.layers[0]
    gradcheck(lambda w, b: F.linear(Tensor(x), w, b).tanh(), [layer.weight, layer.bias])


def test_linear_builds_float64_layers_on_request():
    layer = Linear(3, 2, dtype=np.float64)
    assert layer.weight.dtype == np.float64 and layer.bias.dtype == np.float64
    assert layer(np.ones((1, 3))).dtype == np.float64


# ------------------------------------------------------------ initialization
def test_he_normal_std():
    fan_in = 400
    w = init.he_normal((fan_in, 300), np.random.default_rng(0))
    assert w.std() == pytest.approx(np.sqrt(2 / fan_in), rel=0.02)
    assert abs(w.mean()) < 0.02 * np.sqrt(2 / fan_in)
    layer = Linear(fan_in, 300, rng=np.random.default_rng(1))
    assert layer.weight.data.std() == pytest.approx(np.sqrt(2 / fan_in), rel=0.02)
    np.testing.assert_array_equal(layer.bias.data, 0)


def test_xavier_uniform_bound():
    fan_in, fan_out = 300, 200
    bound = np.sqrt(6 / (fan_in + fan_out))
    w = init.xavier_uniform((fan_in, fan_out), np.random.default_rng(0))
    assert np.abs(w).max() <= bound
    assert np.abs(w).max() > 0.99 * bound
    assert w.std() == pytest.approx(bound / np.sqrt(3), rel=0.02)
    tanh_net = MLP([fan_in, fan_out], activation="tanh", rng=np.random.default_rng(1))
    assert np.abs(tanh_net.layers[0].weight.data).max() <= bound


@pytest.mark.parametrize("shape", [(64, 32), (32, 64), (16, 16)])
@pytest.mark.parametrize("gain", [1.0, np.sqrt(2)])
def test_orthogonal_init(shape, gain):
    w = init.orthogonal(shape, np.random.default_rng(0), gain=gain)
    assert w.shape == shape
    small = min(shape)
    gram = w.T @ w if shape[0] >= shape[1] else w @ w.T
    np.testing.assert_allclose(gram, gain ** 2 * np.eye(small), atol=1e-10)
    layer = Linear(*shape, init_scheme="orthogonal", gain=gain, rng=np.random.default_rng(1), dtype=np.float64)
    gram = layer.weight.data.T @ layer.weight.data if shape[0] >= shape[1] else layer.weight.data @ layer.weight.data.T
    np.testing.assert_allclose(gram, gain ** 2 * np.eye(small), atol=1e-10)


def test_output_gain_scales_the_last_layer():
    net = MLP([200, 200, 100], rng=np.random.default_rng(0), output_gain=0.01)
    assert net.layers[-1].weight.data.std() == pytest.approx(0.01 / np.sqrt(200), rel=0.05)
    assert net.layers[0].weight.data.std() == pytest.approx(np.sqrt(2 / 200), rel=0.05)


def test_unknown_init_scheme_and_activation_raise():
    with pytest.raises(ValueError, match="orthogonal"):
        Linear(2, 2, init_scheme="kaiming")
    with pytest.raises(ValueError, match="tanh"):
        MLP([2, 2], activation="swish")
    with pytest.raises(ValueError, match="positive integers"):
        MLP([2])


def test_manual_seed_reproducibility_without_global_numpy_state():
    global_state = np.random.get_state()[1].copy()
    manual_seed(123)
    first = MLP([3, 8, 2]).state_dict()
    manual_seed(123)
    second = MLP([3, 8, 2]).state_dict()
    manual_seed(124)
    third = MLP([3, 8, 2]).state_dict()
    for name in first:
        np.testing.assert_array_equal(first[name], second[name])
    assert not np.array_equal(first["layers.0.weight"], third["layers.0.weight"])
    same_rng = [MLP([3, 8, 2], rng=np.random.default_rng(7)).state_dict() for _ in range(2)]
    np.testing.assert_array_equal(same_rng[0]["layers.1.weight"], same_rng[1]["layers.1.weight"])
    np.testing.assert_array_equal(np.random.get_state()[1], global_state)


# --------------------------------------------------------- Value vs Tensor
def test_tensor_mlp_gradients_match_the_scalar_value_engine():
    sizes = [3, 4, 4, 1]
    scalar_net = value.MLP(sizes)
    tensor_net = MLP(sizes, dtype=np.float64)
    for layer, scalar_layer in zip(tensor_net.layers, scalar_net.layers):
        # Value neuron j holds column j of the (in, out) weight
        layer.weight.data[...] = [[n.w[i].data for n in scalar_layer.neurons] for i in range(layer.in_features)]
        layer.bias.data[...] = [n.b.data for n in scalar_layer.neurons]

    rng = np.random.default_rng(0)
    inputs, targets = rng.standard_normal((6, 3)), rng.standard_normal(6)
    scalar_loss = sum((scalar_net(list(x))[0] - y) ** 2 for x, y in zip(inputs, targets)) / len(targets)
    scalar_loss.backward()
    tensor_loss = F.mse_loss(tensor_net(Tensor(inputs))[:, 0], targets)
    tensor_loss.backward()

    assert tensor_loss.item() == pytest.approx(scalar_loss.data, rel=1e-12)
    for layer, scalar_layer in zip(tensor_net.layers, scalar_net.layers):
        weight_grad = [[n.w[i].grad for n in scalar_layer.neurons] for i in range(layer.in_features)]
        np.testing.assert_allclose(layer.weight.grad, weight_grad, rtol=1e-9, atol=1e-12)
        np.testing.assert_allclose(layer.bias.grad, [n.b.grad for n in scalar_layer.neurons], rtol=1e-9, atol=1e-12)
    assert any(np.abs(layer.weight.grad).max() > 1e-3 for layer in tensor_net.layers)
