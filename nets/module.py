"""Modules: containers of parameters with a PyTorch-like interface.

A `Module` finds its parameters by walking its attributes in definition order:
`Parameter`s, sub-`Module`s, and lists/tuples of modules. Names are dotted
paths (`layers.0.weight`), the keys of `state_dict()` and of saved `.npz` files.
"""

from __future__ import annotations

import contextlib
import io
import os
import tempfile
import zipfile

import numpy as np

from . import functional as F
from . import init, kernels, ops
from .tensor import DEFAULT_DTYPE, Tensor, is_grad_enabled, no_grad


class Parameter(Tensor):
    """A leaf tensor that a Module owns and optimizers update.

    `.grad` after backward() is a new array each time (never a buffer the next
    backward overwrites): keep it as long as you like. An optimizer makes
    `.data` a view of its `FlatParameters` vector (`optimizer.flat`, nets/optim.py);
    assigning a new array to `.data` is fine, the optimizer re-links at its next step.

        >>> from rl_scratch.nets import Module, Parameter
        >>> class Scale(Module):
        ...     def __init__(self):
        ...         self.gain = Parameter(np.ones(2))
        ...     def forward(self, x):
        ...         return x * self.gain
        >>> [name for name, _ in Scale().named_parameters()], Scale().gain.requires_grad
        (['gain'], True)
    """

    __slots__ = ()

    def __init__(self, data, dtype=None):
        super().__init__(data, requires_grad=True, dtype=dtype)


