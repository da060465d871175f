"""The state of an env in the middle of an episode, as plain values and arrays (never pickles).

A checkpoint holds it so that a resumed run continues the episodes in progress
exactly where they were, instead of starting fresh ones. Supported:

- envs that define `get_state()` / `set_state(state)` (this project's GridWorld,
  Iris and NextToken);
- the Gymnasium envs the README uses, by their attributes (`ATTRIBUTES`):
  CartPole, Acrobot, FrozenLake, Taxi, CliffWalking;
- the wrappers `gymnasium.make` adds (TimeLimit's step count, OrderEnforcing)
  and wrappers that keep no state of their own;
- a SyncVectorEnv of such envs.

Always included: the env's `np_random` and its action space's generator. Anything
else (an unknown env class, a stateful wrapper such as NormalizeObservation, an
AsyncVectorEnv whose envs live in other processes) gives None from `get_env_state`:
a resumed run then starts fresh episodes (see `run_state.Run.begin`).

    >>> import gymnasium as gym
    >>> env = gym.make("CartPole-v1")
    >>> _ = env.reset(seed=0); _ = env.step(0)
    >>> state = get_env_state(env)
    >>> obs_a = env.step(1)[0]
    >>> other = gym.make("CartPole-v1"); _ = other.reset(seed=5)
    >>> set_env_state(other, state)
    >>> bool((other.step(1)[0] == obs_a).all())
    True
"""

from __future__ import annotations

import numpy as np
from gymnasium import Wrapper
from gymnasium.vector import SyncVectorEnv, VectorEnv

# Gymnasium env classes: the attributes that, with np_random, make up an episode in progress.
ATTRIBUTES = {
    "CartPoleEnv": ("state", "steps_beyond_terminated"),
    "AcrobotEnv": ("state",),
    "FrozenLakeEnv": ("s", "lastaction"),
    "TaxiEnv": ("s", "lastaction", "fickle_step", "taxi_orientation"),
    "CliffWalkingEnv": ("s", "lastaction"),
}
# Wrappers and their state; a wrapper not listed here and not in STATELESS_WRAPPERS makes an env unresumable.
WRAPPER_ATTRIBUTES = {"TimeLimit": ("_elapsed_steps",), "OrderEnforcing": ("_has_reset",),
                      "HistoryObservation": ("window",)}
# Wrappers that only check the first calls: a restored env has passed those checks already.
CHECKS_DONE = {"PassiveEnvChecker": {"checked_reset": True, "checked_step": True, "checked_data_reuse": True,
                                     "_previous_data": None}}
STATELESS_WRAPPERS = {"PassiveEnvChecker", "EnvCompatibility", "FlattenObservation", "TransformObservation",
                      "TransformReward", "TransformAction", "ClipAction", "RescaleAction", "DtypeObservation",
                      "ReshapeObservation", "RescaleObservation", "FilterObservation", "ClipReward",
                      "RenderCollection", "HumanRendering", "RenderEvery", "IsSuccess"}


def _copy(value):
    return value.copy() if isinstance(value, np.ndarray) else value


def _wrappers(env) -> list:
    chain = []
    while isinstance(env, Wrapper):
        chain.append(env)
        env = env.env
    return chain


def unresumable_reason(env) -> str | None:
    """Why `env`'s state cannot be saved as plain values, or None when it can.

        >>> import gymnasium as gym
        >>> unresumable_reason(gym.make("CartPole-v1")) is None
        True
        >>> unresumable_reason(gym.wrappers.NormalizeObservation(gym.make("CartPole-v1")))
        'wrapper NormalizeObservation has state rl_scratch cannot save'
    """
    if isinstance(env, VectorEnv):
        if not isinstance(env, SyncVectorEnv):
            return f"{type(env).__name__} keeps its envs in other processes"
        reasons = [unresumable_reason(e) for e in env.envs]
        return next((r for r in reasons if r is not None), None)
    for wrapper in _wrappers(env):
        name = type(wrapper).__name__
        if name not in WRAPPER_ATTRIBUTES and name not in STATELESS_WRAPPERS:
            return f"wrapper {name} has state rl_scratch cannot save"
    base = env.unwrapped
    if callable(getattr(base, "get_state", None)) and callable(getattr(base, "set_state", None)):
        return None
    if type(base).__name__ not in ATTRIBUTES:
        return f"{type(base).__name__} does not define get_state()/set_state()"
    return None


def get_env_state(env, action_space: bool = True) -> dict | None:
    """A snapshot of `env` (a dict of plain values and arrays), or None when it cannot be taken.

    `action_space`: include its action space's generator (a vector env samples from its own
    batched space, never from its envs' spaces, which nothing seeds).

        >>> import gymnasium as gym
        >>> env = gym.make("FrozenLake-v1")
        >>> _ = env.reset(seed=0)
        >>> int(get_env_state(env)["env"]["s"])
        0
    """
    if unresumable_reason(env) is not None:
        return None
    if isinstance(env, VectorEnv):
        return {"envs": [get_env_state(e, action_space=False) for e in env.envs],
                "action_space_rng": env.action_space.np_random.bit_generator.state,
                "autoreset": env._autoreset_envs.copy()}
    base = env.unwrapped
    if callable(getattr(base, "get_state", None)):
        own = base.get_state()
    else:
        own = {name: _copy(getattr(base, name, None)) for name in ATTRIBUTES[type(base).__name__]}
    wrappers = [{name: getattr(w, name) for name in WRAPPER_ATTRIBUTES.get(type(w).__name__, ())}
                for w in _wrappers(env)]
    state = {"env": own, "wrappers": wrappers, "np_random": base.np_random.bit_generator.state}
    if action_space:
        state["action_space_rng"] = env.action_space.np_random.bit_generator.state
    return state


def set_env_state(env, state: dict) -> None:
    """Put a `get_env_state` snapshot into an env made the same way; a mismatch raises ValueError.

        >>> import gymnasium as gym
        >>> env = gym.make("FrozenLake-v1", is_slippery=False)
        >>> _ = env.reset(seed=0); _ = env.step(1)
        >>> copy = gym.make("FrozenLake-v1", is_slippery=False)
        >>> set_env_state(copy, get_env_state(env))
        >>> copy.step(1)[0] == env.step(1)[0]
        True
    """
    if isinstance(env, VectorEnv):
        if not isinstance(env, SyncVectorEnv) or len(env.envs) != len(state["envs"]):
            raise ValueError(f"the saved vector env had {len(state['envs'])} envs; this one is {env!r}")
        for sub_env, sub_state in zip(env.envs, state["envs"]):
            set_env_state(sub_env, sub_state)
        env.action_space.np_random.bit_generator.state = state["action_space_rng"]
        env._autoreset_envs[...] = state["autoreset"]
        return
    wrappers = _wrappers(env)
    if len(wrappers) != len(state["wrappers"]):
        raise ValueError(f"the saved env had {len(state['wrappers'])} wrappers; this one has {len(wrappers)}")
    base = env.unwrapped
    if callable(getattr(base, "set_state", None)):
        base.set_state(state["env"])
    else:
        for name, value in state["env"].items():
            current = getattr(base, name, None)
            setattr(base, name, np.array(value, dtype=current.dtype) if isinstance(current, np.ndarray)
                    and value is not None else value)
    for wrapper, values in zip(wrappers, state["wrappers"]):
        for name, value in {**CHECKS_DONE.get(type(wrapper).__name__, {}), **values}.items():
            setattr(wrapper, name, value)
    base.np_random.bit_generator.state = state["np_random"]
    if "action_space_rng" in state:
        env.action_space.np_random.bit_generator.state = state["action_space_rng"]
