"""Gymnasium environments: GridWorld, CueCorridor (a memory task), Iris and NextToken.

`import rl_scratch` registers the `rl_scratch/...` ids (see `registration.ENV_SPECS`).
The classes load on first access, so importing this package stays cheap and
never imports pygame.

    >>> import gymnasium as gym
    >>> import rl_scratch
    >>> [env_id for env_id in ENV_SPECS if "GridWorld" not in env_id]
    ['rl_scratch/CueCorridor-v0', 'rl_scratch/Iris-v0', 'rl_scratch/NextToken-v0']
    >>> env = gym.make("rl_scratch/GridWorld-8x8-v0", obs_mode="coords")
    >>> env.observation_space.shape, type(env.unwrapped).__name__
    ((2,), 'GridWorld')
"""

from __future__ import annotations

import importlib

from rl_scratch.envs.registration import ENV_SPECS, register_envs

_LAZY = {
    "GridWorld": "rl_scratch.envs.gridworld",
    "MAPS": "rl_scratch.envs.gridworld",
    "generate_map": "rl_scratch.envs.gridworld",
    "CueCorridor": "rl_scratch.envs.memory",
    "HistoryObservation": "rl_scratch.envs.history",
    "Iris": "rl_scratch.envs.iris",
    "NextToken": "rl_scratch.envs.next_token",
    "CharTokenizer": "rl_scratch.envs.next_token",
    "IsSuccess": "rl_scratch.envs.success",
}

__all__ = ["ENV_SPECS", "register_envs", *_LAZY]


def __getattr__(name: str):
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(__all__))
