"""Reverse-mode automatic differentiation on NumPy arrays.

A `Tensor` wraps an ndarray. Every op builds its output, and right below it a
`_backward(out_grad)` closure that *adds* the op's contribution into its inputs'
`.grad` (a tensor used twice receives both). `Tensor.backward()` runs the closures
in reverse creation order, a topological order, handing each its output's gradient.
The closures never capture their output tensor (only its data): that would make
every graph a reference cycle, left for the cyclic garbage collector instead of
being freed as soon as the step drops it.

Broadcasting has one owner: `unbroadcast(grad, shape)` sums a gradient back to
the shape of the input it belongs to; every two-input op uses it.
"""

from __future__ import annotations

import heapq
import itertools
import math

import numpy as np

DEFAULT_DTYPE = np.float32

_grad_enabled = True
_creation_order = itertools.count()  # parents are always created before their children


class no_grad:
    """Run ops without recording the graph (inference, target computation).

    A class rather than a generator-based context manager: policies enter it on
    every environment step, and this is several times cheaper.
    """

    __slots__ = ("_previous",)

    def __enter__(self):
        global _grad_enabled
        self._previous, _grad_enabled = _grad_enabled, False
        return self

    def __exit__(self, *exc_info):
        global _grad_enabled
        _grad_enabled = self._previous
        return False


def is_grad_enabled() -> bool:
    return _grad_enabled


def unbroadcast(grad: np.ndarray, shape: tuple) -> np.ndarray:
    """Sum `grad` down to `shape`, undoing NumPy broadcasting."""
    if grad.shape == shape:
        return grad
    extra = grad.ndim - len(shape)
    if extra > 0:
        grad = grad.sum(axis=tuple(range(extra)))
    kept_ones = tuple(i for i, n in enumerate(shape) if n == 1 and grad.shape[i] != 1)
    if kept_ones:
        grad = grad.sum(axis=kept_ones, keepdims=True)
    return grad


def _as_array(data, dtype=None) -> np.ndarray:
    if isinstance(data, Tensor):
        data = data.data
    if dtype is not None:
        return np.asarray(data, dtype=dtype)
    array = np.asarray(data)
    # Python numbers and lists become float32 (as in PyTorch); an ndarray keeps its float dtype,
    # which is how float64 is requested.
    if array.dtype.kind != "f" or not isinstance(data, (np.ndarray, np.generic)):
        array = array.astype(DEFAULT_DTYPE)
    return array