class Module:
    """Base class of every network: define `forward`; parameters are found by walking attributes.

    Parameters, sub-modules and lists of modules assigned in `__init__` are found in
    definition order; `parameters()` is what an optimizer takes.

        >>> from rl_scratch.nets import Linear, Module, Tensor
        >>> class TwoLayer(Module):
        ...     def __init__(self, rng):
        ...         self.hidden, self.out = Linear(4, 8, rng=rng), Linear(8, 2, rng=rng)
        ...     def forward(self, x):
        ...         return self.out(self.hidden(x).relu())
        >>> net = TwoLayer(np.random.default_rng(0))
        >>> net(Tensor(np.ones((3, 4)))).shape, [name for name, _ in net.named_parameters()][:2]
        ((3, 2), ['hidden.weight', 'hidden.bias'])
    """
    training = True

    def forward(self, *args, **kwargs):
        """The computation; subclasses define it, and calling the module calls it.

            >>> from rl_scratch.nets import Linear, Tensor
            >>> layer = Linear(2, 1, rng=np.random.default_rng(0))
            >>> layer.forward(Tensor([[1.0, 2.0]])).shape == layer(Tensor([[1.0, 2.0]])).shape
            True
        """
        raise NotImplementedError(f"{type(self).__name__} must define forward()")

    def __call__(self, *args, **kwargs):
        return self.forward(*args, **kwargs)

    def predict(self, *args, **kwargs) -> np.ndarray:
        """The output as a plain array, computed without a graph: for acting, evaluation and generation.

        `net.predict(obs)` is `net(Tensor(obs))` under `no_grad()`, as an ndarray. MLP
        overrides it with a path that never builds a Tensor, the cheapest way to run a
        policy on one observation per environment step.

            >>> from rl_scratch.nets import Linear, Sequential, Tanh
            >>> net = Sequential(Linear(4, 2, rng=np.random.default_rng(0)), Tanh())
            >>> type(net.predict(np.zeros((3, 4), np.float32))).__name__, net.predict(np.zeros(4, np.float32)).shape
            ('ndarray', (2,))
        """
        with no_grad():
            return self(*args, **kwargs).data

    # ------------------------------------------------------------ traversal
    def _children(self):
        for name, value in vars(self).items():
            if isinstance(value, (Parameter, Module)):
                yield name, value
            elif isinstance(value, (list, tuple)) and value and all(isinstance(v, Module) for v in value):
                for i, item in enumerate(value):
                    yield f"{name}.{i}", item

    def named_parameters(self, prefix: str = ""):
        """(dotted name, Parameter) pairs in definition order; a shared parameter appears once.

            >>> from rl_scratch.nets import MLP
            >>> [name for name, _ in MLP([2, 3, 1], rng=np.random.default_rng(0)).named_parameters()]
            ['layers.0.weight', 'layers.0.bias', 'layers.1.weight', 'layers.1.bias']
        """
        seen = set()
        for name, value in self._children():
            full = prefix + name
            if isinstance(value, Parameter):
                if id(value) not in seen:
                    seen.add(id(value))
                    yield full, value
            else:
                for sub_name, param in value.named_parameters(full + "."):
                    if id(param) not in seen:
                        seen.add(id(param))
                        yield sub_name, param

    def parameters(self) -> list:
        """The Parameters, as a list for an optimizer.

            >>> from rl_scratch.nets import MLP, Adam
            >>> net = MLP([2, 3, 1], rng=np.random.default_rng(0))
            >>> len(net.parameters()), type(Adam(net.parameters(), lr=1e-3)).__name__
            (4, 'Adam')
        """
        return [p for _, p in self.named_parameters()]

    def modules(self):
        """This module and every sub-module, depth first.

            >>> from rl_scratch.nets import MLP
            >>> [type(m).__name__ for m in MLP([2, 3, 1], rng=np.random.default_rng(0)).modules()]
            ['MLP', 'Linear', 'Linear', 'ReLU']
        """
        yield self
        for _, value in self._children():
            if isinstance(value, Module):
                yield from value.modules()

    def num_parameters(self) -> int:
        """The number of scalars in all parameters.

            >>> from rl_scratch.nets import Linear
            >>> Linear(4, 2, rng=np.random.default_rng(0)).num_parameters()  # 4 * 2 weights + 2 biases
            10
        """
        return sum(p.size for p in self.parameters())

    def zero_grad(self) -> None:
        """Forget every parameter's gradient.

            >>> from rl_scratch.nets import Linear, Tensor
            >>> layer = Linear(2, 1, rng=np.random.default_rng(0))
            >>> layer(Tensor([[1.0, 1.0]])).sum().backward(); layer.zero_grad()
            >>> layer.weight.grad is None
            True
        """
        for p in self.parameters():
            p.grad = None

    def train(self, mode: bool = True) -> "Module":
        """Set training mode (dropout active) on this module and all sub-modules; returns the module.

            >>> from rl_scratch.nets import Dropout, Sequential
            >>> net = Sequential(Dropout(0.1)).eval()
            >>> net.train().layers[0].training
            True
        """
        for m in self.modules():
            m.training = mode
        return self

    def eval(self) -> "Module":
        """Evaluation mode: `train(False)` (dropout off).

            >>> from rl_scratch.nets import Dropout, Sequential
            >>> Sequential(Dropout(0.1)).eval().layers[0].training
            False
        """
        return self.train(False)

    def to(self, dtype) -> "Module":
        """Cast every parameter in place (e.g. float64 for gradient checks); returns the module.

            >>> from rl_scratch.nets import Linear
            >>> Linear(2, 1, rng=np.random.default_rng(0)).to(np.float64).weight.dtype
            dtype('float64')
        """
        for p in self.parameters():
            p.data = p.data.astype(dtype)
            p.grad = None
        return self

    def double(self) -> "Module":
        """`to(np.float64)`: the precision gradient checks need.

            >>> from rl_scratch.nets import Linear
            >>> Linear(2, 1, rng=np.random.default_rng(0)).double().bias.dtype
            dtype('float64')
        """
        return self.to(np.float64)

    def float(self) -> "Module":
        """`to(np.float32)`, the default precision.

            >>> from rl_scratch.nets import Linear
            >>> Linear(2, 1, rng=np.random.default_rng(0)).double().float().bias.dtype
            dtype('float32')
        """
        return self.to(np.float32)

    # -------------------------------------------------------- persistence
    def state_dict(self) -> dict:
        """{dotted name: a copy of the parameter's array}: what `save` writes.

            >>> from rl_scratch.nets import Linear
            >>> {name: value.shape for name, value in Linear(3, 2, rng=np.random.default_rng(0)).state_dict().items()}
            {'weight': (3, 2), 'bias': (2,)}
        """
        return {name: p.data.copy() for name, p in self.named_parameters()}

    def load_state_dict(self, state: dict) -> None:
        """Copy arrays into the parameters; any missing, extra or mis-shaped name is an error.

            >>> from rl_scratch.nets import MLP
            >>> a, b = MLP([2, 3, 1], rng=np.random.default_rng(0)), MLP([2, 3, 1], rng=np.random.default_rng(1))
            >>> b.load_state_dict(a.state_dict())
            >>> np.array_equal(a.predict(np.ones(2)), b.predict(np.ones(2)))
            True
            >>> b.load_state_dict({})
            Traceback (most recent call last):
            ...
            ValueError: state does not match MLP: missing parameter(s) ['layers.0.weight', ...]
        """
        params = dict(self.named_parameters())
        missing = [n for n in params if n not in state]
        unexpected = [n for n in state if n not in params]
        if missing or unexpected:
            details = []
            if missing:
                details.append(f"missing parameter(s) {missing}")
            if unexpected:
                details.append(f"unexpected parameter(s) {unexpected}")
            raise ValueError(f"state does not match {type(self).__name__}: " + "; ".join(details))
        for name, p in params.items():
            value = np.asarray(state[name])
            if value.shape != p.shape:
                raise ValueError(f"parameter '{name}' has shape {p.shape} in {type(self).__name__} "
                                 f"but {value.shape} in the loaded state")
        for name, p in params.items():
            p.data[...] = state[name]  # in place: an optimizer's views of the parameters stay valid
            p.grad = None

    def save(self, path) -> None:
        """Write `state_dict()` to an `.npz` file atomically.

            >>> import os, tempfile
            >>> from rl_scratch.nets import MLP
            >>> path = os.path.join(tempfile.mkdtemp(), "net.npz")
            >>> MLP([2, 3, 1], rng=np.random.default_rng(0)).save(path)
            >>> sorted(np.load(path).files)
            ['layers.0.bias', 'layers.0.weight', 'layers.1.bias', 'layers.1.weight']
        """
        save_arrays(path, self.state_dict())

    def load(self, path) -> None:
        """Read parameters saved by `save` into this module (same architecture).

            >>> import os, tempfile
            >>> from rl_scratch.nets import MLP
            >>> path = os.path.join(tempfile.mkdtemp(), "net.npz")
            >>> trained, fresh = MLP([2, 3, 1], rng=np.random.default_rng(0)), MLP([2, 3, 1], rng=np.random.default_rng(1))
            >>> trained.save(path); fresh.load(path)
            >>> np.array_equal(fresh.predict(np.ones(2)), trained.predict(np.ones(2)))
            True
        """
        self.load_state_dict(load_arrays(path))

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.extra_repr()})"

    def extra_repr(self) -> str:
        """What goes inside the parentheses of the module's repr; subclasses describe their sizes.

            >>> from rl_scratch.nets import Dropout
            >>> Dropout(0.25).extra_repr(), repr(Dropout(0.25))
            ('p=0.25', 'Dropout(p=0.25)')
        """
        return ""


