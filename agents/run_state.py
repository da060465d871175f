"""What makes `learn(N); learn(M)` the same run as `learn(N + M)`, and a checkpoint resume exactly.

A run's envs are seeded once, by the first `learn` call. After that the agent's
`Run` (saved in its checkpoints as plain values and arrays) carries

- the env's state (`env_state.get_env_state`), so later calls and resumed
  processes continue the episodes in progress instead of starting new ones;
- the agent's own loop variables (`vars`): the current observation, the
  episode's return and length, unfinished episodes, a partial rollout;
- `pending`: callback records not delivered yet (a callback that returns False
  stops delivery; the rest follow at the next `learn`).

An env whose state cannot be saved without pickling (see env_state.py) makes a
later `learn` start fresh episodes, and says so in one line on stderr.

`open_env` / `open_vector_env` turn what `learn` was given (an env, a factory,
or a vector env) into the env it steps.
"""

from __future__ import annotations

import sys
from types import SimpleNamespace

import gymnasium
import numpy as np

from .checkpoint import ensure_compatible
from .env_state import get_env_state, set_env_state, unresumable_reason


LEARN_FIX = "train on an env with the spaces the agent was built for (build the agent from this env's spaces)"


def _describe_env(env) -> str:
    spec = getattr(env, "spec", None)
    return spec.id if spec is not None else type(env.unwrapped if hasattr(env, "unwrapped") else env).__name__


class Run:
    """The state of a run between `learn` calls (see the module docstring).

        >>> import gymnasium as gym, numpy as np
        >>> run = Run()
        >>> obs, info = run.begin(gym.make("FrozenLake-v1"), np.random.default_rng(0))  # fresh: seeded once
        >>> run.end()
        >>> run.begin(gym.make("FrozenLake-v1"), np.random.default_rng(0)) is None  # continues the episode
        True
    """

    def __init__(self):
        self.started = False
        self.env = None          # the env being stepped, during learn
        self.env_state = None    # its snapshot, between learn calls
        self.vars: dict = {}
        self.pending: list[dict] = []
        self._last_env = None    # the env object the last learn stepped (reused as is if given again)

    # ------------------------------------------------------------- envs
    def begin(self, env, rng: np.random.Generator):
        """Start stepping `env`. None when it continues the run's episodes (`vars` says where);
        else (obs, info) of a fresh start: the first call of a run seeds the env and its
        action space from `rng`, once."""
        self.env = env
        if self.started and (env is self._last_env or self.env_state is not None):
            if env is not self._last_env:
                set_env_state(env, self.env_state)
            return None
        if self.started:
            print(f"rl_scratch: the state of {_describe_env(env)} could not be saved "
                  f"({unresumable_reason(env)}): this run continues with fresh episodes", file=sys.stderr)
        seed = int(rng.integers(2**31 - 1))
        obs, info = env.reset(seed=seed)
        env.action_space.seed(int(rng.integers(2**31 - 1)))
        self.started = True
        self.vars, self.pending = {}, []
        return obs, info

    def end(self) -> None:
        """Stop stepping the env: keep its snapshot for the next learn call."""
        if self.env is not None:
            self.env_state = get_env_state(self.env)
            self._last_env = self.env
        self.env = None

    # ---------------------------------------------------------- records
    def deliver(self, callback) -> bool:
        """Hand the pending records to `callback` in order; False once it returns False (the rest wait)."""
        while self.pending:
            record = self.pending.pop(0)
            if callback is not None and callback(record) is False:
                return False
        return True

    # ------------------------------------------------------ checkpoints
    def state_dict(self) -> dict:
        env_state = get_env_state(self.env) if self.env is not None else self.env_state
        return {"started": self.started, "env": env_state, "vars": self.vars, "pending": list(self.pending)}

    def load_state_dict(self, state: dict) -> None:
        self.started = bool(state["started"])
        self.env_state, self.vars, self.pending = state["env"], dict(state["vars"]), list(state["pending"])
        self.env = self._last_env = None


# -------------------------------------------------------------- opening
def is_vector_env(env) -> bool:
    """Whether `env` is a Gymnasium vector env (learn steps it as is).

        >>> import gymnasium as gym
        >>> is_vector_env(gym.make("CartPole-v1")), is_vector_env(gym.make_vec("CartPole-v1", num_envs=2))
        (False, True)
    """
    return isinstance(env, gymnasium.vector.VectorEnv)