class Tensor:
    """An ndarray with a gradient: float32 unless built from a float64 ndarray or `dtype=` asks otherwise."""

    __slots__ = ("data", "grad", "requires_grad", "_parents", "_backward", "_op", "_seq", "__weakref__")
    __array_priority__ = 100  # `ndarray + Tensor` defers to Tensor.__radd__

    def __init__(self, data, requires_grad: bool = False, dtype=None):
        if type(data) is np.ndarray and dtype is None and data.dtype.kind == "f":
            self.data = data  # the common case, kept cheap: one observation per env step
        else:
            self.data = _as_array(data, dtype)
        if requires_grad and self.data.dtype.kind != "f":
            raise TypeError(f"only floating-point tensors can require gradients, got dtype {self.data.dtype}")
        self.grad = None
        self.requires_grad = requires_grad
        self._parents = ()
        self._backward = None
        self._op = ""

    @classmethod
    def _result(cls, data: np.ndarray, parents: tuple, op: str) -> "Tensor":
        """Output of an op: records its parents only when a gradient can flow to them."""
        out = cls.__new__(cls)
        out.data = data
        out.grad = None
        out._backward = None
        out._op = op
        if _grad_enabled:
            for parent in parents:
                if parent.requires_grad:
                    out.requires_grad = True
                    out._parents = parents
                    out._seq = next(_creation_order)
                    return out
        out.requires_grad = False
        out._parents = ()
        return out

    # ----------------------------------------------------------------- basics
    @property
    def shape(self) -> tuple:
        return self.data.shape

    @property
    def ndim(self) -> int:
        return self.data.ndim

    @property
    def dtype(self):
        return self.data.dtype

    @property
    def size(self) -> int:
        return self.data.size

    def __len__(self) -> int:
        return len(self.data)

    def numpy(self) -> np.ndarray:
        return self.data

    def item(self) -> float:
        return self.data.item()

    def detach(self) -> "Tensor":
        return Tensor(self.data)

    def astype(self, dtype) -> "Tensor":
        data = self.data.astype(dtype)
        out = Tensor._result(data, (self,), "astype")
        if out.requires_grad:
            def _backward(out_grad):
                self._accumulate(out_grad.astype(self.data.dtype))
            out._backward = _backward
        return out

    def __repr__(self) -> str:
        flag = ", requires_grad=True" if self.requires_grad else ""
        return f"Tensor({np.array2string(self.data, precision=4, threshold=20)}, dtype={self.dtype}{flag})"

    def _accumulate(self, grad: np.ndarray) -> None:
        if grad.shape != self.data.shape:
            raise RuntimeError(
                f"gradient of shape {grad.shape} reached a tensor of shape {self.data.shape} "
                f"(from op '{self._op or 'leaf'}'): an op's backward is wrong"
            )
        # Never `+=`: the first gradient may be an array another tensor also holds.
        self.grad = grad if self.grad is None else self.grad + grad

    def zero_grad(self) -> None:
        self.grad = None

    # --------------------------------------------------------------- backward
    def backward(self, grad=None) -> None:
        """Accumulate d(self)/d(leaf) into every leaf's `.grad` that requires it."""
        if not self.requires_grad:
            raise RuntimeError("backward() on a tensor that does not require grad: no input of its graph has requires_grad=True")
        if grad is None:
            if self.data.size != 1:
                raise RuntimeError(
                    f"backward() on a non-scalar tensor of shape {self.shape} needs an explicit gradient "
                    "of that shape: call .backward(grad) or reduce first (e.g. .sum() or .mean())"
                )
            grad = _ONES[self.data.dtype]  # read-only: no backward writes its out_grad
            if self.data.ndim:
                grad = grad.reshape(self.data.shape)
        else:
            grad = _as_array(grad, self.data.dtype)
            if grad.shape != self.shape:
                raise RuntimeError(f"backward() got a gradient of shape {grad.shape} for a tensor of shape {self.shape}")
        if not self._parents:  # a leaf: nothing to propagate
            self._accumulate(grad)
            return
        self.grad = None
        self._accumulate(grad)
        node = self
        while node is not None:
            # Down a chain, where each node has one op output among its inputs, the walk itself is
            # a topological order: nothing else can use that input. The first fork hands over.
            below = None
            for parent in node._parents:
                if parent._parents:
                    if below is not None:
                        node._propagate_in_creation_order()
                        return
                    below = parent
            if below is not None:
                below.grad = None  # see _propagate_in_creation_order
            if node.grad is not None:
                node._backward(node.grad)
            node = below

    def _propagate_in_creation_order(self) -> None:
        """Run this op output's backward, and that of every op output it depends on, in reverse creation order.

        That is a topological order (an op's inputs always exist before its output), so when
        a node comes off the heap, every node that used it has run: its gradient is complete.
        The heap is explicit because deep graphs must not recurse. Leaves have no backward.
        """
        seen, pending = {id(self)}, [(-self._seq, self)]
        while pending:
            node = heapq.heappop(pending)[1]
            for parent in node._parents:
                if parent._parents and id(parent) not in seen:
                    seen.add(id(parent))
                    # An intermediate result keeps .grad from an earlier backward through a shared
                    # subgraph (actor and critic losses on one trunk): it would count twice.
                    parent.grad = None
                    heapq.heappush(pending, (-parent._seq, parent))
            if node.grad is not None:
                node._backward(node.grad)

    # ------------------------------------------------------------ arithmetic
    def __add__(self, other) -> "Tensor":
        other = other if isinstance(other, Tensor) else Tensor(_as_array(other, self.data.dtype))
        out = Tensor._result(self.data + other.data, (self, other), "add")
        if out.requires_grad:
            def _backward(out_grad):
                if self.requires_grad:
                    self._accumulate(unbroadcast(out_grad, self.data.shape))
                if other.requires_grad:
                    other._accumulate(unbroadcast(out_grad, other.data.shape))
            out._backward = _backward
        return out

    def __mul__(self, other) -> "Tensor":
        other = other if isinstance(other, Tensor) else Tensor(_as_array(other, self.data.dtype))
        out = Tensor._result(self.data * other.data, (self, other), "mul")
        if out.requires_grad:
            def _backward(out_grad):
                if self.requires_grad:
                    self._accumulate(unbroadcast(out_grad * other.data, self.data.shape))
                if other.requires_grad:
                    other._accumulate(unbroadcast(out_grad * self.data, other.data.shape))
            out._backward = _backward
        return out

    def __truediv__(self, other) -> "Tensor":
        other = other if isinstance(other, Tensor) else Tensor(_as_array(other, self.data.dtype))
        out = Tensor._result(self.data / other.data, (self, other), "div")
        if out.requires_grad:
            out_data = out.data
            def _backward(out_grad):
                if self.requires_grad:
                    self._accumulate(unbroadcast(out_grad / other.data, self.data.shape))
                if other.requires_grad:
                    other._accumulate(unbroadcast(-out_grad * out_data / other.data, other.data.shape))
            out._backward = _backward
        return out

    def __neg__(self) -> "Tensor":
        out = Tensor._result(-self.data, (self,), "neg")
        if out.requires_grad:
            def _backward(out_grad):
                self._accumulate(-out_grad)
            out._backward = _backward
        return out

    def __pow__(self, exponent) -> "Tensor":
        if isinstance(exponent, Tensor):
            return _power(self, exponent)
        exponent = float(exponent)
        out = Tensor._result(self.data ** exponent, (self,), "pow")
        if out.requires_grad:
            def _backward(out_grad):
                self._accumulate(out_grad * _power_base_grad(self.data, exponent))
            out._backward = _backward
        return out

    def __rpow__(self, base) -> "Tensor":
        return _power(Tensor(_as_array(base, self.data.dtype)), self)

    # Comparisons give boolean arrays (no graph: they have no gradient), as masks for where() and indexing.
    # == and != stay identity tests, so tensors can live in sets and dicts (see the README's table).
    def __lt__(self, other) -> np.ndarray:
        return self.data < _data_of(other)

    def __le__(self, other) -> np.ndarray:
        return self.data <= _data_of(other)

    def __gt__(self, other) -> np.ndarray:
        return self.data > _data_of(other)

    def __ge__(self, other) -> np.ndarray:
        return self.data >= _data_of(other)

    def __sub__(self, other) -> "Tensor":
        return self + (-other if isinstance(other, Tensor) else -_as_array(other, self.data.dtype))

    def __radd__(self, other) -> "Tensor":
        return self + other

    def __rsub__(self, other) -> "Tensor":
        return (-self) + other

    def __rmul__(self, other) -> "Tensor":
        return self * other

    def __rtruediv__(self, other) -> "Tensor":
        return Tensor(_as_array(other, self.data.dtype)) / self

    # ---------------------------------------------------------------- matmul
    def __matmul__(self, other) -> "Tensor":
        other = other if isinstance(other, Tensor) else Tensor(other)
        a, b = self.data, other.data
        if a.ndim == 0 or b.ndim == 0:
            raise ValueError("matmul needs tensors with at least one dimension; use * for scalars")
        if a.shape[-1] != b.shape[-2 if b.ndim > 1 else 0]:
            raise ValueError(
                f"matmul shape mismatch: {a.shape} @ {b.shape} (inner dimensions {a.shape[-1]} and "
                f"{b.shape[-2 if b.ndim > 1 else 0]} must agree)"
            )
        out = Tensor._result(a @ b, (self, other), "matmul")
        if out.requires_grad:
            def _backward(out_grad):
                # Lift 1-D operands to matrices so one formula covers every case.
                a2 = a[None, :] if a.ndim == 1 else a
                b2 = b[:, None] if b.ndim == 1 else b
                g = out_grad
                if b.ndim == 1:  # first: a vector @ vector gradient is 0-d and needs this axis
                    g = np.expand_dims(g, -1)
                if a.ndim == 1:
                    g = np.expand_dims(g, -2)
                if self.requires_grad:
                    ga = g @ np.swapaxes(b2, -1, -2)
                    self._accumulate(unbroadcast(ga, a2.shape).reshape(a.shape))
                if other.requires_grad:
                    gb = np.swapaxes(a2, -1, -2) @ g
                    other._accumulate(unbroadcast(gb, b2.shape).reshape(b.shape))
            out._backward = _backward
        return out

    def __rmatmul__(self, other) -> "Tensor":
        return Tensor(other) @ self

    # ------------------------------------------------------------ reductions
    def sum(self, axis=None, keepdims: bool = False) -> "Tensor":
        out = Tensor._result(np.asarray(self.data.sum(axis=axis, keepdims=keepdims)), (self,), "sum")
        if out.requires_grad:
            def _backward(out_grad):
                g = out_grad if keepdims or axis is None or not self.data.ndim else np.expand_dims(out_grad, axis)
                self._accumulate(np.broadcast_to(g, self.data.shape).copy())
            out._backward = _backward
        return out

    def mean(self, axis=None, keepdims: bool = False) -> "Tensor":
        """Mean over `axis`; over no elements it is NaN, as in NumPy and PyTorch."""
        count = self.data.size if axis is None or not self.data.ndim else math.prod(
            self.data.shape[a] for a in ((axis,) if isinstance(axis, int) else axis))
        return self.sum(axis=axis, keepdims=keepdims) * (1.0 / count if count else math.nan)

    def var(self, axis=None, keepdims: bool = False) -> "Tensor":
        """Population variance (divides by n), as layer norm uses."""
        centered = self - self.mean(axis=axis, keepdims=True)
        return (centered * centered).mean(axis=axis, keepdims=keepdims)

    def max(self, axis=None, keepdims: bool = False) -> "Tensor":
        """Maximum; the gradient is split evenly between tied maxima."""
        data = np.asarray(self.data.max(axis=axis, keepdims=keepdims))
        out = Tensor._result(data, (self,), "max")
        if out.requires_grad:
            def _backward(out_grad):
                kept = data if keepdims or axis is None else np.expand_dims(data, axis)
                g = out_grad if keepdims or axis is None else np.expand_dims(out_grad, axis)
                winners = self.data == kept
                ties = winners.sum(axis=axis, keepdims=True).astype(self.data.dtype)  # int counts would promote to float64
                self._accumulate(winners * (g / ties))
            out._backward = _backward
        return out

    def min(self, axis=None, keepdims: bool = False) -> "Tensor":
        return -((-self).max(axis=axis, keepdims=keepdims))

    def argmax(self, axis=None) -> np.ndarray:
        return self.data.argmax(axis=axis)

    # ------------------------------------------------------------ elementwise
    def exp(self) -> "Tensor":
        out = Tensor._result(np.exp(self.data), (self,), "exp")
        if out.requires_grad:
            out_data = out.data
            def _backward(out_grad):
                self._accumulate(out_grad * out_data)
            out._backward = _backward
        return out

    def log(self) -> "Tensor":
        out = Tensor._result(np.log(self.data), (self,), "log")
        if out.requires_grad:
            def _backward(out_grad):
                self._accumulate(out_grad / self.data)
            out._backward = _backward
        return out

    def sqrt(self) -> "Tensor":
        out = Tensor._result(np.sqrt(self.data), (self,), "sqrt")
        if out.requires_grad:
            out_data = out.data
            def _backward(out_grad):
                self._accumulate(out_grad * 0.5 / out_data)
            out._backward = _backward
        return out

    def abs(self) -> "Tensor":
        out = Tensor._result(np.abs(self.data), (self,), "abs")
        if out.requires_grad:
            def _backward(out_grad):
                self._accumulate(out_grad * np.sign(self.data))
            out._backward = _backward
        return out

    def clip(self, low=None, high=None) -> "Tensor":
        """Clamp values; the gradient passes only where the value was inside [low, high]."""
        out = Tensor._result(np.clip(self.data, low, high), (self,), "clip")
        if out.requires_grad:
            def _backward(out_grad):
                inside = np.ones(self.data.shape, dtype=bool)
                if low is not None:
                    inside &= self.data >= low
                if high is not None:
                    inside &= self.data <= high
                self._accumulate(out_grad * inside)
            out._backward = _backward
        return out

    def relu(self) -> "Tensor":
        out = Tensor._result(np.maximum(self.data, 0), (self,), "relu")
        if out.requires_grad:
            out_data = out.data
            def _backward(out_grad):
                self._accumulate(out_grad * (out_data > 0))
            out._backward = _backward
        return out

    def tanh(self) -> "Tensor":
        out = Tensor._result(np.tanh(self.data), (self,), "tanh")
        if out.requires_grad:
            out_data = out.data
            def _backward(out_grad):
                self._accumulate(out_grad * (1 - out_data * out_data))
            out._backward = _backward
        return out

    def sigmoid(self) -> "Tensor":
        out = Tensor._result(sigmoid_array(self.data), (self,), "sigmoid")
        if out.requires_grad:
            out_data = out.data
            def _backward(out_grad):
                self._accumulate(out_grad * out_data * (1 - out_data))
            out._backward = _backward
        return out

    def gelu(self) -> "Tensor":
        """GELU, tanh approximation (PyTorch's `approximate='tanh'`)."""
        x = self.data
        y, t = _gelu_parts(x)
        out = Tensor._result(y, (self,), "gelu")
        if out.requires_grad:
            def _backward(out_grad):
                d_inner = _GELU_C * (1 + 3 * 0.044715 * x * x)
                local = 0.5 * (1 + t) + 0.5 * x * (1 - t * t) * d_inner
                self._accumulate(out_grad * local)
            out._backward = _backward
        return out

    def softmax(self, axis: int = -1, temperature: float = 1.0) -> "Tensor":
        if temperature <= 0:
            raise ValueError(f"softmax temperature must be > 0, got {temperature}")
        z = self.data / temperature if temperature != 1.0 else self.data
        _, e, totals = _softmax_parts(z, axis)
        p = e / totals
        out = Tensor._result(p, (self,), "softmax")
        if out.requires_grad:
            def _backward(out_grad):
                g = out_grad
                dz = p * (g - (g * p).sum(axis=axis, keepdims=True))
                self._accumulate(dz / temperature if temperature != 1.0 else dz)
            out._backward = _backward
        return out

    def log_softmax(self, axis: int = -1, temperature: float = 1.0) -> "Tensor":
        """log(softmax(x / T)) computed stably (max-subtracted), never as log of a softmax."""
        if temperature <= 0:
            raise ValueError(f"log_softmax temperature must be > 0, got {temperature}")
        z = self.data / temperature if temperature != 1.0 else self.data
        shifted, _, totals = _softmax_parts(z, axis)
        logp = shifted - np.log(totals)
        out = Tensor._result(logp, (self,), "log_softmax")
        if out.requires_grad:
            def _backward(out_grad):
                g = out_grad
                dz = g - np.exp(logp) * g.sum(axis=axis, keepdims=True)
                self._accumulate(dz / temperature if temperature != 1.0 else dz)
            out._backward = _backward
        return out

    # ----------------------------------------------------------------- shape
    def reshape(self, *shape) -> "Tensor":
        if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
            shape = tuple(shape[0])
        out = Tensor._result(self.data.reshape(shape), (self,), "reshape")
        if out.requires_grad:
            def _backward(out_grad):
                self._accumulate(out_grad.reshape(self.data.shape))
            out._backward = _backward
        return out

    def flatten(self, start_axis: int = 1) -> "Tensor":
        return self.reshape(self.shape[:start_axis] + (-1,))

    def permute(self, *axes) -> "Tensor":
        if len(axes) == 1 and isinstance(axes[0], (tuple, list)):
            axes = tuple(axes[0])
        axes = tuple(a % self.ndim for a in axes)  # argsort below needs non-negative axes
        out = Tensor._result(self.data.transpose(axes), (self,), "permute")
        if out.requires_grad:
            inverse = np.argsort(axes)
            def _backward(out_grad):
                self._accumulate(out_grad.transpose(inverse))
            out._backward = _backward
        return out

    def transpose(self, axis1: int = -2, axis2: int = -1) -> "Tensor":
        axes = list(range(self.ndim))
        axes[axis1], axes[axis2] = axes[axis2], axes[axis1]
        return self.permute(axes)

    @property
    def T(self) -> "Tensor":
        return self.permute(tuple(reversed(range(self.ndim))))

    def unsqueeze(self, axis: int) -> "Tensor":
        return self.reshape(np.expand_dims(self.data, axis).shape)

    def squeeze(self, axis=None) -> "Tensor":
        return self.reshape(np.squeeze(self.data, axis).shape)

    def __getitem__(self, index) -> "Tensor":
        if isinstance(index, Tensor):
            index = index.data
        elif isinstance(index, tuple):
            index = tuple(i.data if isinstance(i, Tensor) else i for i in index)
        out = Tensor._result(self.data[index], (self,), "getitem")
        if out.requires_grad:
            def _backward(out_grad):
                grad = np.zeros_like(self.data)
                np.add.at(grad, index, out_grad)  # add.at: repeated indices must sum
                self._accumulate(grad)
            out._backward = _backward
        return out

    def gather(self, index, axis: int = -1) -> "Tensor":
        """Pick one entry per row along `axis` (like torch.gather); `index` has the output's shape.

        `logp.gather(actions[:, None], axis=1)` picks the taken action's log-probability.
        """
        index = np.asarray(index.data if isinstance(index, Tensor) else index)
        if index.dtype.kind not in "iu":
            raise TypeError(f"gather index must hold integers, got dtype {index.dtype}")
        if index.ndim != self.ndim:
            raise ValueError(f"gather index has {index.ndim} dims but the tensor has {self.ndim}; "
                             f"add an axis, e.g. index[:, None]")
        out = Tensor._result(np.take_along_axis(self.data, index, axis=axis), (self,), "gather")
        if out.requires_grad:
            def _backward(out_grad):
                grad = np.zeros_like(self.data)
                _scatter_add(grad, index, out_grad, axis)
                self._accumulate(grad)
            out._backward = _backward
        return out

    def masked_fill(self, mask, value: float) -> "Tensor":
        """Entries where `mask` is True become `value` (no gradient flows there)."""
        mask = np.asarray(mask.data if isinstance(mask, Tensor) else mask, dtype=bool)
        out = Tensor._result(np.where(mask, np.asarray(value, self.data.dtype), self.data), (self,), "masked_fill")
        if out.requires_grad:
            def _backward(out_grad):
                self._accumulate(unbroadcast(np.where(mask, 0, out_grad), self.data.shape))
            out._backward = _backward
        return out


