"""Transformers, from small parts to whole models (laid out after nanoGPT's model.py).

Parts: Embedding, positional encodings (fixed sinusoidal, learned), LayerNorm,
RMSNorm, the attention mask, SelfAttention (one head), MultiHeadAttention,
FeedForward, TransformerBlock (pre-norm). Models: GPTConfig + TinyGPT (next-token
language model with `generate`) and AttentionEncoder (tokens of features ->
one feature vector, for RL policies over grid cells or object sets).

Shape letters: B batch, T tokens, C = dim (model width), H heads,
hd = head_dim = C // H, V vocabulary size.

The attention core, layer norm, RMS norm and the embedding lookup are the
functions of nets/functional.py: fused kernels on the fast path, compositions of
Tensor primitives on the reading path (nets/kernels.py has the switch).

Inference without a graph: under `no_grad` (and with dropout off), TinyGPT and
AttentionEncoder run `_forward_array`, the ops/ forwards on plain arrays with the
tokens as rows of one (B * T, C) matrix. It skips the Tensor bookkeeping that
dominates a batch-1 forward (2x faster for a policy's 16-token context). The
tests check it against `forward`; the reading path runs `forward` instead.

Initialization: Linear weights N(0, gain^2 / fan_in) with gain 1 (LeCun normal),
biases 0, embeddings N(0, 1) (PyTorch's nn.Embedding); as in GPT-2, the two
projections that write into the residual stream get gain 1 / sqrt(2 n_layers)
so the stream's variance does not grow with depth. At this scale it learns
faster than GPT-2's N(0, 0.02): a PyTorch copy of TinyGPT (context 32, dim 64,
2 layers) reaches 1.84 nats/char on Tiny Shakespeare after 2000 steps with it,
1.88 with GPT-2's.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import numpy as np

from . import functional as F
from . import init, kernels, ops
from .distributions import Categorical
from .module import Dropout, Linear, Module, Parameter
from .tensor import DEFAULT_DTYPE, Tensor, concat, is_grad_enabled, no_grad


def _linear(n_in: int, n_out: int, gain: float, rng, dtype, bias: bool = True) -> Linear:
    """Linear with weights N(0, gain^2 / n_in) (He-normal's formula, with our gain)."""
    return Linear(n_in, n_out, bias=bias, init_scheme="he", gain=gain, rng=rng, dtype=dtype)


def _check_tokens(x, dim: int, dtype, name: str) -> Tensor:
    """Accept a (B, T, dim) Tensor or array; anything else gets an error that says what was expected."""
    x = x if isinstance(x, Tensor) else Tensor(x, dtype=dtype)
    if x.ndim != 3 or x.shape[-1] != dim:
        raise ValueError(f"{name} expects input of shape (batch, tokens, {dim}), got {x.shape}")
    return x


# ----------------------------------------------------------------- embeddings
class Embedding(Module):
    """Lookup table: integer ids of any shape -> ids.shape + (dim,).

        >>> from rl_scratch.nets import Embedding
        >>> Embedding(vocab_size=10, dim=4, rng=np.random.default_rng(0))(np.array([[1, 2, 3]])).shape
        (1, 3, 4)
    """

    def __init__(self, vocab_size: int, dim: int, rng: np.random.Generator | None = None,
                 dtype=DEFAULT_DTYPE, std: float = 1.0):
        rng = rng if rng is not None else init.default_rng()
        self.vocab_size, self.dim = vocab_size, dim
        self.weight = Parameter(rng.normal(0.0, std, (vocab_size, dim)), dtype=dtype)

    def forward(self, ids) -> Tensor:
        return F.embedding(self._check_ids(ids), self.weight)

    def _forward_array(self, ids) -> np.ndarray:
        return ops.indexing.embedding(self.weight.data, self._check_ids(ids))[0]

    def _check_ids(self, ids) -> np.ndarray:
        ids = np.asarray(ids.data if isinstance(ids, Tensor) else ids)
        if ids.dtype.kind not in "iu":
            raise TypeError(f"Embedding expects integer token ids, got dtype {ids.dtype} (cast with .astype(int))")
        if F.any_index_outside(ids, self.vocab_size):
            raise ValueError(f"token id out of range [0, {self.vocab_size}): got values from "
                             f"{ids.min()} to {ids.max()}")
        return ids

    def extra_repr(self) -> str:
        return f"{self.vocab_size}, {self.dim}"


def sinusoidal_positions(n_positions: int, dim: int, base: float = 10000.0, dtype=DEFAULT_DTYPE) -> np.ndarray:
    """(n_positions, dim) table of "Attention Is All You Need": even columns sin(p / base^(2i/dim)), odd cos."""
    positions = np.arange(n_positions)[:, None]                      # (P, 1)
    frequencies = base ** (-np.arange(0, dim, 2) / dim)              # (ceil(dim / 2),)
    angles = positions * frequencies                                 # (P, ceil(dim / 2))
    table = np.empty((n_positions, dim))
    table[:, 0::2] = np.sin(angles)
    table[:, 1::2] = np.cos(angles[:, : dim // 2])
    return table.astype(dtype)


class SinusoidalPositionalEncoding(Module):
    """Adds the fixed sinusoidal table to (B, T, dim) inputs; nothing to learn.

        >>> from rl_scratch.nets import SinusoidalPositionalEncoding, Tensor
        >>> encode = SinusoidalPositionalEncoding(n_positions=16, dim=4)
        >>> encode(Tensor(np.zeros((1, 2, 4))))  # position 0: sin 0, cos 0; position 1: sin 1, cos 1, ...
        Tensor([[[0.     1.     0.     1.    ]
          [0.8415 0.5403 0.01   0.9999]]], dtype=float64)
        >>> encode.num_parameters()
        0
    """

    def __init__(self, n_positions: int, dim: int, dtype=DEFAULT_DTYPE):
        self.n_positions, self.dim = n_positions, dim
        self.table = sinusoidal_positions(n_positions, dim, dtype=dtype)

    def forward(self, x: Tensor) -> Tensor:
        x = _check_tokens(x, self.dim, self.table.dtype, "SinusoidalPositionalEncoding")
        if x.shape[1] > self.n_positions:
            raise ValueError(f"sequence of {x.shape[1]} tokens is longer than the {self.n_positions} "
                             "positions this encoding was built for")
        return x + self.table[: x.shape[1]].astype(x.dtype, copy=False)


class LearnedPositionalEmbedding(Module):
    """Adds a learned vector per position to (B, T, dim) inputs.

        >>> from rl_scratch.nets import LearnedPositionalEmbedding, Tensor
        >>> positions = LearnedPositionalEmbedding(n_positions=8, dim=4, rng=np.random.default_rng(0))
        >>> positions(Tensor(np.zeros((2, 3, 4)))).shape, positions.num_parameters()
        ((2, 3, 4), 32)
    """

    def __init__(self, n_positions: int, dim: int, rng: np.random.Generator | None = None,
                 dtype=DEFAULT_DTYPE, std: float = 1.0):
        rng = rng if rng is not None else init.default_rng()
        self.n_positions, self.dim = n_positions, dim
        self.weight = Parameter(rng.normal(0.0, std, (n_positions, dim)), dtype=dtype)

    def forward(self, x: Tensor) -> Tensor:
        x = _check_tokens(x, self.dim, self.weight.dtype, "LearnedPositionalEmbedding")
        n_tokens = self._check_length(x.shape[1])
        positions = self.weight if n_tokens == self.n_positions else self.weight[:n_tokens]
        return x + positions  # (B, T, C) + (T, C)

    def _forward_array(self, x: np.ndarray) -> np.ndarray:
        return x + self.weight.data[: self._check_length(x.shape[1])]

    def _check_length(self, n_tokens: int) -> int:
        if n_tokens > self.n_positions:
            raise ValueError(f"sequence of {n_tokens} tokens is longer than the {self.n_positions} "
                             "learned positions (raise the context / n_tokens)")
        return n_tokens

    def extra_repr(self) -> str:
        return f"{self.n_positions}, {self.dim}"


# -------------------------------------------------------------- normalization
class LayerNorm(Module):
    """Normalize each token over its features to mean 0, variance 1, then scale and shift (learned).

        >>> from rl_scratch.nets import LayerNorm, Tensor
        >>> LayerNorm(3)(Tensor([[[1.0, 2.0, 3.0]]])).numpy().round(4)
        array([[[-1.2247,  0.    ,  1.2247]]], dtype=float32)
    """

    def __init__(self, dim: int, eps: float = 1e-5, dtype=DEFAULT_DTYPE):
        self.dim, self.eps = dim, eps
        self.weight = Parameter(np.ones(dim), dtype=dtype)
        self.bias = Parameter(np.zeros(dim), dtype=dtype)

    def forward(self, x: Tensor) -> Tensor:
        x = x if isinstance(x, Tensor) else Tensor(x, dtype=self.weight.dtype)
        if x.shape[-1] != self.dim:
            raise ValueError(f"LayerNorm({self.dim}) got input with last dimension {x.shape[-1]} (shape {x.shape})")
        return F.layer_norm(x, self.weight, self.bias, self.eps)

    def _forward_array(self, x: np.ndarray) -> np.ndarray:
        return ops.norms.layer_norm(x, self.weight.data, self.bias.data, self.eps)[0]

    def extra_repr(self) -> str:
        return f"{self.dim}, eps={self.eps}"


class RMSNorm(Module):
    """Scale each token to root-mean-square 1 over its features, then by a learned gain (no centering).

        >>> from rl_scratch.nets import RMSNorm, Tensor
        >>> (RMSNorm(2)(Tensor([[[3.0, 4.0]]])) * np.sqrt(12.5)).numpy().round(4)
        array([[[3., 4.]]], dtype=float32)
    """

    def __init__(self, dim: int, eps: float = 1e-5, dtype=DEFAULT_DTYPE):
        self.dim, self.eps = dim, eps
        self.weight = Parameter(np.ones(dim), dtype=dtype)

    def forward(self, x: Tensor) -> Tensor:
        x = x if isinstance(x, Tensor) else Tensor(x, dtype=self.weight.dtype)
        if x.shape[-1] != self.dim:
            raise ValueError(f"RMSNorm({self.dim}) got input with last dimension {x.shape[-1]} (shape {x.shape})")
        return F.rms_norm(x, self.weight, self.eps)

    def _forward_array(self, x: np.ndarray) -> np.ndarray:
        return ops.norms.rms_norm(x, self.weight.data, self.eps)[0]

    def extra_repr(self) -> str:
        return f"{self.dim}, eps={self.eps}"


NORMS = {"layer": LayerNorm, "rms": RMSNorm}


# ------------------------------------------------------------------ attention
@functools.lru_cache(maxsize=32)
def causal_mask(n_tokens: int) -> np.ndarray:
    """(T, T) lower-triangular booleans: [i, j] is True when query i may attend to key j, i.e. j <= i.

        T=4:  1 0 0 0
              1 1 0 0
              1 1 1 0
              1 1 1 1
    """
    mask = np.tril(np.ones((n_tokens, n_tokens), dtype=bool))
    mask.flags.writeable = False  # shared by every caller through the cache
    return mask


def _check_key_mask(key_mask, batch: int, n_tokens: int) -> np.ndarray:
    key_mask = np.asarray(key_mask.data if isinstance(key_mask, Tensor) else key_mask)
    if key_mask.dtype != bool or key_mask.shape != (batch, n_tokens):
        raise ValueError(f"key_mask must be a boolean array of shape (batch, tokens) = {(batch, n_tokens)}, "
                         f"True for tokens to attend to; got dtype {key_mask.dtype} shape {key_mask.shape}")
    return key_mask


def attention_mask(n_tokens: int, causal: bool, key_mask=None, batch: int | None = None):
    """Which keys each query may see: None (all), (T, T) causal, or (B, T, T) with a key mask.

    `key_mask` is boolean (B, T), True for real tokens and False for padding:
    no query attends to a padding key.
    """
    mask = causal_mask(n_tokens) if causal else None
    if key_mask is None:
        return mask
    keys = _check_key_mask(key_mask, batch, n_tokens)[:, None, :]  # (B, 1, T): the same keys for every query
    return keys if mask is None else keys & mask         # (B, T, T)


class SelfAttention(Module):
    """One attention head: softmax(q k^T / sqrt(head_dim)) v with q, k, v learned projections of x.

    (B, T, dim) -> (B, T, head_dim). The weights of the last call are kept in
    `last_attention` (B, T, T) for inspection and plots.

        >>> from rl_scratch.nets import SelfAttention, Tensor
        >>> head = SelfAttention(dim=8, head_dim=4, causal=True, rng=np.random.default_rng(0))
        >>> head(Tensor(np.random.default_rng(1).normal(size=(2, 3, 8)))).shape
        (2, 3, 4)
        >>> head.last_attention[0].round(2)[0].tolist()  # token 0 sees only itself
        [1.0, 0.0, 0.0]
    """

    def __init__(self, dim: int, head_dim: int | None = None, causal: bool = False, bias: bool = True,
                 rng: np.random.Generator | None = None, dtype=DEFAULT_DTYPE, gain: float = 1.0):
        rng = rng if rng is not None else init.default_rng()
        self.dim, self.head_dim, self.causal = dim, head_dim or dim, causal
        self.qkv = _linear(dim, 3 * self.head_dim, gain, rng, dtype, bias)  # [q | k | v] side by side
        self.last_attention = None

    def forward(self, x: Tensor, key_mask=None) -> Tensor:
        x = _check_tokens(x, self.dim, self.qkv.weight.dtype, "SelfAttention")
        B, T, _ = x.shape
        qkv = self.qkv(x).reshape(B, T, 3, self.head_dim)   # (B, T, 3, head_dim)
        qkv = qkv.permute(2, 0, 1, 3)                        # (3, B, T, head_dim): q, k, v
        y, self.last_attention = F.attention(qkv, attention_mask(T, self.causal, key_mask, B), key_mask is None)
        return y                                             # (B, T, head_dim)

    def extra_repr(self) -> str:
        return f"{self.dim}, head_dim={self.head_dim}, causal={self.causal}"


class MultiHeadAttention(Module):
    """n_heads attention heads of width dim // n_heads side by side, concatenated, then projected.

    All heads run as one batched matmul over a (B, heads, T, head_dim) array.
    `last_attention` holds the weights of the last call, (B, heads, T, T).

        >>> from rl_scratch.nets import MultiHeadAttention, Tensor
        >>> attn = MultiHeadAttention(dim=8, n_heads=2, rng=np.random.default_rng(0))
        >>> attn(Tensor(np.ones((2, 5, 8)))).shape, attn.last_attention.shape
        ((2, 5, 8), (2, 2, 5, 5))
    """

    def __init__(self, dim: int, n_heads: int, causal: bool = False, bias: bool = True,
                 rng: np.random.Generator | None = None, dtype=DEFAULT_DTYPE,
                 gain: float = 1.0, out_gain: float | None = None):
        if dim % n_heads:
            raise ValueError(f"dim {dim} must be divisible by n_heads {n_heads}")
        rng = rng if rng is not None else init.default_rng()
        self.dim, self.n_heads, self.head_dim, self.causal = dim, n_heads, dim // n_heads, causal
        self.qkv = _linear(dim, 3 * dim, gain, rng, dtype, bias)  # [q | k | v], each with its heads side by side
        self.proj = _linear(dim, dim, gain if out_gain is None else out_gain, rng, dtype, bias)
        self.last_attention = None

    def forward(self, x: Tensor, key_mask=None) -> Tensor:
        x = _check_tokens(x, self.dim, self.qkv.weight.dtype, "MultiHeadAttention")
        B, T, C = x.shape
        H, hd = self.n_heads, self.head_dim
        qkv = self.qkv(x).reshape(B, T, 3, H, hd)          # (B, T, 3, heads, head_dim)
        qkv = qkv.permute(2, 0, 3, 1, 4)                    # (3, B, heads, T, head_dim)
        y, self.last_attention = F.attention(qkv, self._mask(T, key_mask, B), key_mask is None)  # (B, heads, T, hd)
        y = y.permute(0, 2, 1, 3).reshape(B, T, C)          # (B, T, heads, head_dim) -> (B, T, C)
        return self.proj(y)

    def _forward_rows(self, rows: np.ndarray, B: int, T: int, key_mask=None, last_only: bool = False) -> np.ndarray:
        """forward() on arrays, with the tokens as rows (B * T, C): each projection is one 2-D product.

        `last_only`: only the last token attends, (B, C) out; every token still serves as a key and value.
        """
        q, k, v = self.qkv._forward_array(rows).reshape(B, T, 3, self.n_heads, self.head_dim).transpose(2, 0, 3, 1, 4)
        mask = self._mask(T, key_mask, B)
        if last_only:
            q = q[:, :, -1:]                                 # (B, heads, 1, head_dim)
            mask = None if mask is None else mask[..., -1:, :]
        self.last_attention = ops.attention.attention_weights(q, k, mask, key_mask is None)
        y = (self.last_attention @ v).transpose(0, 2, 1, 3).reshape(-1, rows.shape[1])
        return self.proj._forward_array(y)

    def _mask(self, n_tokens: int, key_mask, batch: int):
        mask = attention_mask(n_tokens, self.causal, key_mask, batch)  # None, (T, T) or (B, T, T)
        if mask is not None and mask.ndim == 3:
            mask = mask[:, None]                            # (B, 1, T, T): the same for every head
        return mask

    def extra_repr(self) -> str:
        return f"{self.dim}, n_heads={self.n_heads}, causal={self.causal}"


# ---------------------------------------------------------------------- block
class FeedForward(Module):
    """Per-token MLP: dim -> hidden -> dim with GELU (tanh approximation) between."""

    def __init__(self, dim: int, hidden: int, bias: bool = True, rng: np.random.Generator | None = None,
                 dtype=DEFAULT_DTYPE, gain: float = 1.0, out_gain: float | None = None):
        rng = rng if rng is not None else init.default_rng()
        self.fc = _linear(dim, hidden, gain, rng, dtype, bias)
        self.proj = _linear(hidden, dim, gain if out_gain is None else out_gain, rng, dtype, bias)

    def forward(self, x: Tensor) -> Tensor:
        return self.proj(self.fc(x).gelu())

    def _forward_array(self, x: np.ndarray) -> np.ndarray:
        h = self.fc._forward_array(x)
        return self.proj._forward_array(ops.activations.gelu(h, out=h)[0])


class TransformerBlock(Module):
    """Pre-norm block: x + attn(norm(x)), then x + mlp(norm(x)).

    `n_layers` (of the whole model) scales the initial residual projections by
    1 / sqrt(2 n_layers). `dropout` applies to each branch before it is added.

        >>> from rl_scratch.nets import Tensor, TransformerBlock
        >>> block = TransformerBlock(dim=16, n_heads=4, causal=True, rng=np.random.default_rng(0))
        >>> block(Tensor(np.random.default_rng(1).normal(size=(2, 6, 16)))).shape
        (2, 6, 16)
    """

    def __init__(self, dim: int, n_heads: int, causal: bool = False, mlp_ratio: int = 4, norm: str = "layer",
                 dropout: float = 0.0, bias: bool = True, n_layers: int = 1,
                 rng: np.random.Generator | None = None, dtype=DEFAULT_DTYPE):
        if norm not in NORMS:
            raise ValueError(f"unknown norm {norm!r}; choose one of {sorted(NORMS)}")
        rng = rng if rng is not None else init.default_rng()
        out_gain = 1 / math.sqrt(2 * n_layers)
        self.norm1 = NORMS[norm](dim, dtype=dtype)
        self.attn = MultiHeadAttention(dim, n_heads, causal, bias, rng, dtype, out_gain=out_gain)
        self.norm2 = NORMS[norm](dim, dtype=dtype)
        self.mlp = FeedForward(dim, mlp_ratio * dim, bias, rng, dtype, out_gain=out_gain)
        self.dropout = Dropout(dropout, rng)

    def forward(self, x: Tensor, key_mask=None) -> Tensor:
        x = x + self.dropout(self.attn(self.norm1(x), key_mask))
        return x + self.dropout(self.mlp(self.norm2(x)))

    def _forward_rows(self, rows: np.ndarray, B: int, T: int, key_mask=None, last_only: bool = False) -> np.ndarray:
        """forward() on arrays of token rows (B * T, C), without dropout: the caller checks it is off.

        `last_only`: the output of each sequence's last token alone, (B, C).
        """
        attended = self.attn._forward_rows(self.norm1._forward_array(rows), B, T, key_mask, last_only)
        rows = (rows.reshape(B, T, -1)[:, -1] if last_only else rows) + attended
        return rows + self.mlp._forward_array(self.norm2._forward_array(rows))


# --------------------------------------------------------------------- TinyGPT
@dataclass
class GPTConfig:
    """TinyGPT's sizes; the defaults are the Tiny Shakespeare model of the benchmarks.

        >>> from rl_scratch.nets import GPTConfig
        >>> GPTConfig(vocab_size=54, context=16, dim=32).n_heads
        4
        >>> GPTConfig(dim=30, n_heads=4)
        Traceback (most recent call last):
        ...
        ValueError: GPTConfig.dim 30 must be divisible by n_heads 4
    """

    vocab_size: int = 65
    """number of distinct tokens (65 for Tiny Shakespeare characters)"""
    context: int = 32
    """longest sequence the model sees; generate() crops its input to the last `context` tokens"""
    dim: int = 64
    """width of every token's vector (the residual stream)"""
    n_heads: int = 4
    """attention heads per block; must divide dim"""
    n_layers: int = 2
    """number of transformer blocks"""
    mlp_ratio: int = 4
    """hidden width of each block's MLP, as a multiple of dim"""
    dropout: float = 0.0
    """dropout on embeddings and residual branches during training (0 turns it off)"""
    bias: bool = True
    """biases in Linear layers"""
    norm: str = "layer"
    """'layer' (LayerNorm) or 'rms' (RMSNorm)"""

    def __post_init__(self):
        for field in ("vocab_size", "context", "dim", "n_heads", "n_layers", "mlp_ratio"):
            if int(getattr(self, field)) < 1:
                raise ValueError(f"GPTConfig.{field} must be a positive integer, got {getattr(self, field)}")
        if self.dim % self.n_heads:
            raise ValueError(f"GPTConfig.dim {self.dim} must be divisible by n_heads {self.n_heads}")


def next_token_logits(logits: np.ndarray, temperature: float = 1.0, top_k: int | None = None) -> np.ndarray:
    """logits / temperature (float64) with every token outside the top_k set to -inf (probability 0).

    Lower temperatures sharpen the distribution towards the argmax, higher ones flatten it towards
    uniform; temperature 0 (greedy) is the argmax itself, which callers take as the mode.
    """
    if temperature < 0:
        raise ValueError(f"temperature must be >= 0 (0 = greedy), got {temperature}")
    if top_k is not None and not 1 <= top_k <= logits.shape[-1]:
        raise ValueError(f"top_k must be in [1, {logits.shape[-1]}] (the vocabulary size) or None, got {top_k}")
    scaled = np.asarray(logits, dtype=np.float64)
    if temperature > 0:
        scaled = scaled / temperature
    if top_k is not None:
        kth_largest = np.partition(scaled, -top_k, axis=-1)[..., -top_k, None]
        scaled = np.where(scaled < kth_largest, -np.inf, scaled)
    return scaled


def next_token_probabilities(logits: np.ndarray, temperature: float = 1.0, top_k: int | None = None) -> np.ndarray:
    """The sampling distribution over the last axis: softmax(next_token_logits(...)).

    temperature 0 means greedy: all probability on the argmax (the first, on ties).
    """
    scaled = next_token_logits(logits, temperature, top_k)
    if temperature == 0:
        return np.eye(scaled.shape[-1])[Categorical(scaled).mode()]
    return Categorical(scaled).probs.data


class TinyGPT(Module):
    """Decoder-only transformer language model: ids (B, T) -> next-token logits (B, T, vocab).

        >>> from rl_scratch.nets import Adam, GPTConfig, TinyGPT
        >>> rng = np.random.default_rng(0)
        >>> model = TinyGPT(GPTConfig(vocab_size=5, context=12, dim=16, n_heads=2, n_layers=1), rng=rng)
        >>> ids = np.array([[0, 1, 2, 3, 4] * 2 + [0, 1, 2]])  # learn to count 0..4 round and round
        >>> opt = Adam(model.parameters(), lr=1e-2)
        >>> for _ in range(40):
        ...     loss = model.loss(ids[:, :-1], ids[:, 1:])
        ...     opt.zero_grad(); loss.backward(); opt.step()
        >>> model.generate(np.array([3]), n=6, temperature=0).tolist()
        [3, 4, 0, 1, 2, 3, 4]
    """

    def __init__(self, config: GPTConfig | None = None, rng: np.random.Generator | None = None,
                 dtype=DEFAULT_DTYPE):
        self.config = config = config if config is not None else GPTConfig()
        rng = rng if rng is not None else init.default_rng()
        self.token_embedding = Embedding(config.vocab_size, config.dim, rng, dtype)
        self.position_embedding = LearnedPositionalEmbedding(config.context, config.dim, rng, dtype)
        self.dropout = Dropout(config.dropout, rng)
        self.blocks = [
            TransformerBlock(config.dim, config.n_heads, causal=True, mlp_ratio=config.mlp_ratio, norm=config.norm,
                             dropout=config.dropout, bias=config.bias, n_layers=config.n_layers, rng=rng, dtype=dtype)
            for _ in range(config.n_layers)
        ]
        self.final_norm = NORMS[config.norm](config.dim, dtype=dtype)
        self.lm_head = _linear(config.dim, config.vocab_size, 1.0, rng, dtype, config.bias)

    def forward(self, ids, last_only: bool = False) -> Tensor:
        """Next-token logits (B, T, V) for ids (B, T); with `last_only`, the last position's alone (B, V).

        `last_only` is what generation and policies need. Without a graph it also
        computes less: the last block attends from the last token only.
        """
        ids = np.asarray(ids.data if isinstance(ids, Tensor) else ids)
        if ids.ndim != 2:
            raise ValueError(f"TinyGPT expects token ids of shape (batch, tokens), got {ids.shape}")
        if ids.shape[1] > self.config.context:
            raise ValueError(f"sequence of {ids.shape[1]} tokens exceeds the context of {self.config.context}; "
                             "crop it to the last `context` tokens")
        if not is_grad_enabled() and not (self.training and self.config.dropout) and kernels.fused_enabled():
            return Tensor(self._forward_array(ids, last_only))
        x = self.dropout(self.position_embedding(self.token_embedding(ids)))  # (B, T, C)
        for block in self.blocks:
            x = block(x)
        logits = self.lm_head(self.final_norm(x))  # (B, T, V)
        return logits[:, -1] if last_only else logits

    def _forward_array(self, ids: np.ndarray, last_only: bool = False) -> np.ndarray:
        B, T = ids.shape
        x = self.position_embedding._forward_array(self.token_embedding._forward_array(ids))
        rows = x.reshape(B * T, -1)
        for i, block in enumerate(self.blocks):
            rows = block._forward_rows(rows, B, T, last_only=last_only and i == len(self.blocks) - 1)
        logits = self.lm_head._forward_array(self.final_norm._forward_array(rows))
        return logits if last_only else logits.reshape(B, T, -1)

    def loss(self, ids, targets) -> Tensor:
        """Mean cross-entropy of the next-token logits against `targets` (B, T) (usually ids shifted by one).

            >>> from rl_scratch.nets import GPTConfig, TinyGPT
            >>> model = TinyGPT(GPTConfig(vocab_size=5, context=8, dim=16, n_heads=2, n_layers=1), rng=np.random.default_rng(0))
            >>> ids = np.array([[0, 1, 2, 3]])
            >>> 1.0 < model.loss(ids[:, :-1], ids[:, 1:]).item() < 3.0  # about log 5 before training
            True
        """
        return F.cross_entropy(self(ids), np.asarray(targets))

    def generate(self, prompt_ids, n: int, temperature: float = 1.0, top_k: int | None = None,
                 rng: np.random.Generator | None = None) -> np.ndarray:
        """Append `n` sampled tokens to `prompt_ids` ((T,) or (B, T)) and return the whole sequence.

        Each step feeds the last `context` tokens and samples from
        `next_token_probabilities(logits, temperature, top_k)`; temperature 0 is
        greedy decoding. The same `rng` seed gives the same text.

            >>> from rl_scratch.nets import GPTConfig, TinyGPT
            >>> model = TinyGPT(GPTConfig(vocab_size=5, context=8, dim=16, n_heads=2, n_layers=1), rng=np.random.default_rng(0))
            >>> a = model.generate(np.array([[1, 2]]), n=4, top_k=3, rng=np.random.default_rng(7))
            >>> b = model.generate(np.array([[1, 2]]), n=4, top_k=3, rng=np.random.default_rng(7))
            >>> a.shape, np.array_equal(a, b)
            ((1, 6), True)
        """
        rng = rng if rng is not None else init.default_rng()
        ids = np.asarray(prompt_ids)
        if ids.dtype.kind not in "iu" or ids.ndim not in (1, 2) or ids.shape[-1] == 0:
            raise ValueError(f"prompt_ids must be a non-empty integer array of shape (T,) or (B, T), "
                             f"got dtype {ids.dtype} shape {ids.shape}")
        single = ids.ndim == 1
        ids = ids[None] if single else ids
        was_training = self.training
        self.eval()
        try:
            with no_grad():
                for _ in range(n):
                    logits = self(ids[:, -self.config.context:], last_only=True).data  # (B, V)
                    next_token = Categorical(next_token_logits(logits, temperature, top_k))
                    choice = next_token.mode() if temperature == 0 else next_token.sample(rng)  # (B,)
                    ids = np.concatenate([ids, choice[:, None].astype(ids.dtype)], axis=1)
        finally:
            self.train(was_training)
        return ids[0] if single else ids


# ------------------------------------------------------------ AttentionEncoder
POOLS = ("mean", "cls", "flat", "last")


class AttentionEncoder(Module):
    """Set/grid encoder for RL: (B, n_tokens, in_features) floats -> (B, dim) features.

    Each token (e.g. a GridWorld cell's channels) is embedded by a Linear layer,
    gets a learned position, passes through the blocks (causal=True: each token
    attends to itself and earlier ones only, e.g. tokens that are time steps) and
    a final norm; the tokens are then mean-pooled (pool="mean"), read from a
    learned [CLS] token prepended to them (pool="cls"), kept in place side by side
    (pool="flat": (B, n_tokens * dim), which keeps which token said what) or read
    from the last token (pool="last": with causal, the one that saw them all).
    `out_features` is the pooled width. Flat observations of shape
    (B, n_tokens * in_features) are reshaped to tokens. `key_mask` (B, n_tokens)
    marks real tokens; padding is neither attended to nor pooled.

        >>> from rl_scratch.nets import AttentionEncoder
        >>> cells = np.random.default_rng(1).normal(size=(2, 25, 6))  # 2 grids of 25 cells, 6 channels each
        >>> encoder = AttentionEncoder(in_features=6, n_tokens=25, dim=16, n_heads=2, n_layers=1,
        ...                            pool="flat", rng=np.random.default_rng(0))
        >>> encoder(cells).shape, encoder.out_features
        ((2, 400), 400)
    """

    def __init__(self, in_features: int, n_tokens: int, dim: int = 64, n_heads: int = 4, n_layers: int = 2,
                 pool: str = "mean", mlp_ratio: int = 4, norm: str = "layer",
                 rng: np.random.Generator | None = None, dtype=DEFAULT_DTYPE, causal: bool = False):
        if pool not in POOLS:
            raise ValueError(f"pool must be one of {list(POOLS)}, got {pool!r}")
        rng = rng if rng is not None else init.default_rng()
        self.in_features, self.n_tokens, self.dim, self.pool = in_features, n_tokens, dim, pool
        self.out_features = dim * n_tokens if pool == "flat" else dim
        self.embed = _linear(in_features, dim, 1.0, rng, dtype)
        self.cls_token = Parameter(rng.normal(0.0, 1.0, (1, 1, dim)), dtype=dtype) if pool == "cls" else None
        n_positions = n_tokens + (pool == "cls")
        self.position_embedding = LearnedPositionalEmbedding(n_positions, dim, rng, dtype)
        self.blocks = [TransformerBlock(dim, n_heads, causal=causal, mlp_ratio=mlp_ratio, norm=norm,
                                        n_layers=n_layers, rng=rng, dtype=dtype) for _ in range(n_layers)]
        self.final_norm = NORMS[norm](dim, dtype=dtype)

    def forward(self, x, key_mask=None) -> Tensor:
        dtype = self.embed.weight.dtype
        x = x if isinstance(x, Tensor) else Tensor(x, dtype=dtype)
        if x.dtype != dtype:
            x = x.astype(dtype)  # float64 observations would otherwise turn the whole network float64
        expected = (self.n_tokens, self.in_features)
        if x.ndim == 2 and x.shape[1] == self.n_tokens * self.in_features:
            x = x.reshape(x.shape[0], *expected)                       # (B, T, in_features)
        if x.ndim != 3 or x.shape[1:] != expected:
            raise ValueError(f"AttentionEncoder expects (batch, {self.n_tokens}, {self.in_features}) or flat "
                             f"(batch, {self.n_tokens * self.in_features}), got {x.shape}")
        B = x.shape[0]
        if key_mask is not None:
            key_mask = _check_key_mask(key_mask, B, self.n_tokens)
        if not is_grad_enabled() and kernels.fused_enabled():
            return Tensor(self._forward_array(x.data, key_mask))
        h = self.embed(x)                                             # (B, T, C)
        if self.cls_token is not None:
            h = concat([self.cls_token * np.ones((B, 1, 1), dtype), h], axis=1)  # (B, 1 + T, C)
        key_mask = self._cls_sees(key_mask)
        h = self.position_embedding(h)
        for block in self.blocks:
            h = block(h, key_mask)
        return self._pool(self.final_norm(h), key_mask)

    def _forward_array(self, x: np.ndarray, key_mask) -> np.ndarray:
        B, C = x.shape[0], self.dim
        h = self.embed._forward_array(x)                              # (B, T, C)
        if self.cls_token is not None:
            h = np.concatenate([np.broadcast_to(self.cls_token.data, (B, 1, C)), h], axis=1)
        key_mask = self._cls_sees(key_mask)
        h = self.position_embedding._forward_array(h)
        T = h.shape[1]
        rows = h.reshape(B * T, C)
        for block in self.blocks:
            rows = block._forward_rows(rows, B, T, key_mask)
        return self._pool(self.final_norm._forward_array(rows).reshape(B, T, C), key_mask)

    def _cls_sees(self, key_mask):
        """The key mask with the [CLS] token's column in front (always visible) when there is one."""
        if self.cls_token is None or key_mask is None:
            return key_mask
        return np.concatenate([np.ones((len(key_mask), 1), bool), key_mask], axis=1)

    def _pool(self, h, key_mask):
        """(B, T, C) token features -> (B, C); a Tensor or an array alike."""
        if self.pool == "cls":
            return h[:, 0]
        if self.pool == "flat":
            return h.reshape(h.shape[0], -1)                          # (B, T * C)
        if self.pool == "last":
            return h[:, -1]
        if key_mask is None:
            return h.mean(axis=1)
        weights = key_mask.astype(h.dtype)[:, :, None]                # (B, T, 1)
        return (h * weights).sum(axis=1) / np.maximum(weights.sum(axis=1), 1)

    def extra_repr(self) -> str:
        return (f"in_features={self.in_features}, n_tokens={self.n_tokens}, dim={self.dim}, "
                f"blocks={len(self.blocks)}, pool={self.pool!r}")
