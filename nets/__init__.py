"""From-scratch neural networks on NumPy: autograd `Tensor`, modules, optimizers.

`value` is the scalar micrograd-style engine the Tensor engine is checked against.

    >>> import numpy as np
    >>> from rl_scratch.nets import F, MLP, Adam, Tensor
    >>> rng = np.random.default_rng(0)
    >>> x, y = rng.normal(size=(32, 4)).astype(np.float32), rng.integers(0, 2, size=32)
    >>> net = MLP([4, 64, 2], rng=rng)
    >>> opt = Adam(net.parameters(), lr=1e-3)
    >>> loss = F.cross_entropy(net(Tensor(x)), y)
    >>> opt.zero_grad(); loss.backward(); opt.step()
    >>> net.predict(x).shape
    (32, 2)
"""

from . import functional
from . import functional as F
from . import init, kernels, ops, value
from .distributions import Categorical
from .gradcheck import gradcheck
from .graph import Node, trace
from .init import manual_seed
from .kernels import reading_path
from .module import (
    GELU, MLP, Dropout, Identity, Linear, Module, Parameter, ReLU, Sequential, Sigmoid, Tanh,
    atomic_open, load_arrays, save_arrays,
)
from .optim import SGD, Adam, AdamW, FlatParameters, Optimizer, clip_grad_norm
from .transformer import (
    AttentionEncoder, Embedding, GPTConfig, LayerNorm, LearnedPositionalEmbedding, MultiHeadAttention, RMSNorm,
    SelfAttention, SinusoidalPositionalEncoding, TinyGPT, TransformerBlock,
)
from .tensor import DEFAULT_DTYPE, Tensor, concat, is_grad_enabled, no_grad, ones, stack, tensor, unbroadcast, where, zeros

__all__ = [
    "Tensor", "tensor", "zeros", "ones", "concat", "stack", "where", "no_grad", "is_grad_enabled", "unbroadcast",
    "DEFAULT_DTYPE", "functional", "F", "init", "manual_seed", "gradcheck", "Categorical",
    "kernels", "ops", "value", "reading_path",
    "Module", "Parameter", "Linear", "MLP", "Sequential", "Dropout", "ReLU", "Tanh", "Sigmoid", "GELU", "Identity",
    "atomic_open", "save_arrays", "load_arrays", "SGD", "Adam", "AdamW", "Optimizer", "FlatParameters", "clip_grad_norm",
    "trace", "Node",
    "Embedding", "SinusoidalPositionalEncoding", "LearnedPositionalEmbedding", "LayerNorm", "RMSNorm",
    "SelfAttention", "MultiHeadAttention", "TransformerBlock", "GPTConfig", "TinyGPT", "AttentionEncoder",
]
