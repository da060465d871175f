"""Networks that map an observation batch to one output per action (Q-values or logits),
or to one value: an MLP over the flattened observation, an attention encoder
that reads each row of a (tokens, features) observation as a token, or a TinyGPT
that reads a context of token ids (NextToken) and scores the next token.

    net = build_network("mlp", obs_shape=(4,), n_outputs=2, hidden=(64, 64), rng=rng)
    q = net(Tensor(obs_batch))          # (B, 2)
"""

from __future__ import annotations

import numpy as np

from rl_scratch.nets import MLP, Module, Tensor
from rl_scratch.nets.transformer import AttentionEncoder

POLICIES = ("mlp", "attention", "gpt")


class AttentionHead(Module):
    """Self-attention over observation tokens (B, T, F) -> (B, dim), then an MLP to `n_outputs`."""

    def __init__(self, obs_shape: tuple, n_outputs: int, hidden: tuple, activation: str, rng: np.random.Generator,
                 dim: int, n_heads: int, n_layers: int, output_gain: float | None, dtype):
        n_tokens, n_features = obs_shape
        self.encoder = AttentionEncoder(n_features, n_tokens, dim, n_heads, n_layers, rng=rng, dtype=dtype)
        self.head = MLP([dim, *hidden, n_outputs], activation=activation, rng=rng, dtype=dtype,
                        output_gain=output_gain)

    def forward(self, x: Tensor) -> Tensor:
        return self.head(self.encoder(x))


class GPTPolicy(Module):
    """TinyGPT over a context of token ids (B, T) -> the logits of its last position (B, vocab).

    The action space is the vocabulary (NextToken: action = next token id), so
    `n_outputs` is both the embedding table's and the head's size. Ids may
    arrive as floats (ObsEncoder's float32 batches); they are exact below 2**24.
    `self.gpt` is the language model itself, for full-sequence training.
    """

    def __init__(self, context: int, vocab_size: int, rng: np.random.Generator, dim: int, n_heads: int,
                 n_layers: int, dtype):
        from rl_scratch.nets.transformer import GPTConfig, TinyGPT

        self.gpt = TinyGPT(GPTConfig(vocab_size=vocab_size, context=context, dim=dim, n_heads=n_heads,
                                     n_layers=n_layers), rng=rng, dtype=dtype)

    def forward(self, x) -> Tensor:
        ids = np.asarray(x.data if isinstance(x, Tensor) else x)
        if ids.ndim != 2:
            raise ValueError(f"the gpt policy expects token ids of shape (batch, context), got {ids.shape}")
        return self.gpt(ids.astype(np.int64, copy=False), last_only=True)  # (B, vocab)


def build_network(policy: str, obs_shape: tuple, n_outputs: int, hidden: tuple, rng: np.random.Generator,
                  activation: str = "relu", output_gain: float | None = None, dtype=np.float32,
                  attention_dim: int = 32, attention_heads: int = 2, attention_layers: int = 1,
                  gpt_dim: int = 64, gpt_heads: int = 4, gpt_layers: int = 2) -> Module:
    """An `mlp` (obs_shape is (features,)), an `attention` network (obs_shape is (tokens, features)) or
    a `gpt` (obs_shape is (context,) token ids below n_outputs; `hidden` and `activation` unused)."""
    if policy == "mlp":
        return MLP([int(np.prod(obs_shape)), *hidden, n_outputs], activation=activation, rng=rng, dtype=dtype,
                   output_gain=output_gain)
    if policy == "attention":
        return AttentionHead(tuple(obs_shape), n_outputs, tuple(hidden), activation, rng, attention_dim,
                             attention_heads, attention_layers, output_gain, dtype)
    if policy == "gpt":
        if len(obs_shape) != 1:
            raise ValueError(f"policy='gpt' needs a 1-D observation of token ids (context,), e.g. NextToken; "
                             f"got shape {tuple(obs_shape)}")
        return GPTPolicy(int(obs_shape[0]), n_outputs, rng, gpt_dim, gpt_heads, gpt_layers, dtype)
    raise ValueError(f"unknown policy {policy!r}; choose one of {list(POLICIES)}")


def copy_weights(source: Module, target: Module, tau: float = 1.0) -> None:
    """target <- tau * source + (1 - tau) * target, in place (tau=1: a hard copy)."""
    for t, s in zip(target.parameters(), source.parameters()):
        if tau == 1.0:
            t.data[...] = s.data
        else:
            t.data *= 1.0 - tau
            t.data += tau * s.data