def open_env(env, agent) -> tuple:
    """(env, owned) for an agent that steps one env: `env` itself, or a factory's env (owned: closed after).

    A vector env of one SyncVectorEnv'd env is stepped through that env; other
    vector envs raise ValueError. The env's spaces must be the agent's.

        >>> import gymnasium as gym
        >>> from rl_scratch.agents import QLearning
        >>> agent = QLearning(gym.spaces.Discrete(16), gym.spaces.Discrete(4))
        >>> env, owned = open_env(lambda: gym.make("FrozenLake-v1"), agent)
        >>> owned
        True
    """
    owned = False
    if is_vector_env(env):
        if not isinstance(env, gymnasium.vector.SyncVectorEnv) or env.num_envs != 1:
            raise ValueError(f"{agent.name} steps one env; got a vector env of {env.num_envs} envs: pass an env, "
                             "a function that makes one, or a SyncVectorEnv of one env")
        env = env.envs[0]
    elif not isinstance(env, gymnasium.Env):
        if not callable(env):
            raise TypeError(f"learn() takes an env, a function that makes one, or a vector env; got {env!r}")
        env, owned = env(), True
        if not isinstance(env, gymnasium.Env):
            raise TypeError(f"the env factory given to learn() returned {env!r}, not a gymnasium.Env")
    try:
        ensure_compatible(agent, env, LEARN_FIX)
    except ValueError:
        if owned:
            env.close()
        raise
    return env, owned


def same_step_vector_env(make_env, n_envs: int, asynchronous: bool = False):
    """n copies of make_env() in a Sync (or Async: subprocesses) vector env with same-step autoreset.

        >>> import gymnasium as gym
        >>> envs = same_step_vector_env(lambda: gym.make("CartPole-v1"), 3)
        >>> envs.num_envs, envs.metadata["autoreset_mode"].name
        (3, 'SAME_STEP')
    """
    fns = [make_env] * n_envs
    mode = gymnasium.vector.AutoresetMode.SAME_STEP
    if asynchronous:
        return gymnasium.vector.AsyncVectorEnv(fns, copy=False, autoreset_mode=mode)
    return gymnasium.vector.SyncVectorEnv(fns, copy=False, autoreset_mode=mode)


def open_vector_env(env, agent, n_envs: int, asynchronous: bool = False) -> tuple:
    """(vector env, close) for an agent that steps `n_envs` envs at once.

    A vector env must have `n_envs` envs and same-step autoreset (the step that
    ends an episode returns the reset observation). A factory is called
    `n_envs` times. One env is the first of the vector env; the others are
    made from its `env.spec`. `close()` closes what `learn` made, not what it was given.

        >>> import gymnasium as gym
        >>> from rl_scratch.agents import PPO
        >>> env = gym.make("CartPole-v1")
        >>> envs, close = open_vector_env(env, PPO(env.observation_space, env.action_space), 4)
        >>> envs.num_envs, envs.envs[0] is env
        (4, True)
    """
    mode = gymnasium.vector.AutoresetMode.SAME_STEP
    if is_vector_env(env):
        if env.num_envs != n_envs:
            raise ValueError(f"{agent.name} is configured for n_envs={n_envs}; the vector env given has "
                             f"{env.num_envs}: set n_envs={env.num_envs} in the config, or pass a factory")
        if env.metadata.get("autoreset_mode") != mode:
            raise ValueError(f"{agent.name} needs a vector env with autoreset_mode=SAME_STEP, got "
                             f"{env.metadata.get('autoreset_mode')}: create it with vector_kwargs="
                             "{'autoreset_mode': gymnasium.vector.AutoresetMode.SAME_STEP}, or pass a factory")
        vector, close = env, (lambda: None)
    elif isinstance(env, gymnasium.Env):
        if n_envs > 1 and env.spec is None:
            raise ValueError(f"{agent.name} steps n_envs={n_envs} envs and cannot copy {env!r} (it has no spec): "
                             "pass a function that makes the env instead")
        given = env
        fns = [lambda: given] + [lambda: gymnasium.make(given.spec)] * (n_envs - 1)
        vector = gymnasium.vector.SyncVectorEnv(fns, copy=False, autoreset_mode=mode)

        def close():
            for copy in vector.envs[1:]:
                copy.close()
    elif callable(env):
        vector = same_step_vector_env(env, n_envs, asynchronous)
        close = vector.close
    else:
        raise TypeError(f"learn() takes an env, a function that makes one, or a vector env; got {env!r}")
    single = SimpleNamespace(observation_space=vector.single_observation_space,
                             action_space=vector.single_action_space)
    try:
        ensure_compatible(agent, single, LEARN_FIX)
    except ValueError:
        close()
        raise
    return vector, close
