"""The scalar autograd engine: the readable reference the Tensor engine is checked against.

Each `Value` holds one number, its gradient, the Values it was computed from,
and a closure that pushes its gradient to them. Slow, and meant to be read.
"""

from __future__ import annotations

import math
import random

__all__ = ["Value", "Neuron", "Layer", "MLP"]


class Value:
    """One number that remembers how it was computed, micrograd-style.

        >>> from rl_scratch.nets.value import Value
        >>> a, b = Value(2.0), Value(-3.0)
        >>> y = (a * b + a ** 2).tanh()
        >>> y.backward()
        >>> round(y.data, 4), round(a.grad, 4), round(b.grad, 4)  # dy/da = (b + 2a)(1 - y^2)
        (-0.964, 0.0707, 0.1413)
    """
    __slots__ = ("data", "grad", "_children", "_backward", "_op")

    def __init__(self, data: float, children: tuple = (), op: str = ""):
        self.data = float(data)
        self.grad = 0.0
        self._children = children
        self._backward = lambda: None
        self._op = op

    def __add__(self, other) -> "Value":
        other = other if isinstance(other, Value) else Value(other)
        out = Value(self.data + other.data, (self, other), "+")

        def _backward():
            self.grad += out.grad
            other.grad += out.grad
        out._backward = _backward
        return out

    def __mul__(self, other) -> "Value":
        other = other if isinstance(other, Value) else Value(other)
        out = Value(self.data * other.data, (self, other), "*")

        def _backward():
            self.grad += other.data * out.grad
            other.grad += self.data * out.grad
        out._backward = _backward
        return out

    def __pow__(self, exponent: float) -> "Value":
        out = Value(self.data ** exponent, (self,), f"**{exponent}")

        def _backward():
            self.grad += exponent * self.data ** (exponent - 1) * out.grad
        out._backward = _backward
        return out

    def exp(self) -> "Value":
        """e**x, with its gradient.

            >>> Value(0.0).exp()
            Value(data=1, grad=0)
        """
        out = Value(math.exp(self.data), (self,), "exp")

        def _backward():
            self.grad += out.data * out.grad
        out._backward = _backward
        return out

    def log(self) -> "Value":
        """Natural logarithm, with its gradient.

            >>> y = Value(2.0).log(); y.backward(); y
            Value(data=0.693147, grad=1)
        """
        out = Value(math.log(self.data), (self,), "log")

        def _backward():
            self.grad += out.grad / self.data
        out._backward = _backward
        return out

    def relu(self) -> "Value":
        """max(x, 0), with its gradient.

            >>> Value(-1.5).relu()
            Value(data=0, grad=0)
        """
        out = Value(max(self.data, 0.0), (self,), "relu")

        def _backward():
            self.grad += (out.data > 0) * out.grad
        out._backward = _backward
        return out

    def tanh(self) -> "Value":
        """Hyperbolic tangent, with its gradient.

            >>> Value(0.0).tanh()
            Value(data=0, grad=0)
        """
        out = Value(math.tanh(self.data), (self,), "tanh")

        def _backward():
            self.grad += (1 - out.data ** 2) * out.grad
        out._backward = _backward
        return out

    def backward(self) -> None:
        """Set d(self)/d(v) in every Value's `.grad` this one depends on (iterative topological sort).

            >>> x = Value(3.0)
            >>> y = x * x + x  # x is used twice: both contributions add up
            >>> y.backward(); x.grad
            7.0
        """
        order, visited = [], set()
        stack = [(self, False)]
        while stack:
            node, expanded = stack.pop()
            if expanded:
                order.append(node)
            elif id(node) not in visited:
                visited.add(id(node))
                stack.append((node, True))
                stack.extend((child, False) for child in node._children if id(child) not in visited)
        self.grad = 1.0
        for node in reversed(order):
            node._backward()

    def __neg__(self):
        return self * -1

    def __radd__(self, other):
        return self + other

    def __sub__(self, other):
        return self + (-other)

    def __rsub__(self, other):
        return other + (-self)

    def __rmul__(self, other):
        return self * other

    def __truediv__(self, other):
        return self * other ** -1

    def __rtruediv__(self, other):
        return other * self ** -1

    def __repr__(self) -> str:
        return f"Value(data={self.data:.6g}, grad={self.grad:.6g})"