@contextlib.contextmanager
def atomic_open(path):
    """Open a temporary file beside `path` for binary writing; on success rename it over `path`.

    A crash or an interrupt leaves the old file or the new one, never half of one.

        >>> import os, tempfile
        >>> from rl_scratch.nets import atomic_open
        >>> path = os.path.join(tempfile.mkdtemp(), "notes.bin")
        >>> with atomic_open(path) as f:
        ...     _ = f.write(b"all or nothing")
        >>> open(path, "rb").read()
        b'all or nothing'
    """
    path = os.fspath(path)
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=os.path.splitext(path)[1],
                               dir=os.path.dirname(os.path.abspath(path)))
    try:
        os.chmod(tmp, 0o666 & ~_UMASK)  # mkstemp makes 0600; give what open() would
        with os.fdopen(fd, "wb") as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise


_UMASK = os.umask(0)  # reading the umask means setting it; put it straight back
os.umask(_UMASK)


def save_arrays(path, arrays: dict) -> None:
    """Write a dict of arrays to an `.npz` atomically (plain arrays: no pickles).

        >>> import os, tempfile
        >>> from rl_scratch.nets import load_arrays, save_arrays
        >>> path = os.path.join(tempfile.mkdtemp(), "arrays.npz")
        >>> save_arrays(path, {"q": np.zeros((2, 3))})
        >>> load_arrays(path)["q"].shape
        (2, 3)
    """
    # Made in memory first, so a full disk fails in one plain write: inside np.savez it fails in
    # zipfile, whose __del__ on NumPy 1.x then prints a second, ignored error.
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    with atomic_open(path) as f:
        f.write(buffer.getbuffer())


def load_arrays(path) -> dict:
    """Read every array of an `.npz`; a missing file raises FileNotFoundError, a damaged one a ValueError naming it.

        >>> import os, tempfile
        >>> from rl_scratch.nets import load_arrays
        >>> path = os.path.join(tempfile.mkdtemp(), "broken.npz")
        >>> _ = open(path, "wb").write(b"not a zip")
        >>> load_arrays(path)
        Traceback (most recent call last):
        ...
        ValueError: .../broken.npz is not a readable .npz file (corrupt or truncated?): ...
    """
    path = os.fspath(path)
    if not os.path.exists(path):
        raise FileNotFoundError(f"no such file: {path}")
    try:
        with np.load(path, allow_pickle=False) as data:
            return {k: data[k] for k in data.files}
    except (zipfile.BadZipFile, OSError, ValueError, EOFError) as error:
        raise ValueError(f"{path} is not a readable .npz file (corrupt or truncated?): {error}") from None


