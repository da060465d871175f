"""The one network factory of the agents, `build_network`, and the networks it builds.

A network maps an observation batch to one output per action (Q-values or
logits), or to one value: an MLP over the flattened observation, an attention
encoder that reads each row of a (tokens, features) observation as a token, or a
TinyGPT that reads a context of token ids (NextToken) and scores the next token.
With `actor_critic=True` it is an `ActorCritic`: logits and a state value (A2C, PPO).
Which `policy` names an agent accepts is checked in one place, `check_policy`.

    >>> import numpy as np
    >>> from rl_scratch.nets import Tensor
    >>> rng = np.random.default_rng(0)
    >>> net = build_network("mlp", obs_shape=(4,), n_outputs=2, hidden=(8,), rng=rng)
    >>> net(Tensor(np.zeros((3, 4), dtype=np.float32))).shape
    (3, 2)
    >>> logits, values = build_network("mlp", (4,), 2, (8,), rng, actor_critic=True).predict(np.zeros((3, 4)))
    >>> logits.shape, values.shape
    ((3, 2), (3,))
"""

from __future__ import annotations

import math

import numpy as np

from rl_scratch.nets import MLP, Module, Tensor, no_grad
from rl_scratch.nets import init as nets_init
from rl_scratch.nets.transformer import AttentionEncoder

POLICIES = ("mlp", "attention", "gpt")
ACTOR_CRITIC_POLICIES = ("mlp", "attention")  # the gpt head scores a vocabulary: it has no value head


def check_policy(policy, supported: tuple = POLICIES, agent: str = "") -> str:
    """`policy` if it is one of `supported`; else ValueError naming the choices (the one place this is checked).

        >>> check_policy("gpt", ACTOR_CRITIC_POLICIES, "ppo")
        Traceback (most recent call last):
        ...
        ValueError: ppo: unknown policy 'gpt'; choose one of ['mlp', 'attention']
    """
    if policy not in supported:
        prefix = f"{agent}: " if agent else ""
        raise ValueError(f"{prefix}unknown policy {policy!r}; choose one of {list(supported)}")
    return policy


# Width of each block's feed-forward layer as a multiple of dim. A policy's tokens are a few
# flags (a GridWorld cell, one step of a window); with the transformer's usual 4 the feed-forward
# was most of a training step's arithmetic and its GELU the costliest op (a forward and backward
# at batch 64 of 25 tokens: 1.6x slower than with 1). The tuned entries were measured with 1.
TOKEN_MLP_RATIO = 1


class TokenAttention(Module):
    """Self-attention over observation tokens (B, T, F) -> (B, T * dim): what the policy heads read.

    Why not the encoder's mean over tokens: in a GridWorld observation 24 of the
    25 cell tokens are the same in every state and only the agent's cell
    changes, and a cell's position is added to its content, so the mean moves
    by the same vector wherever the agent stands (to first order: only the
    blocks' nonlinearities tell cells apart). At initialisation the heads saw
    features whose spread across states was 1/40 of their size, learnt the
    part every state shares first (with Adam, the weights on a constant input
    all move together, a bias with many times the step size) and the policy
    became one action everywhere. So every token's encoding stays in its place
    (pool="flat"), and the encoding of the all-zero observation is subtracted:
    with normalized observations (normalize_obs) zero is the mean observation,
    so what the heads see is what differs from state to state.

    The zero observation rides along as one more row of the same batch.

        >>> rng = np.random.default_rng(0)
        >>> net = build_network("attention", (5, 3), 4, (8,), rng)  # 5 tokens of 3 features
        >>> net(Tensor(np.zeros((2, 5, 3), dtype=np.float32))).shape
        (2, 4)
    """

    def __init__(self, obs_shape: tuple, dim: int, n_heads: int, n_layers: int, rng: np.random.Generator, dtype,
                 causal: bool = False):
        if len(obs_shape) != 2:
            raise ValueError(f"policy='attention' needs (tokens, features) observations, got shape {obs_shape}")
        n_tokens, n_features = obs_shape
        self.encoder = AttentionEncoder(n_features, n_tokens, dim, n_heads, n_layers, pool="flat",
                                        mlp_ratio=TOKEN_MLP_RATIO, rng=rng, dtype=dtype, causal=causal)
        self.out_features = self.encoder.out_features
        self.causal = causal
        self._zero = np.zeros((1, n_tokens, n_features), dtype=dtype)

    def forward(self, x) -> Tensor:
        data = x.data if isinstance(x, Tensor) else np.asarray(x)
        data = data.reshape(len(data), *self._zero.shape[1:])
        h = self.encoder(np.concatenate([data.astype(self._zero.dtype, copy=False), self._zero]))  # (B + 1, T * C)
        n = len(data)
        return h[:n] - h[n:]                                         # (B, T * C) - (1, T * C)

    def attention_received(self) -> np.ndarray:
        """(B, heads, T) from the last call's last block: for time steps (causal) the current step's weights
        over the window; for other tokens the weight each one receives, averaged over the tokens attending."""
        weights = self.encoder.blocks[-1].attn.last_attention[:-1]  # (B, heads, T, T), the zero row dropped
        return weights[:, :, -1] if self.causal else weights.mean(axis=2)


