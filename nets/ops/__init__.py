"""The math of every op, once: pairs of plain-array functions, one file per family.

Each op `f` is written as a forward and a backward, the shape of a Layer.forward /
Layer.backward pair in a NumPy network written from first principles:

    y, saved = f(x, ...)              # the output, and what the backward needs
    dx = f_backward(saved, dy)        # the gradient of the input(s), given the output's

Nothing here knows about Tensor or graphs. `Tensor` methods (nets/tensor.py) wrap
a pair in a graph node; the fused kernels (nets/kernels.py) chain several pairs in
one node; graph-free inference (`Module.predict`) calls the forwards alone. So
every path runs the formula written here, and none restates it.

    elementwise  exp, log, sqrt, abs, clip, power
    activations  relu, tanh, sigmoid, gelu
    linear       matmul, linear (x @ W + b)
    reductions   sum, mean, max
    softmax      softmax, log_softmax
    losses       cross_entropy, mse, huber, binary_cross_entropy_with_logits
    norms        layer_norm, rms_norm
    attention    scaled dot-product attention with a mask
    indexing     index, gather, embedding (their backward scatter-adds)

    >>> import numpy as np
    >>> from rl_scratch.nets import ops
    >>> y, saved = ops.activations.tanh(np.array([0.0, 1.0]))
    >>> ops.activations.tanh_backward(saved, np.ones(2)).round(2)  # 1 - tanh(x)^2
    array([1.  , 0.42])
"""

from . import activations, attention, elementwise, indexing, linear, losses, norms, reductions, softmax
from .broadcast import unbroadcast

__all__ = ["activations", "attention", "elementwise", "indexing", "linear", "losses", "norms", "reductions",
           "softmax", "unbroadcast"]