class Linear(Module):
    """y = x @ weight + bias, weight stored as (in_features, out_features) so no transpose is needed.

        >>> from rl_scratch.nets import Linear, Tensor
        >>> layer = Linear(3, 2, rng=np.random.default_rng(0))
        >>> layer, layer.weight.shape, layer(Tensor(np.ones((5, 3)))).shape
        (Linear(3, 2, bias=True), (3, 2), (5, 2))
    """

    def __init__(self, in_features: int, out_features: int, bias: bool = True, init_scheme: str = "he",
                 rng: np.random.Generator | None = None, dtype=DEFAULT_DTYPE, gain: float | None = None):
        self.in_features, self.out_features = in_features, out_features
        self.weight = Parameter(init.weight((in_features, out_features), init_scheme, rng, gain), dtype=dtype)
        self.bias = Parameter(np.zeros(out_features), dtype=dtype) if bias else None

    def forward(self, x: Tensor) -> Tensor:
        return F.linear(x if isinstance(x, Tensor) else Tensor(x, dtype=self.weight.dtype),
                        self.weight, self.bias, layer=self)

    def _forward_array(self, x: np.ndarray) -> np.ndarray:
        """forward() on an array without a graph or shape check, for the inference paths of models built on Linear."""
        return ops.linear.linear(x, self.weight.data, None if self.bias is None else self.bias.data)[0]

    def extra_repr(self) -> str:
        return f"{self.in_features}, {self.out_features}, bias={self.bias is not None}"


class ReLU(Module):
    """max(x, 0) as a module (for Sequential).

        >>> from rl_scratch.nets import ReLU, Tensor
        >>> ReLU()(Tensor([-1.0, 1.0]))
        Tensor([0. 1.], dtype=float32)
    """
    def forward(self, x: Tensor) -> Tensor:
        return x.relu()


class Tanh(Module):
    """tanh as a module (for Sequential).

        >>> from rl_scratch.nets import Tanh, Tensor
        >>> Tanh()(Tensor([0.0]))
        Tensor([0.], dtype=float32)
    """
    def forward(self, x: Tensor) -> Tensor:
        return x.tanh()


class Sigmoid(Module):
    """The logistic function as a module (for Sequential).

        >>> from rl_scratch.nets import Sigmoid, Tensor
        >>> Sigmoid()(Tensor([0.0]))
        Tensor([0.5], dtype=float32)
    """
    def forward(self, x: Tensor) -> Tensor:
        return x.sigmoid()


class GELU(Module):
    """GELU (tanh approximation) as a module (for Sequential).

        >>> from rl_scratch.nets import GELU, Tensor
        >>> GELU()(Tensor([0.0]))
        Tensor([0.], dtype=float32)
    """
    def forward(self, x: Tensor) -> Tensor:
        return x.gelu()


class Identity(Module):
    """Returns its input (a placeholder layer).

        >>> from rl_scratch.nets import Identity, Tensor
        >>> Identity()(Tensor([2.0]))
        Tensor([2.], dtype=float32)
    """
    def forward(self, x: Tensor) -> Tensor:
        return x


ACTIVATIONS = {"relu": ReLU, "tanh": Tanh, "sigmoid": Sigmoid, "gelu": GELU, "identity": Identity}


def activation(name: str) -> Module:
    try:
        return ACTIVATIONS[name]()
    except KeyError:
        raise ValueError(f"unknown activation {name!r}; choose one of {sorted(ACTIVATIONS)}") from None


class Sequential(Module):
    """Modules applied in order; `seq[i]` is the i-th.

        >>> from rl_scratch.nets import Linear, ReLU, Sequential, Tensor
        >>> net = Sequential(Linear(4, 8, rng=np.random.default_rng(0)), ReLU(), Linear(8, 2, rng=np.random.default_rng(1)))
        >>> len(net), net[1], net(Tensor(np.ones((3, 4)))).shape
        (3, ReLU(), (3, 2))
    """
    def __init__(self, *layers: Module):
        self.layers = list(layers)

    def forward(self, x: Tensor) -> Tensor:
        for layer in self.layers:
            x = layer(x)
        return x

    def __getitem__(self, i: int) -> Module:
        return self.layers[i]

    def __len__(self) -> int:
        return len(self.layers)

    def __repr__(self) -> str:
        inner = "\n".join(f"  ({i}): {layer!r}" for i, layer in enumerate(self.layers))
        return f"Sequential(\n{inner}\n)"