def attention_of(net: Module) -> TokenAttention | None:
    """The TokenAttention a policy network acts through (the actor's in an ActorCritic), or None.

        >>> rng = np.random.default_rng(0)
        >>> attention_of(build_network("attention", (5, 3), 4, (8,), rng)) is not None
        True
        >>> attention_of(build_network("mlp", (4,), 2, (8,), rng)) is None
        True
    """
    if isinstance(net, (ActorCritic, AttentionHead)) and isinstance(net.encoder, TokenAttention):
        return net.encoder
    return None


def attention_weights(net: Module, features: np.ndarray) -> np.ndarray | None:
    """(heads, T) of `attention_of(net)` for one observation's network input (1, ...), or None.

        >>> net = build_network("attention", (5, 3), 4, (8,), np.random.default_rng(0), attention_heads=2)
        >>> attention_weights(net, Tensor(np.zeros((1, 5, 3), dtype=np.float32))).shape  # (heads, tokens)
        (2, 5)
    """
    encoder = attention_of(net)
    if encoder is None:
        return None
    with no_grad():
        encoder(features)
    return encoder.attention_received()[0]


def flat(x) -> Tensor:
    """(B, ...) observations as (B, features) rows, what an MLP reads.

        >>> flat(np.zeros((2, 5, 3), dtype=np.float32)).shape
        (2, 15)
    """
    x = x if isinstance(x, Tensor) else Tensor(x)
    return x if x.ndim == 2 else x.reshape(x.shape[0], -1)


class FlatMLP(Module):
    """An MLP over observations of any shape (B, ...), each flattened: a value network beside an attention policy.

        >>> net = build_network("mlp", (5, 3), 1, (8,), np.random.default_rng(0))
        >>> net.predict(np.zeros((2, 5, 3), dtype=np.float32)).shape
        (2, 1)
    """

    def __init__(self, mlp: MLP):
        self.mlp = mlp

    def forward(self, x) -> Tensor:
        return self.mlp(flat(x))

    def predict(self, x) -> np.ndarray:
        x = np.asarray(x.data if isinstance(x, Tensor) else x)
        return self.mlp.predict(x.reshape(len(x), -1))


class AttentionHead(Module):
    """TokenAttention over observation tokens (B, T, F), then an MLP to `n_outputs`.

        >>> net = build_network("attention", (5, 3), 4, (8,), np.random.default_rng(0))
        >>> isinstance(net, AttentionHead)
        True
    """

    def __init__(self, obs_shape: tuple, n_outputs: int, hidden: tuple, activation: str, rng: np.random.Generator,
                 dim: int, n_heads: int, n_layers: int, output_gain: float | None, dtype, causal: bool = False):
        self.encoder = TokenAttention(obs_shape, dim, n_heads, n_layers, rng, dtype, causal)
        self.head = MLP([self.encoder.out_features, *hidden, n_outputs], activation=activation, rng=rng, dtype=dtype,
                        output_gain=output_gain)

    def forward(self, x: Tensor) -> Tensor:
        return self.head(self.encoder(x))

    def predict(self, x) -> np.ndarray:
        """forward() without a graph; the head takes the MLP's array path (a policy acts once per env step)."""
        with no_grad():
            features = self.encoder(x).data
        return self.head.predict(features)


