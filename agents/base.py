"""The agent interface every agent implements, declared once.

Callers (the trainer, `play`, the GridWorld overlay, `evaluate`) use these
methods and nothing else, so they never probe an agent with hasattr/getattr:

    act(obs, deterministic=False, rng=None) -> int      one observation -> one action
    predict(obs, deterministic=True)        -> (actions, state)
                                            one observation or a batch (Stable-Baselines3's shape)
    learn(env, total_steps, callback=None)  -> self
    save(path) / Agent.load(path)           checkpoints: see checkpoint.py
    state_values(observations)              V(s) per observation, or None
    action_values(observations)             Q(s, .) per observation, or None
    policy_probs(observations)              pi(. | s) per observation, or None

The optional three return None for an agent that keeps no such estimate.
What a checkpoint holds is declared, not written out per agent: `saved` names
the attributes (arrays, generators, networks and optimizers, plain values) that
`save` writes and `load` restores (one implementation, in checkpoint.py).

    >>> import gymnasium as gym
    >>> from rl_scratch.agents import QLearning
    >>> env = gym.make("FrozenLake-v1")
    >>> agent = QLearning(env.observation_space, env.action_space, seed=0)
    >>> isinstance(agent, Agent), agent.state_values([0, 1]).shape
    (True, (2,))
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import ClassVar

import numpy as np


class Agent(ABC):
    """Base class of every agent: the interface above, plus the shared `predict`, `save` and `load`.

    Subclasses set `name` (the registry key), `Config` (their config dataclass) and
    `saved`, and define `act` and `learn`; the constructor signature is
    `(observation_space, action_space, config=None, seed=0)`.

        >>> import gymnasium as gym
        >>> from rl_scratch.agents import DQN
        >>> env = gym.make("CartPole-v1")
        >>> agent = DQN(env.observation_space, env.action_space, DQN.Config(hidden=(8,)), seed=0)
        >>> obs, _ = env.reset(seed=0)
        >>> agent.act(obs, deterministic=True) in (0, 1)
        True
    """

    name: ClassVar[str] = ""
    Config: ClassVar[type] = None
    saved: ClassVar[tuple[str, ...]] = ()
    """attributes a checkpoint holds (see checkpoint.py for how each kind is stored)"""
    optional: ClassVar[tuple[str, ...]] = ()
    """attributes of `saved` a checkpoint may leave out (the fresh agent's value stays)"""

    observation_space = None
    action_space = None
    config = None
    steps = 0
    episodes = 0

    # ---------------------------------------------------------------- acting
    @abstractmethod
    def act(self, obs, deterministic: bool = False, rng: np.random.Generator | None = None) -> int:
        """The action for one observation; `rng` (default: the agent's own) drives any sampling."""

    def predict(self, obs, deterministic: bool = True, state=None, rng: np.random.Generator | None = None):
        """(actions, state) for one observation or a batch, in Stable-Baselines3's shape.

        One observation gives one int; a batch (a list, or an array with one more
        leading axis than the observation space) gives an int64 array. `state` is
        returned unchanged (None): these policies keep no recurrent state.

            >>> import gymnasium as gym
            >>> from rl_scratch.agents import PPO
            >>> env = gym.make("CartPole-v1")
            >>> agent = PPO(env.observation_space, env.action_space, seed=0)
            >>> import numpy as np
            >>> actions, _ = agent.predict(np.zeros((3, 4), dtype=np.float32))
            >>> actions.shape
            (3,)
        """
        from .common import is_batch

        if not is_batch(self.observation_space, obs):
            return self.act(obs, deterministic=deterministic, rng=rng), state
        actions = [self.act(o, deterministic=deterministic, rng=rng) for o in obs]
        return np.asarray(actions, dtype=np.int64), state

    # --------------------------------------------------------------- learning
    @abstractmethod
    def learn(self, env, total_steps: int, callback=None, progress_bar: bool = False):
        """Train for `total_steps` more env steps on `env` (an env, a function that makes one, or a
        vector env); `callback` as in callbacks.py (a callable, or a list); returns self."""

    # --------------------------------------------------- optional estimates
    def state_values(self, observations) -> np.ndarray | None:
        """V(s) for each observation of a batch, or None when the agent keeps no value estimate."""
        q = self.action_values(observations)
        return None if q is None else q.max(axis=1)

    def action_values(self, observations) -> np.ndarray | None:
        """Q(s, a) for each observation of a batch (B, n_actions), or None."""
        return None

    def policy_probs(self, observations) -> np.ndarray | None:
        """pi(a | s) for each observation of a batch (B, n_actions), or None."""
        return None

    def attention_weights(self, observation) -> np.ndarray | None:
        """For one observation, (heads, tokens): what the policy's attention looked at when acting on it
        (see policies.TokenAttention.attention_received), or None for a policy without attention."""
        return None

    # ------------------------------------------------------------ checkpoints
    def save(self, path) -> None:
        """Write a checkpoint (an .npz of plain arrays and JSON metadata, atomically).

            >>> import gymnasium as gym, tempfile, os
            >>> from rl_scratch.agents import QLearning
            >>> env = gym.make("FrozenLake-v1")
            >>> agent = QLearning(env.observation_space, env.action_space, seed=0)
            >>> path = os.path.join(tempfile.mkdtemp(), "q.npz")
            >>> agent.save(path)
            >>> QLearning.load(path).q_table.shape
            (16, 4)
        """
        from .checkpoint import save_agent

        save_agent(self, path)

    @classmethod
    def load(cls, path):
        """The agent saved at `path`; a checkpoint of another agent type raises ValueError naming both."""
        from .checkpoint import load_agent_checkpoint

        return load_agent_checkpoint(cls, path)

    def checkpoint_fields(self) -> tuple[str, ...]:
        """The attributes this checkpoint holds (`saved`; an agent may leave out what it cannot afford)."""
        return self.saved