class Dropout(Module):
    """Inverted dropout with probability `p` while training; the identity after `eval()`.

        >>> from rl_scratch.nets import Dropout, Tensor
        >>> drop = Dropout(0.5, rng=np.random.default_rng(0))
        >>> drop(Tensor(np.ones(4))), drop.eval()(Tensor(np.ones(4)))
        (Tensor([2. 0. 0. 0.], dtype=float64), Tensor([1. 1. 1. 1.], dtype=float64))
    """
    def __init__(self, p: float = 0.5, rng: np.random.Generator | None = None):
        if not 0 <= p < 1:
            raise ValueError(f"dropout probability must be in [0, 1), got {p}")
        self.p = p
        self.rng = rng if rng is not None else init.default_rng()

    def forward(self, x: Tensor) -> Tensor:
        return F.dropout(x, self.p, self.rng, self.training)

    def extra_repr(self) -> str:
        return f"p={self.p}"


class MLP(Module):
    """Fully connected network: `MLP([4, 64, 64, 2], activation="tanh")`.

    Hidden layers use `activation`; the output layer is linear unless
    `output_activation` is given. Initialization: He for ReLU-like, Xavier for
    tanh/sigmoid; `output_gain` scales the last layer (small for policy heads).

        >>> from rl_scratch.nets import MLP, Tensor
        >>> net = MLP([4, 64, 64, 2], activation="tanh", rng=np.random.default_rng(0))
        >>> net, net.num_parameters(), net(Tensor(np.ones((8, 4)))).shape
        (MLP([4, 64, 64, 2], activation='tanh'), 4610, (8, 2))
    """

    def __init__(self, sizes, activation: str = "relu", output_activation: str | None = None,
                 rng: np.random.Generator | None = None, dtype=DEFAULT_DTYPE, output_gain: float | None = None):
        sizes = list(sizes)
        if len(sizes) < 2 or any(int(s) != s or s < 1 for s in sizes):
            raise ValueError(f"MLP sizes must be at least two positive integers, got {sizes}")
        if activation not in ACTIVATIONS:
            raise ValueError(f"unknown activation {activation!r}; choose one of {sorted(ACTIVATIONS)}")
        rng = rng if rng is not None else init.default_rng()
        scheme = "xavier" if activation in ("tanh", "sigmoid") else "he"
        self.sizes, self.activation = sizes, activation
        self.layers = [
            Linear(n_in, n_out, init_scheme=scheme, rng=rng, dtype=dtype,
                   gain=output_gain if i == len(sizes) - 2 else None)
            for i, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:]))
        ]
        self._hidden = ACTIVATIONS[activation]()
        self._output = ACTIVATIONS[output_activation]() if output_activation else None
        self._hidden_array = ops.activations.ACTIVATIONS[activation][0]
        self._output_array = ops.activations.ACTIVATIONS[output_activation][0] if output_activation else None

    def forward(self, x: Tensor) -> Tensor:
        if not is_grad_enabled() and kernels.fused_enabled():
            return Tensor(self.predict(x.data if isinstance(x, Tensor) else x))
        if not isinstance(x, Tensor):
            x = Tensor(x, dtype=self.layers[0].weight.dtype)
        if self.activation in kernels.IN_PLACE_ACTIVATIONS:  # the whole stack: one fused node on the fast path
            x = F.mlp(x, self.layers, self.activation)
        else:
            for layer in self.layers[:-1]:
                x = self._hidden.forward(layer.forward(x))
            x = self.layers[-1].forward(x)
        return self._output.forward(x) if self._output is not None else x

    def predict(self, x) -> np.ndarray:
        """The same network on plain arrays, without a graph: policies call this once per env step.

        It runs the ops forwards the graph nodes run (on the reading path: forward() under no_grad).
        """
        if not kernels._fused:  # the reading path (kernels.fused_enabled(), without a call per env step)
            return super().predict(x)
        layers = self.layers
        first = layers[0].weight.data
        if type(x) is not np.ndarray or x.dtype is not first.dtype:
            x = np.asarray(x, dtype=first.dtype)
        if not x.ndim or x.shape[-1] != first.shape[0]:
            F.linear(Tensor(x), layers[0].weight, None, layers[0])  # raises the shape error
        hidden, last = self._hidden_array, len(layers) - 1
        for i, layer in enumerate(layers):
            x = ops.linear.linear(x, layer.weight.data, layer.bias.data)[0]
            if i < last:
                hidden(x, out=x)  # in place: no backward needs the pre-activation here
        return x if self._output_array is None else self._output_array(x, out=x)[0]

    def extra_repr(self) -> str:
        return f"{self.sizes}, activation={self.activation!r}"
