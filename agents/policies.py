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
                  gpt_dim: int = 64, gpt_heads: int = 4, gpt_layers: int = 2, actor_critic: bool = False,
                  shared: bool = False) -> Module:
    """An `mlp` (obs_shape is (features,)), an `attention` network (obs_shape is (tokens, features)) or
    a `gpt` (obs_shape is (context,) token ids below n_outputs; `hidden` and `activation` unused).

    actor_critic: an `ActorCritic` with `n_outputs` logits and a value (`shared`: one trunk);
    `output_gain` does not apply (its heads have their own gains).
    """
    if actor_critic:
        check_policy(policy, ACTOR_CRITIC_POLICIES, "actor-critic network")
        return ActorCritic(tuple(obs_shape), n_outputs, hidden, rng, activation=activation, shared=shared,
                           policy=policy, attention_dim=attention_dim, attention_heads=attention_heads,
                           attention_layers=attention_layers, dtype=dtype)
    check_policy(policy)
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


def copy_weights(source: Module, target: Module, tau: float = 1.0) -> None:
    """target <- tau * source + (1 - tau) * target, in place (tau=1: a hard copy)."""
    for t, s in zip(target.parameters(), source.parameters()):
        if tau == 1.0:
            t.data[...] = s.data
        else:
            t.data *= 1.0 - tau
            t.data += tau * s.data


# ------------------------------------------------------------ actor-critic
def orthogonal_init(mlp: MLP, rng: np.random.Generator, hidden_gain: float, output_gain: float) -> MLP:
    """Re-initialize an MLP's weights orthogonally, biases at zero (the PPO implementations' init)."""
    last = len(mlp.layers) - 1
    for i, layer in enumerate(mlp.layers):
        gain = output_gain if i == last else hidden_gain
        layer.weight.data[...] = nets_init.orthogonal(layer.weight.shape, rng, gain)
        layer.bias.data[...] = 0.0
    return mlp


class ActorCritic(Module):
    """Policy logits and state value from one observation batch.

    policy "mlp": separate actor and critic MLPs over the flat observation, or with
    `shared` one trunk and two linear heads. policy "attention": an AttentionEncoder
    over (tokens, features) observations, shared by both heads. Orthogonal init:
    gain sqrt(2) for hidden layers, 0.01 for the policy head (a near-uniform first
    policy), 1.0 for the value head.
    """

    def __init__(self, obs_shape: tuple, n_actions: int, hidden: tuple, rng: np.random.Generator,
                 activation: str = "tanh", shared: bool = False, policy: str = "mlp", attention_dim: int = 32,
                 attention_heads: int = 2, attention_layers: int = 1, dtype=np.float32):
        hidden = tuple(hidden)
        self.encoder = None
        if policy == "attention":
            if len(obs_shape) != 2:
                raise ValueError(f"policy='attention' needs (tokens, features) observations, got shape {obs_shape}")
            n_tokens, n_features = obs_shape
            self.encoder = AttentionEncoder(n_features, n_tokens, attention_dim, attention_heads, attention_layers,
                                            rng=rng, dtype=dtype)
            in_features = attention_dim
        elif policy == "mlp":
            in_features = int(np.prod(obs_shape))
        else:
            check_policy(policy, ACTOR_CRITIC_POLICIES, "actor-critic network")
        root2 = math.sqrt(2.0)

        def mlp(sizes, output_gain, output_activation=None):
            net = MLP(sizes, activation=activation, output_activation=output_activation, rng=rng, dtype=dtype)
            return orthogonal_init(net, rng, root2, output_gain)

        self.body = None
        if shared and hidden:
            self.body = mlp([in_features, *hidden], root2, output_activation=activation)
            in_features, hidden = hidden[-1], ()
        self.actor = mlp([in_features, *hidden, n_actions], 0.01)
        self.critic = mlp([in_features, *hidden, 1], 1.0)

    def features(self, x: Tensor) -> Tensor:
        h = self.encoder(x) if self.encoder is not None else x
        return self.body(h) if self.body is not None else h

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """(logits (B, n_actions), values (B,))."""
        h = self.features(x)
        values = self.critic(h)
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