class GPTPolicy(Module):
    """TinyGPT over a context of token ids (B, T) -> the logits of its last position (B, vocab).

    The action space is the vocabulary (NextToken: action = next token id), so
    `n_outputs` is both the embedding table's and the head's size. Ids may
    arrive as floats (ObsEncoder's float32 batches); they are exact below 2**24.
    `self.gpt` is the language model itself, for full-sequence training.

        >>> net = build_network("gpt", (8,), 10, (), np.random.default_rng(0), gpt_dim=16, gpt_heads=2, gpt_layers=1)
        >>> net.predict(np.zeros((3, 8), dtype=np.int64)).shape  # next-token logits
        (3, 10)
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
                  gpt_dim: int = 64, gpt_heads: int = 4, gpt_layers: int = 2, actor_critic: bool = False,
                  shared: bool = False, causal: bool = False) -> Module:
    """An `mlp` (obs_shape is (features,)), an `attention` network (obs_shape is (tokens, features)) or
    a `gpt` (obs_shape is (context,) token ids below n_outputs; `hidden` and `activation` unused).

    actor_critic: an `ActorCritic` with `n_outputs` logits and a value (`shared`: one trunk);
    `output_gain` does not apply (its heads have their own gains). `causal`: an attention
    network's tokens are time steps (HistoryObservation windows); each attends to the past only.

        >>> build_network("mlp", (4,), 2, (16, 16), np.random.default_rng(0)).predict(np.zeros((1, 4))).shape
        (1, 2)
    """
    if actor_critic:
        check_policy(policy, ACTOR_CRITIC_POLICIES, "actor-critic network")
        return ActorCritic(tuple(obs_shape), n_outputs, hidden, rng, activation=activation, shared=shared,
                           policy=policy, attention_dim=attention_dim, attention_heads=attention_heads,
                           attention_layers=attention_layers, dtype=dtype, causal=causal)
    check_policy(policy)
    if policy == "mlp":
        mlp = MLP([int(np.prod(obs_shape)), *hidden, n_outputs], activation=activation, rng=rng, dtype=dtype,
                  output_gain=output_gain)
        return mlp if len(obs_shape) == 1 else FlatMLP(mlp)
    if policy == "attention":
        return AttentionHead(tuple(obs_shape), n_outputs, tuple(hidden), activation, rng, attention_dim,
                             attention_heads, attention_layers, output_gain, dtype, causal)
    if policy == "gpt":
        if len(obs_shape) != 1:
            raise ValueError(f"policy='gpt' needs a 1-D observation of token ids (context,), e.g. NextToken; "
                             f"got shape {tuple(obs_shape)}")
        return GPTPolicy(int(obs_shape[0]), n_outputs, rng, gpt_dim, gpt_heads, gpt_layers, dtype)


def copy_weights(source: Module, target: Module, tau: float = 1.0) -> None:
    """target <- tau * source + (1 - tau) * target, in place (tau=1: a hard copy).

        >>> rng = np.random.default_rng(0)
        >>> online, target = (build_network("mlp", (2,), 2, (4,), rng) for _ in range(2))
        >>> copy_weights(online, target)
        >>> bool((online.predict(np.ones((1, 2))) == target.predict(np.ones((1, 2)))).all())
        True
    """
    for t, s in zip(target.parameters(), source.parameters()):
        if tau == 1.0:
            t.data[...] = s.data
        else:
            t.data *= 1.0 - tau
            t.data += tau * s.data


# ------------------------------------------------------------ actor-critic
def orthogonal_init(mlp: MLP, rng: np.random.Generator, hidden_gain: float, output_gain: float) -> MLP:
    """Re-initialize an MLP's weights orthogonally, biases at zero (the PPO implementations' init).

        >>> from rl_scratch.nets import MLP
        >>> mlp = orthogonal_init(MLP([4, 4, 2], rng=np.random.default_rng(0)), np.random.default_rng(1), 1.0, 0.01)
        >>> w = mlp.layers[0].weight.data
        >>> bool(np.allclose(w @ w.T, np.eye(4), atol=1e-5)), float(abs(mlp.layers[0].bias.data).max())
        (True, 0.0)
    """
    last = len(mlp.layers) - 1
    for i, layer in enumerate(mlp.layers):
        gain = output_gain if i == last else hidden_gain
        layer.weight.data[...] = nets_init.orthogonal(layer.weight.shape, rng, gain)
        layer.bias.data[...] = 0.0
    return mlp


class ActorCritic(Module):
    """Policy logits and state value from one observation batch.

    policy "mlp": separate actor and critic MLPs over the flat observation, or with
    `shared` one trunk and two linear heads. policy "attention": the actor's MLP reads
    a TokenAttention over (tokens, features) observations and the critic is an MLP
    over the flat observation (with `shared`, both heads read one encoder). Sharing
    the encoder by default was the other half of why attention never learnt
    GridWorld: the value loss's gradients dominated it, and the policy's entropy
    never fell (PPO, seed 0: stuck at -1.0 shared, the optimum after 4k steps
    apart). The critic needs no attention of its own: a value is a function of the
    observation an MLP learns as well, and a second encoder doubled the cost of
    every step (agents/tuned.py has the runs). Orthogonal init:
    gain sqrt(2) for hidden layers, 0.01 for the policy head (a near-uniform first
    policy), 1.0 for the value head.

        >>> net = build_network("mlp", (4,), 2, (8,), np.random.default_rng(0), actor_critic=True, shared=True)
        >>> [a.shape for a in net.predict(np.zeros((5, 4)))]
        [(5, 2), (5,)]
    """

    def __init__(self, obs_shape: tuple, n_actions: int, hidden: tuple, rng: np.random.Generator,
                 activation: str = "tanh", shared: bool = False, policy: str = "mlp", attention_dim: int = 32,
                 attention_heads: int = 2, attention_layers: int = 1, dtype=np.float32, causal: bool = False):
        hidden = tuple(hidden)
        self.encoder = None
        in_features = critic_in = int(np.prod(obs_shape))
        if policy == "attention":
            self.encoder = TokenAttention(obs_shape, attention_dim, attention_heads, attention_layers, rng, dtype,
                                          causal)
            in_features = self.encoder.out_features
            critic_in = in_features if shared else critic_in
        elif policy != "mlp":
            check_policy(policy, ACTOR_CRITIC_POLICIES, "actor-critic network")
        self.critic_reads_encoder = shared
        root2 = math.sqrt(2.0)

        def mlp(sizes, output_gain, output_activation=None):
            net = MLP(sizes, activation=activation, output_activation=output_activation, rng=rng, dtype=dtype)
            return orthogonal_init(net, rng, root2, output_gain)

        self.body = None
        if shared and hidden:
            self.body = mlp([in_features, *hidden], root2, output_activation=activation)
            in_features = critic_in = hidden[-1]
            hidden = ()
        self.actor = mlp([in_features, *hidden, n_actions], 0.01)
        self.critic = mlp([critic_in, *hidden, 1], 1.0)

    def features(self, x: Tensor) -> Tensor:
        h = self.encoder(x) if self.encoder is not None else x
        return self.body(h) if self.body is not None else h

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """(logits (B, n_actions), values (B,))."""
        h = self.features(x)
        values = self.critic(h if self.critic_reads_encoder or self.encoder is None else flat(x))
        return self.actor(h), values.reshape(values.shape[0])

    def logits(self, x: Tensor) -> Tensor:
        """The policy head alone (acting needs no value)."""
        return self.actor(self.features(x))

    def predict(self, x) -> tuple[np.ndarray, np.ndarray]:
        """(logits, values) as plain arrays, computed without a graph."""
        if not isinstance(x, Tensor):
            x = Tensor(np.asarray(x, dtype=self.actor.layers[0].weight.dtype))
        with no_grad():
            logits, values = self(x)
        return logits.data, values.data
