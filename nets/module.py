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
    """

    __slots__ = ()

    def __init__(self, data, dtype=None):
        super().__init__(data, requires_grad=True, dtype=dtype)


class Module:
    training = True

    def forward(self, *args, **kwargs):
        raise NotImplementedError(f"{type(self).__name__} must define forward()")

    def __call__(self, *args, **kwargs):
        return self.forward(*args, **kwargs)

    def predict(self, *args, **kwargs) -> np.ndarray:
        """The output as a plain array, computed without a graph: for acting, evaluation and generation.

        `net.predict(obs)` is `net(Tensor(obs))` under `no_grad()`, as an ndarray. MLP
        overrides it with a path that never builds a Tensor, the cheapest way to run a
        policy on one observation per environment step.
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
        return [p for _, p in self.named_parameters()]

    def modules(self):
        yield self
        for _, value in self._children():
            if isinstance(value, Module):
                yield from value.modules()

    def num_parameters(self) -> int:
        return sum(p.size for p in self.parameters())

    def zero_grad(self) -> None:
        for p in self.parameters():
            p.grad = None

    def train(self, mode: bool = True) -> "Module":
        for m in self.modules():
            m.training = mode
        return self

    def eval(self) -> "Module":
        return self.train(False)

    def to(self, dtype) -> "Module":
        """Cast every parameter in place (e.g. float64 for gradient checks)."""
        for p in self.parameters():
            p.data = p.data.astype(dtype)
            p.grad = None
        return self

    def double(self) -> "Module":
        return self.to(np.float64)

    def float(self) -> "Module":
        return self.to(np.float32)

    # -------------------------------------------------------- persistence
    def state_dict(self) -> dict:
        return {name: p.data.copy() for name, p in self.named_parameters()}

    def load_state_dict(self, state: dict) -> None:
        """Copy arrays into the parameters; any missing, extra or mis-shaped name is an error."""
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
        save_arrays(path, self.state_dict())

    def load(self, path) -> None:
        self.load_state_dict(load_arrays(path))

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.extra_repr()})"

    def extra_repr(self) -> str:
        return ""


@contextlib.contextmanager
def atomic_open(path):
    """Open a temporary file beside `path` for binary writing; on success rename it over `path`.

    A crash or an interrupt leaves the old file or the new one, never half of one.
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
    """Write arrays to an `.npz` atomically."""
    # Made in memory first, so a full disk fails in one plain write: inside np.savez it fails in
    # zipfile, whose __del__ on NumPy 1.x then prints a second, ignored error.
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    with atomic_open(path) as f:
        f.write(buffer.getbuffer())


def load_arrays(path) -> dict:
    """Read every array of an `.npz`; a missing or damaged file raises a ValueError that names it."""
    path = os.fspath(path)
    if not os.path.exists(path):
        raise FileNotFoundError(f"no such file: {path}")
    try:
        with np.load(path, allow_pickle=False) as data:
            return {k: data[k] for k in data.files}
    except (zipfile.BadZipFile, OSError, ValueError, EOFError) as error:
        raise ValueError(f"{path} is not a readable .npz file (corrupt or truncated?): {error}") from None


class Linear(Module):
    """y = x @ weight + bias, weight stored as (in_features, out_features) so no transpose is needed."""

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
    def forward(self, x: Tensor) -> Tensor:
        return x.relu()


class Tanh(Module):
    def forward(self, x: Tensor) -> Tensor:
        return x.tanh()


class Sigmoid(Module):
    def forward(self, x: Tensor) -> Tensor:
        return x.sigmoid()


class GELU(Module):
    def forward(self, x: Tensor) -> Tensor:
        return x.gelu()


class Identity(Module):
    def forward(self, x: Tensor) -> Tensor:
        return x


ACTIVATIONS = {"relu": ReLU, "tanh": Tanh, "sigmoid": Sigmoid, "gelu": GELU, "identity": Identity}


def activation(name: str) -> Module:
    try:
        return ACTIVATIONS[name]()
    except KeyError:
        raise ValueError(f"unknown activation {name!r}; choose one of {sorted(ACTIVATIONS)}") from None


class Sequential(Module):
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
