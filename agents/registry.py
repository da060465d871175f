"""Agent names -> classes, for the trainer's `--agent` and for loading any checkpoint."""

from __future__ import annotations

import difflib

from .a2c import A2C
from .checkpoint import read_meta_and_arrays
from .common import evaluate
from .dqn import DQN
from .planning import PolicyIteration, ValueIteration
from .ppo import PPO
from .qlearning import SARSA, QLearning
from .reinforce import REINFORCE
from .supervised import Supervised

AGENTS = {cls.name: cls for cls in (QLearning, SARSA, ValueIteration, PolicyIteration, DQN, REINFORCE, A2C, PPO, Supervised)}


def get_agent(name: str):
    """The agent class called `name`; an unknown name raises ValueError with close matches.

        >>> get_agent("ppo").__name__
        'PPO'
        >>> get_agent("dqm")
        Traceback (most recent call last):
        ...
        ValueError: unknown agent 'dqm'. Did you mean 'dqn'? Known agents: a2c, dqn, ...
    """
    try:
        return AGENTS[name]
    except KeyError:
        close = difflib.get_close_matches(name, AGENTS, n=3)
        hint = f" Did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
        raise ValueError(f"unknown agent {name!r}.{hint} Known agents: {', '.join(sorted(AGENTS))}") from None


def load_agent(path):
    """Load a checkpoint of any agent type (dispatches on the agent name stored in the file).

        >>> import gymnasium as gym, os, tempfile
        >>> from rl_scratch.agents import SARSA
        >>> path = os.path.join(tempfile.mkdtemp(), "agent.npz")
        >>> SARSA(gym.spaces.Discrete(16), gym.spaces.Discrete(4)).save(path)
        >>> type(load_agent(path)).__name__
        'SARSA'
    """
    meta, _ = read_meta_and_arrays(path)
    name = meta["agent"]
    if name not in AGENTS:
        raise ValueError(f"{path} holds a {name!r} agent, which this rl_scratch does not know "
                         f"(known: {', '.join(sorted(AGENTS))})")
    return AGENTS[name].load(path)


__all__ = ["AGENTS", "get_agent", "load_agent", "evaluate"]
