"""The computation graph behind a result, as plain records anyone can read or draw.

`trace(result)` walks a `Value` or `Tensor` back to its leaves and lists every node
it passes once, inputs before the nodes computed from them. Code outside nets reads
graphs only through these records (rl_scratch.pictures.computation_graph draws them),
never through the engines' private fields.

    >>> from rl_scratch.nets.value import Value
    >>> a, b = Value(2.0), Value(-3.0)
    >>> out = (a * b + 1.0).tanh()
    >>> [node.op for node in trace(out)]
    ['', '', '*', '', '+', 'tanh']
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .tensor import Tensor
from .value import Value


@dataclass(frozen=True)
class Node:
    """One node: the op that made it ("" for a leaf: an input, a parameter or a constant).

        >>> from rl_scratch.nets import Tensor, trace
        >>> x = Tensor([1.0, 2.0], requires_grad=True)
        >>> y = (x * x).sum(); y.backward()
        >>> last = trace(y)[-1]
        >>> last.op, float(last.data), [trace(y)[i].op for i in last.inputs]
        ('sum', 5.0, ['mul'])
    """

    source: object
    """the Value or Tensor itself (to look up a name given to it)"""
    op: str
    data: np.ndarray
    """its value (a 0-d array for a Value)"""
    grad: np.ndarray | None
    """its gradient after backward() (None for a Tensor that received none)"""
    inputs: tuple[int, ...]
    """positions, in trace()'s list, of the nodes it was computed from"""


def _parts(node) -> tuple[str, np.ndarray, np.ndarray | None, tuple]:
    if isinstance(node, Value):
        return node._op, np.asarray(node.data), np.asarray(node.grad), node._children
    if isinstance(node, Tensor):
        grad = None if node.grad is None else np.asarray(node.grad)
        return node._op, node.data, grad, node._parents
    raise TypeError(f"trace() takes a Value or a Tensor, got {type(node).__name__}")


def trace(result) -> list[Node]:
    """Every node `result` depends on, each once, each after its inputs; `result` is last.

    Iterative (an explicit stack), so deep graphs do not reach Python's recursion limit.
    A Tensor records its inputs only when a gradient can flow to them (`requires_grad`).

        >>> from rl_scratch.nets import trace
        >>> from rl_scratch.nets.value import Value
        >>> a, b = Value(2.0), Value(3.0)
        >>> out = a * b + a
        >>> out.backward()
        >>> [(node.op, float(node.data), float(node.grad)) for node in trace(out)]
        [('', 2.0, 4.0), ('', 3.0, 2.0), ('*', 6.0, 1.0), ('+', 8.0, 1.0)]
    """
    order: list = []
    position: dict[int, int] = {}
    stack = [(result, False)]
    while stack:
        node, expanded = stack.pop()
        if id(node) in position:
            continue
        inputs = _parts(node)[3]
        if expanded:
            position[id(node)] = len(order)
            order.append(node)
            continue
        stack.append((node, True))
        stack.extend((child, False) for child in reversed(inputs) if id(child) not in position)
    nodes = []
    for node in order:
        op, data, grad, inputs = _parts(node)
        nodes.append(Node(node, op, data, grad, tuple(position[id(child)] for child in inputs)))
    return nodes
