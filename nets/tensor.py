"""Reverse-mode automatic differentiation on NumPy arrays: the graph.

A `Tensor` wraps an ndarray. Every op builds its output node, and right below it a
`_backward(out_grad)` closure that *adds* the op's contribution into its inputs'
`.grad` (a tensor used twice receives both). The arithmetic operators write their
one-line math inline; every other op calls its forward/backward pair of array
functions in nets/ops/, where its math lives once (fused kernels and graph-free
inference call the same pairs). `Tensor.backward()` runs the closures in reverse
creation order, a topological order, handing each its output's gradient. The
closures never capture their output tensor (only its data): that would make every
graph a reference cycle, left for the cyclic garbage collector instead of being
freed as soon as the step drops it.

Broadcasting has one owner: `unbroadcast(grad, shape)` (nets/ops/broadcast.py) sums
a gradient back to the shape of the input it belongs to; every two-input op uses it.
"""

from __future__ import annotations

import heapq
import itertools

import numpy as np

from . import ops
from .ops import unbroadcast

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
                self._accumulate(out_grad * ops.elementwise.power_base_grad(self.data, exponent))
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
        y, saved = ops.linear.matmul(a, b)
        out = Tensor._result(y, (self, other), "matmul")
        if out.requires_grad:
            def _backward(out_grad):
                da, db = ops.linear.matmul_backward(saved, out_grad)
                if self.requires_grad:
                    self._accumulate(da)
                if other.requires_grad:
                    other._accumulate(db)
            out._backward = _backward
        return out

    def __rmatmul__(self, other) -> "Tensor":
        return Tensor(other) @ self

    # ------------------------------------------------------------ reductions
    def sum(self, axis=None, keepdims: bool = False) -> "Tensor":
        return self._unary(ops.reductions.sum(self.data, axis, keepdims), ops.reductions.sum_backward, "sum")

    def mean(self, axis=None, keepdims: bool = False) -> "Tensor":
        """Mean over `axis`; over no elements it is NaN, as in NumPy and PyTorch."""
        return self._unary(ops.reductions.mean(self.data, axis, keepdims), ops.reductions.mean_backward, "mean")

    def var(self, axis=None, keepdims: bool = False) -> "Tensor":
        """Population variance (divides by n, NumPy's default; PyTorch's default divides by n - 1)."""
        centered = self - self.mean(axis=axis, keepdims=True)
        return (centered * centered).mean(axis=axis, keepdims=keepdims)

    def max(self, axis=None, keepdims: bool = False) -> "Tensor":
        """Maximum; the gradient is split evenly between tied maxima."""
        return self._unary(ops.reductions.max(self.data, axis, keepdims), ops.reductions.max_backward, "max")

    def min(self, axis=None, keepdims: bool = False) -> "Tensor":
        return -((-self).max(axis=axis, keepdims=keepdims))

    def argmax(self, axis=None) -> np.ndarray:
        return self.data.argmax(axis=axis)

    # ------------------------------------------------------------ elementwise
    def _unary(self, forward_result, backward, op: str) -> "Tensor":
        """The node of a one-input op: `forward_result` is its ops forward's (output, saved)."""
        y, saved = forward_result
        out = Tensor._result(y, (self,), op)
        if out.requires_grad:
            def _backward(out_grad):
                self._accumulate(backward(saved, out_grad))
            out._backward = _backward
        return out

    def exp(self) -> "Tensor":
        return self._unary(ops.elementwise.exp(self.data), ops.elementwise.exp_backward, "exp")

    def log(self) -> "Tensor":
        return self._unary(ops.elementwise.log(self.data), ops.elementwise.log_backward, "log")

    def sqrt(self) -> "Tensor":
        return self._unary(ops.elementwise.sqrt(self.data), ops.elementwise.sqrt_backward, "sqrt")

    def abs(self) -> "Tensor":
        return self._unary(ops.elementwise.abs(self.data), ops.elementwise.abs_backward, "abs")

    def clip(self, low=None, high=None) -> "Tensor":
        """Clamp values; the gradient passes only where the value was inside [low, high]."""
        return self._unary(ops.elementwise.clip(self.data, low, high), ops.elementwise.clip_backward, "clip")

    def relu(self) -> "Tensor":
        return self._unary(ops.activations.relu(self.data), ops.activations.relu_backward, "relu")

    def tanh(self) -> "Tensor":
        return self._unary(ops.activations.tanh(self.data), ops.activations.tanh_backward, "tanh")

    def sigmoid(self) -> "Tensor":
        return self._unary(ops.activations.sigmoid(self.data), ops.activations.sigmoid_backward, "sigmoid")

    def gelu(self) -> "Tensor":
        """GELU, tanh approximation (PyTorch's `approximate='tanh'`); see ops.activations.gelu."""
        return self._unary(ops.activations.gelu(self.data), ops.activations.gelu_backward, "gelu")

    def softmax(self, axis: int = -1, temperature: float = 1.0) -> "Tensor":
        if temperature <= 0:
            raise ValueError(f"softmax temperature must be > 0, got {temperature}")
        z = self if temperature == 1.0 else self * (1.0 / temperature)
        return z._unary(ops.softmax.softmax(z.data, axis), ops.softmax.softmax_backward, "softmax")

    def log_softmax(self, axis: int = -1, temperature: float = 1.0) -> "Tensor":
        """log(softmax(x / T)) computed stably (max-subtracted), never as log of a softmax."""
        if temperature <= 0:
            raise ValueError(f"log_softmax temperature must be > 0, got {temperature}")
        z = self if temperature == 1.0 else self * (1.0 / temperature)
        return z._unary(ops.softmax.log_softmax(z.data, axis), ops.softmax.log_softmax_backward, "log_softmax")

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
        return self._unary(ops.indexing.index(self.data, index), ops.indexing.index_backward, "getitem")

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
        return self._unary(ops.indexing.gather(self.data, index, axis), ops.indexing.gather_backward, "gather")

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


def _power(base: Tensor, exponent: Tensor) -> Tensor:
    """base ** exponent elementwise with broadcasting (see ops.elementwise.power)."""
    y, saved = ops.elementwise.power(base.data, exponent.data)
    out = Tensor._result(y, (base, exponent), "pow")
    if out.requires_grad:
        def _backward(out_grad):
            d_base, d_exponent = ops.elementwise.power_backward(saved, out_grad)
            if base.requires_grad:
                base._accumulate(d_base)
            if exponent.requires_grad:
                exponent._accumulate(d_exponent)
        out._backward = _backward
    return out


class _Ones(dict):
    """A read-only 1 of each dtype: the seed gradient of every scalar loss, made once."""

    def __missing__(self, dtype):
        one = np.ones((), dtype)
        one.flags.writeable = False
        self[dtype] = one
        return one


_ONES = _Ones()


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