class Neuron:
    """activation(w . x + b) over Values, weights uniform in [-1, 1] from `rng`.

        >>> import random
        >>> from rl_scratch.nets.value import Neuron
        >>> neuron = Neuron(3, activation="linear", rng=random.Random(0))
        >>> len(neuron.parameters()), type(neuron([1.0, 2.0, 3.0])).__name__
        (4, 'Value')
    """
    def __init__(self, n_inputs: int, activation: str = "relu", rng: random.Random | None = None):
        rng = rng or random.Random(0)
        self.w = [Value(rng.uniform(-1, 1)) for _ in range(n_inputs)]
        self.b = Value(0.0)
        self.activation = activation

    def __call__(self, x) -> Value:
        total = sum((wi * xi for wi, xi in zip(self.w, x)), self.b)
        if self.activation == "relu":
            return total.relu()
        if self.activation == "tanh":
            return total.tanh()
        return total

    def parameters(self) -> list:
        """The weights, then the bias.

            >>> import random
            >>> [p.data for p in Neuron(2, rng=random.Random(0)).parameters()][-1]  # the bias starts at 0
            0.0
        """
        return self.w + [self.b]


class Layer:
    """`n_outputs` neurons reading the same inputs.

        >>> import random
        >>> from rl_scratch.nets.value import Layer
        >>> len(Layer(2, 3, rng=random.Random(0))([1.0, -1.0]))
        3
    """
    def __init__(self, n_inputs: int, n_outputs: int, activation: str = "relu", rng: random.Random | None = None):
        self.neurons = [Neuron(n_inputs, activation, rng) for _ in range(n_outputs)]

    def __call__(self, x) -> list:
        return [n(x) for n in self.neurons]

    def parameters(self) -> list:
        """Every neuron's parameters, in order.

            >>> import random
            >>> len(Layer(2, 3, rng=random.Random(0)).parameters())  # 3 neurons x (2 weights + 1 bias)
            9
        """
        return [p for n in self.neurons for p in n.parameters()]


class MLP:
    """`MLP([2, 16, 16, 1])`: hidden layers use `activation`, the last layer is linear.

        >>> import random
        >>> from rl_scratch.nets.value import MLP
        >>> net = MLP([2, 4, 1], rng=random.Random(0))
        >>> for _ in range(20):  # fit f(1, 2) = 1 by gradient descent
        ...     loss = (net([1.0, 2.0])[0] - 1.0) ** 2
        ...     net.zero_grad(); loss.backward()
        ...     for p in net.parameters():
        ...         p.data -= 0.05 * p.grad
        >>> round(net([1.0, 2.0])[0].data, 2)
        1.0
    """

    def __init__(self, sizes, activation: str = "relu", rng: random.Random | None = None):
        rng = rng or random.Random(0)
        self.layers = [
            Layer(n_in, n_out, activation if i < len(sizes) - 2 else "linear", rng)
            for i, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:]))
        ]

    def __call__(self, x) -> list:
        for layer in self.layers:
            x = layer(x)
        return x

    def parameters(self) -> list:
        """Every layer's parameters, in order.

            >>> import random
            >>> len(MLP([2, 3, 1], rng=random.Random(0)).parameters())  # 3 x 3 + 1 x 4
            13
        """
        return [p for layer in self.layers for p in layer.parameters()]

    def zero_grad(self) -> None:
        """Reset every parameter's gradient to 0 before the next backward.

            >>> import random
            >>> net = MLP([1, 1], rng=random.Random(0))
            >>> net([2.0])[0].backward(); net.zero_grad()
            >>> [p.grad for p in net.parameters()]
            [0.0, 0.0]
        """
        for p in self.parameters():
            p.grad = 0.0
