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

        >>> w = Tensor([1.0, 2.0], requires_grad=True)
        >>> with no_grad():
        ...     y = (w * 3).sum()
        >>> y.requires_grad, is_grad_enabled()
        (False, True)
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
    """False inside `no_grad()`.

        >>> is_grad_enabled()
        True
    """
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
    """An ndarray with a gradient: float32 unless built from a float64 ndarray or `dtype=` asks otherwise.

    Arithmetic, matmul, reductions, activations and shape ops each record a graph node
    when an input has `requires_grad=True`; `backward()` fills every such leaf's `.grad`.

        >>> import numpy as np
        >>> from rl_scratch.nets import Tensor
        >>> w = Tensor(np.array([[1.0, -2.0], [0.5, -3.0]]), requires_grad=True)  # float64, from the array
        >>> x = Tensor([[1.0, 1.0]])                                               # float32: Python lists
        >>> loss = ((x @ w).relu() ** 2).mean()
        >>> loss.backward()
        >>> loss.item(), w.grad.tolist()
        (1.125, [[1.5, 0.0], [1.5, 0.0]])
    """

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
        """The array's shape.

            >>> Tensor(np.zeros((2, 3))).shape
            (2, 3)
        """
        return self.data.shape

    @property
    def ndim(self) -> int:
        """Number of axes.

            >>> Tensor([[1.0, 2.0]]).ndim
            2
        """
        return self.data.ndim

    @property
    def dtype(self):
        """The array's dtype: float32 by default, float64 from a float64 ndarray.

            >>> Tensor([1.0]).dtype, Tensor(np.array([1.0])).dtype
            (dtype('float32'), dtype('float64'))
        """
        return self.data.dtype

    @property
    def size(self) -> int:
        """Number of elements.

            >>> Tensor(np.zeros((2, 3))).size
            6
        """
        return self.data.size

    def __len__(self) -> int:
        return len(self.data)

    def numpy(self) -> np.ndarray:
        """The underlying array (not a copy).

            >>> Tensor([1.0, 2.0]).numpy()
            array([1., 2.], dtype=float32)
        """
        return self.data

    def item(self) -> float:
        """The value of a one-element tensor as a Python number.

            >>> Tensor([[2.5]]).item()
            2.5
        """
        return self.data.item()

    def detach(self) -> "Tensor":
        """The same values, cut from the graph (no gradient flows back through it).

            >>> x = Tensor([1.0], requires_grad=True)
            >>> (x * 2).detach().requires_grad
            False
        """
        return Tensor(self.data)

    def astype(self, dtype) -> "Tensor":
        """A copy in another dtype; the gradient comes back in the original dtype.

            >>> Tensor([1.5]).astype(np.float64).dtype
            dtype('float64')
        """
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
        """Forget the accumulated gradient (optimizers do this for their parameters).

            >>> x = Tensor([1.0], requires_grad=True)
            >>> (x * 3).sum().backward(); x.zero_grad(); x.grad is None
            True
        """
        self.grad = None

    # --------------------------------------------------------------- backward
    def backward(self, grad=None) -> None:
        """Accumulate d(self)/d(leaf) into every leaf's `.grad` that requires it.

        A scalar needs no argument; any other shape takes the upstream gradient `grad`.

            >>> x = Tensor([1.0, 2.0], requires_grad=True)
            >>> (x * x).backward(np.array([1.0, 0.5]))
            >>> x.grad.tolist()
            [2.0, 2.0]
        """
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
        """Sum over `axis` (all axes by default), NumPy's `axis=`/`keepdims=` names.

            >>> Tensor([[1.0, 2.0], [3.0, 4.0]]).sum(axis=1, keepdims=True)
            Tensor([[3.]
             [7.]], dtype=float32)
        """
        return self._unary(ops.reductions.sum(self.data, axis, keepdims), ops.reductions.sum_backward, "sum")

    def mean(self, axis=None, keepdims: bool = False) -> "Tensor":
        """Mean over `axis`; over no elements it is NaN, as in NumPy and PyTorch.

            >>> Tensor([[1.0, 2.0], [3.0, 5.0]]).mean(axis=0)
            Tensor([2.  3.5], dtype=float32)
        """
        return self._unary(ops.reductions.mean(self.data, axis, keepdims), ops.reductions.mean_backward, "mean")

    def var(self, axis=None, keepdims: bool = False) -> "Tensor":
        """Population variance (divides by n, NumPy's default; PyTorch's default divides by n - 1).

            >>> Tensor([1.0, 2.0, 3.0, 4.0]).var().item()
            1.25
        """
        centered = self - self.mean(axis=axis, keepdims=True)
        return (centered * centered).mean(axis=axis, keepdims=keepdims)

    def max(self, axis=None, keepdims: bool = False) -> "Tensor":
        """Maximum (the values; `argmax` gives indices); the gradient is split evenly between tied maxima.

            >>> x = Tensor([1.0, 3.0, 3.0], requires_grad=True)
            >>> x.max().backward()
            >>> x.grad.tolist()
            [0.0, 0.5, 0.5]
        """
        return self._unary(ops.reductions.max(self.data, axis, keepdims), ops.reductions.max_backward, "max")

    def min(self, axis=None, keepdims: bool = False) -> "Tensor":
        """Minimum (the values); the gradient is split evenly between tied minima.

            >>> Tensor([[4.0, 1.0], [2.0, 3.0]]).min(axis=0)
            Tensor([2. 1.], dtype=float32)
        """
        return -((-self).max(axis=axis, keepdims=keepdims))

    def argmax(self, axis=None) -> np.ndarray:
        """Indices of the maxima, as a plain integer array (no gradient).

            >>> Tensor([[0.1, 0.9], [0.7, 0.3]]).argmax(axis=1)
            array([1, 0])
        """
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
        """Elementwise e**x.

            >>> Tensor([0.0, 1.0]).exp()
            Tensor([1.     2.7183], dtype=float32)
        """
        return self._unary(ops.elementwise.exp(self.data), ops.elementwise.exp_backward, "exp")

    def log(self) -> "Tensor":
        """Elementwise natural logarithm.

            >>> Tensor([1.0, np.e]).log()
            Tensor([0. 1.], dtype=float32)
        """
        return self._unary(ops.elementwise.log(self.data), ops.elementwise.log_backward, "log")

    def sqrt(self) -> "Tensor":
        """Elementwise square root.

            >>> Tensor([4.0, 9.0]).sqrt()
            Tensor([2. 3.], dtype=float32)
        """
        return self._unary(ops.elementwise.sqrt(self.data), ops.elementwise.sqrt_backward, "sqrt")

    def abs(self) -> "Tensor":
        """Elementwise absolute value (gradient 0 at 0).

            >>> Tensor([-2.0, 3.0]).abs()
            Tensor([2. 3.], dtype=float32)
        """
        return self._unary(ops.elementwise.abs(self.data), ops.elementwise.abs_backward, "abs")

    def clip(self, low=None, high=None) -> "Tensor":
        """Clamp values; the gradient passes only where the value was inside [low, high].

            >>> Tensor([-2.0, 0.5, 2.0]).clip(-1, 1)
            Tensor([-1.   0.5  1. ], dtype=float32)
        """
        return self._unary(ops.elementwise.clip(self.data, low, high), ops.elementwise.clip_backward, "clip")

    def relu(self) -> "Tensor":
        """max(x, 0) elementwise.

            >>> Tensor([-1.0, 2.0]).relu()
            Tensor([0. 2.], dtype=float32)
        """
        return self._unary(ops.activations.relu(self.data), ops.activations.relu_backward, "relu")

    def tanh(self) -> "Tensor":
        """Elementwise hyperbolic tangent.

            >>> Tensor([0.0, 100.0]).tanh()
            Tensor([0. 1.], dtype=float32)
        """
        return self._unary(ops.activations.tanh(self.data), ops.activations.tanh_backward, "tanh")

    def sigmoid(self) -> "Tensor":
        """Elementwise 1 / (1 + e**-x).

            >>> Tensor([0.0]).sigmoid()
            Tensor([0.5], dtype=float32)
        """
        return self._unary(ops.activations.sigmoid(self.data), ops.activations.sigmoid_backward, "sigmoid")

    def gelu(self) -> "Tensor":
        """GELU, tanh approximation (PyTorch's `approximate='tanh'`); see ops.activations.gelu.

            >>> Tensor([-1.0, 0.0, 1.0]).gelu()
            Tensor([-0.1588  0.      0.8412], dtype=float32)
        """
        return self._unary(ops.activations.gelu(self.data), ops.activations.gelu_backward, "gelu")

    def softmax(self, axis: int = -1, temperature: float = 1.0) -> "Tensor":
        """Probabilities along `axis` (max-subtracted); `temperature` > 1 flattens them.

            >>> Tensor([0.0, np.log(3.0)]).softmax()
            Tensor([0.25 0.75], dtype=float32)
        """
        if temperature <= 0:
            raise ValueError(f"softmax temperature must be > 0, got {temperature}")
        z = self if temperature == 1.0 else self * (1.0 / temperature)
        return z._unary(ops.softmax.softmax(z.data, axis), ops.softmax.softmax_backward, "softmax")

    def log_softmax(self, axis: int = -1, temperature: float = 1.0) -> "Tensor":
        """log(softmax(x / T)) computed stably (max-subtracted), never as log of a softmax.

            >>> Tensor([1000.0, 1000.0]).log_softmax()  # no overflow
            Tensor([-0.6931 -0.6931], dtype=float32)
        """
        if temperature <= 0:
            raise ValueError(f"log_softmax temperature must be > 0, got {temperature}")
        z = self if temperature == 1.0 else self * (1.0 / temperature)
        return z._unary(ops.softmax.log_softmax(z.data, axis), ops.softmax.log_softmax_backward, "log_softmax")

    # ----------------------------------------------------------------- shape
    def reshape(self, *shape) -> "Tensor":
        """The same values in a new shape (`-1` infers one axis), as separate ints or one tuple.

            >>> Tensor(np.arange(6.0)).reshape(2, -1).shape
            (2, 3)
        """
        if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
            shape = tuple(shape[0])
        out = Tensor._result(self.data.reshape(shape), (self,), "reshape")
        if out.requires_grad:
            def _backward(out_grad):
                self._accumulate(out_grad.reshape(self.data.shape))
            out._backward = _backward
        return out

    def flatten(self, start_axis: int = 1) -> "Tensor":
        """Merge the axes from `start_axis` on (by default: keep the batch axis).

            >>> Tensor(np.zeros((4, 2, 3))).flatten().shape
            (4, 6)
        """
        return self.reshape(self.shape[:start_axis] + (-1,))

    def permute(self, *axes) -> "Tensor":
        """Reorder the axes.

            >>> Tensor(np.zeros((2, 3, 4))).permute(2, 0, 1).shape
            (4, 2, 3)
        """
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
        """Swap two axes (the last two by default).

            >>> Tensor(np.zeros((5, 2, 3))).transpose().shape
            (5, 3, 2)
        """
        axes = list(range(self.ndim))
        axes[axis1], axes[axis2] = axes[axis2], axes[axis1]
        return self.permute(axes)

    @property
    def T(self) -> "Tensor":
        """All axes reversed (for a matrix, its transpose).

            >>> Tensor([[1.0, 2.0]]).T
            Tensor([[1.]
             [2.]], dtype=float32)
        """
        return self.permute(tuple(reversed(range(self.ndim))))

    def unsqueeze(self, axis: int) -> "Tensor":
        """Insert an axis of size 1 at `axis`.

            >>> Tensor([1.0, 2.0]).unsqueeze(0).shape
            (1, 2)
        """
        return self.reshape(np.expand_dims(self.data, axis).shape)

    def squeeze(self, axis=None) -> "Tensor":
        """Drop axes of size 1 (all of them, or `axis`).

            >>> Tensor(np.zeros((1, 3, 1))).squeeze().shape
            (3,)
        """
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

            >>> logp = Tensor([[0.1, 0.2, 0.7], [0.5, 0.3, 0.2]]).log()
            >>> logp.gather(np.array([[2], [0]]), axis=1).exp()
            Tensor([[0.7]
             [0.5]], dtype=float32)
        """
        index = np.asarray(index.data if isinstance(index, Tensor) else index)
        if index.dtype.kind not in "iu":
            raise TypeError(f"gather index must hold integers, got dtype {index.dtype}")
        if index.ndim != self.ndim:
            raise ValueError(f"gather index has {index.ndim} dims but the tensor has {self.ndim}; "
                             f"add an axis, e.g. index[:, None]")
        return self._unary(ops.indexing.gather(self.data, index, axis), ops.indexing.gather_backward, "gather")

    def masked_fill(self, mask, value: float) -> "Tensor":
        """Entries where `mask` is True become `value` (no gradient flows there).

            >>> scores = Tensor([[1.0, 2.0], [3.0, 4.0]])
            >>> scores.masked_fill(np.triu(np.ones((2, 2), bool), k=1), -np.inf)  # a causal mask
            Tensor([[  1. -inf]
             [  3.   4.]], dtype=float32)
        """
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
    """`Tensor(data, requires_grad, dtype)` as a function (PyTorch's spelling).

        >>> from rl_scratch.nets import tensor
        >>> tensor([1, 2], dtype=np.float64)
        Tensor([1. 2.], dtype=float64)
    """
    return Tensor(data, requires_grad=requires_grad, dtype=dtype)


def zeros(*shape, dtype=DEFAULT_DTYPE, requires_grad: bool = False) -> Tensor:
    """A tensor of zeros of `shape` (float32 unless `dtype` says otherwise).

        >>> from rl_scratch.nets import zeros
        >>> zeros(2, 3).shape
        (2, 3)
    """
    return Tensor(np.zeros(shape, dtype=dtype), requires_grad=requires_grad)


def ones(*shape, dtype=DEFAULT_DTYPE, requires_grad: bool = False) -> Tensor:
    """A tensor of ones of `shape` (float32 unless `dtype` says otherwise).

        >>> from rl_scratch.nets import ones
        >>> ones(2, requires_grad=True)
        Tensor([1. 1.], dtype=float32, requires_grad=True)
    """
    return Tensor(np.ones(shape, dtype=dtype), requires_grad=requires_grad)


def concat(tensors, axis: int = 0) -> Tensor:
    """Join tensors along an existing axis; each gets its slice of the gradient.

        >>> from rl_scratch.nets import concat
        >>> concat([Tensor([[1.0]]), Tensor([[2.0, 3.0]])], axis=1)
        Tensor([[1. 2. 3.]], dtype=float32)
    """
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
    """Join same-shaped tensors along a new axis.

        >>> from rl_scratch.nets import stack
        >>> stack([Tensor([1.0, 2.0]), Tensor([3.0, 4.0])]).shape
        (2, 2)
    """
    tensors = [t if isinstance(t, Tensor) else Tensor(t) for t in tensors]
    return concat([t.unsqueeze(axis) for t in tensors], axis=axis)


def where(condition, a, b) -> Tensor:
    """Elementwise `a if condition else b`, with broadcasting; gradients go to the chosen side.

        >>> x = Tensor([-1.0, 2.0], requires_grad=True)
        >>> where(x > 0, x, 0.0).sum().backward()
        >>> x.grad.tolist()
        [0.0, 1.0]
    """
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