def _data_of(value):
    return value.data if isinstance(value, Tensor) else value


def _power_base_grad(base: np.ndarray, exponent) -> np.ndarray:
    """d(base ** exponent) / d base = exponent * base ** (exponent - 1), and 0 where the exponent is 0
    (as PyTorch: x ** 0 is the constant 1 even at x = 0, where the formula gives 0 * inf)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        local = exponent * base ** (exponent - 1)
    return np.where(exponent == 0, 0, local).astype(base.dtype, copy=False)


def _power(base: Tensor, exponent: Tensor) -> Tensor:
    """base ** exponent elementwise with broadcasting: NumPy's power, so 0 ** 0 = 1 and (-2) ** 3 = -8.

    d/d exponent = out * log(base), taken as 0 where base is 0 and the exponent >= 0 (PyTorch's
    convention: there the power is flat at 0 or 1 from the side where it is defined).
    """
    x, y = base.data, exponent.data
    out = Tensor._result(np.power(x, y), (base, exponent), "pow")
    if out.requires_grad:
        out_data = out.data
        def _backward(out_grad):
            if base.requires_grad:
                base._accumulate(unbroadcast(out_grad * _power_base_grad(x, y), x.shape))
            if exponent.requires_grad:
                with np.errstate(divide="ignore", invalid="ignore"):
                    local = np.where((x == 0) & (y >= 0), 0, out_data * np.log(x))
                exponent._accumulate(unbroadcast(out_grad * local.astype(y.dtype, copy=False), y.shape))
        out._backward = _backward
    return out


def sigmoid_array(x: np.ndarray) -> np.ndarray:
    e = np.exp(-np.abs(x))  # exp of a non-positive number never overflows
    return np.where(x >= 0, 1 / (1 + e), e / (1 + e)).astype(x.dtype, copy=False)


_GELU_C = math.sqrt(2 / math.pi)


def _gelu_parts(x: np.ndarray):
    """GELU (tanh approximation) and the tanh term its backward reuses."""
    t = np.tanh(_GELU_C * (x + 0.044715 * x ** 3))
    return 0.5 * x * (1 + t), t


def _softmax_parts(z: np.ndarray, axis: int = -1):
    """z - max(z), its exp and the exp's sum along `axis`: softmax = exp / sum, and
    log softmax = shifted - log(sum). Shifting by the max keeps exp from overflowing."""
    shifted = z - np.maximum.reduce(z, axis=axis, keepdims=True)
    exp_shifted = np.exp(shifted)
    return shifted, exp_shifted, np.add.reduce(exp_shifted, axis=axis, keepdims=True)


# The forward math of each activation on plain arrays, for graph-free inference paths.
ARRAY_ACTIVATIONS = {
    "relu": lambda x: np.maximum(x, 0),
    "tanh": np.tanh,
    "sigmoid": sigmoid_array,
    "gelu": lambda x: _gelu_parts(x)[0],
    "identity": lambda x: x,
}


class _Ones(dict):
    """A read-only 1 of each dtype: the seed gradient of every scalar loss, made once."""

    def __missing__(self, dtype):
        one = np.ones((), dtype)
        one.flags.writeable = False
        self[dtype] = one
        return one


_ONES = _Ones()


def _scatter_add(target: np.ndarray, index: np.ndarray, values: np.ndarray, axis: int) -> None:
    """target[..., index[...], ...] += values along `axis`, summing repeated indices."""
    axis = axis % target.ndim
    grids = list(np.indices(index.shape, sparse=True))
    grids[axis] = index
    np.add.at(target, tuple(grids), values)


# ---------------------------------------------------------------- functions
def tensor(data, requires_grad: bool = False, dtype=None) -> Tensor:
    return Tensor(data, requires_grad=requires_grad, dtype=dtype)


def zeros(*shape, dtype=DEFAULT_DTYPE, requires_grad: bool = False) -> Tensor:
    return Tensor(np.zeros(shape, dtype=dtype), requires_grad=requires_grad)


def ones(*shape, dtype=DEFAULT_DTYPE, requires_grad: bool = False) -> Tensor:
    return Tensor(np.ones(shape, dtype=dtype), requires_grad=requires_grad)


def concat(tensors, axis: int = 0) -> Tensor:
    tensors = [t if isinstance(t, Tensor) else Tensor(t) for t in tensors]
    out = Tensor._result(np.concatenate([t.data for t in tensors], axis=axis), tuple(tensors), "concat")
    if out.requires_grad:
        bounds = np.cumsum([t.data.shape[axis] for t in tensors])[:-1]
        def _backward(out_grad):
            for t, g in zip(tensors, np.split(out_grad, bounds, axis=axis)):
                if t.requires_grad:
                    t._accumulate(g)
        out._backward = _backward
    return out


def stack(tensors, axis: int = 0) -> Tensor:
    tensors = [t if isinstance(t, Tensor) else Tensor(t) for t in tensors]
    return concat([t.unsqueeze(axis) for t in tensors], axis=axis)


def where(condition, a, b) -> Tensor:
    """Elementwise `a if condition else b`, with broadcasting; gradients go to the chosen side."""
    condition = np.asarray(condition.data if isinstance(condition, Tensor) else condition, dtype=bool)
    if not isinstance(a, Tensor):  # a Python number takes the other side's dtype, as b does below
        a = Tensor(_as_array(a, b.data.dtype) if isinstance(b, Tensor) else a)
    b = b if isinstance(b, Tensor) else Tensor(_as_array(b, a.data.dtype))
    out = Tensor._result(np.where(condition, a.data, b.data), (a, b), "where")
    if out.requires_grad:
        def _backward(out_grad):
            if a.requires_grad:
                a._accumulate(unbroadcast(np.where(condition, out_grad, 0), a.data.shape))
            if b.requires_grad:
                b._accumulate(unbroadcast(np.where(condition, 0, out_grad), b.data.shape))
        out._backward = _backward
    return out
