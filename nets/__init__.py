"""From-scratch neural networks on NumPy: autograd `Tensor`, modules, optimizers.

    from rl_scratch.nets import Tensor, MLP, Adam
    net = MLP([4, 64, 2])
    loss = F.cross_entropy(net(Tensor(x)), y)
"""

from . import functional
from . import functional as F
from . import init, kernels, ops
from .distributions import Categorical
from .gradcheck import gradcheck
from .init import manual_seed
from .kernels import reading_path
from .module import (
    GELU, MLP, Dropout, Identity, Linear, Module, Parameter, ReLU, Sequential, Sigmoid, Tanh,
    atomic_open, load_arrays, save_arrays,
)
from .optim import SGD, Adam, AdamW, Optimizer, clip_grad_norm
from .transformer import (
    AttentionEncoder, Embedding, GPTConfig, LayerNorm, LearnedPositionalEmbedding, MultiHeadAttention, RMSNorm,
    SelfAttention, SinusoidalPositionalEncoding, TinyGPT, TransformerBlock,
)
from .tensor import DEFAULT_DTYPE, Tensor, concat, is_grad_enabled, no_grad, ones, stack, tensor, unbroadcast, where, zeros

__all__ = [
    "Tensor", "tensor", "zeros", "ones", "concat", "stack", "where", "no_grad", "is_grad_enabled", "unbroadcast",
    "DEFAULT_DTYPE", "functional", "F", "init", "manual_seed", "gradcheck", "Categorical",
    "kernels", "ops", "reading_path",
    "Module", "Parameter", "Linear", "MLP", "Sequential", "Dropout", "ReLU", "Tanh", "Sigmoid", "GELU", "Identity",
    "atomic_open", "save_arrays", "load_arrays", "SGD", "Adam", "AdamW", "Optimizer", "clip_grad_norm",
    "Embedding", "SinusoidalPositionalEncoding", "LearnedPositionalEmbedding", "LayerNorm", "RMSNorm",
    "SelfAttention", "MultiHeadAttention", "TransformerBlock", "GPTConfig", "TinyGPT", "AttentionEncoder",
]
