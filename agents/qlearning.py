"""Tabular Q-learning (off-policy TD control) and SARSA (on-policy TD control).

Reference: Sutton & Barto, Reinforcement Learning (2nd ed.), sections 6.4-6.5.
Spaces: Discrete observations (one integer state) and Discrete actions.

    Q-learning: Q(s,a) += lr * (r + gamma * (1 - terminated) * max_a' Q(s',a') - Q(s,a))
    SARSA:      Q(s,a) += lr * (r + gamma * (1 - terminated) * Q(s',a')         - Q(s,a))

a' is the epsilon-greedy action actually taken next. A time-limit truncation is not
terminal: it still bootstraps from Q(s', .). Epsilon and the learning rate follow
schedules over env steps.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .base import Agent
from .callbacks import as_callback
from .common import Schedule, check_total_steps, greedy, require_discrete_actions, require_discrete_observations
from .run_state import Run, open_env


@dataclass
class QLearningConfig:
    """The settings of Q-learning and SARSA, one documented field each; an invalid value raises ValueError at once.

        >>> QLearningConfig(lr=0.5).lr_end
        0.01
    """

    gamma: float = 0.99
    """discount factor"""
    lr: float = 0.1
    """learning rate (step size) at the start"""
    lr_end: float = 0.01
    """learning rate after `lr_decay_steps` env steps"""
    lr_decay_steps: int = 100_000
    """env steps over which the learning rate decays from lr to lr_end"""
    lr_schedule: str = "linear"
    """how the learning rate decays: linear, exponential or constant"""
    epsilon_start: float = 1.0
    """exploration rate at the start"""
    epsilon_end: float = 0.05
    """exploration rate after `epsilon_decay_steps` env steps"""
    epsilon_decay_steps: int = 50_000
    """env steps over which epsilon decays"""
    epsilon_schedule: str = "linear"
    """how epsilon decays: linear, exponential or constant"""
    initial_q: float = 0.0
    """initial value of every Q(s, a) (optimistic values encourage exploration)"""

    def __post_init__(self):
        if not 0 <= self.gamma <= 1:
            raise ValueError(f"gamma must be in [0, 1], got {self.gamma}")
        for name in ("lr", "lr_end"):
            if not 0 < getattr(self, name) <= 1:
                raise ValueError(f"{name} must be in (0, 1], got {getattr(self, name)}")
        for name in ("epsilon_start", "epsilon_end"):
            if not 0 <= getattr(self, name) <= 1:
                raise ValueError(f"{name} must be in [0, 1], got {getattr(self, name)}")


class QLearning(Agent):
    """Tabular Q-learning (see the module docstring).

        >>> import gymnasium as gym
        >>> env = gym.make("FrozenLake-v1", is_slippery=False)
        >>> agent = QLearning(env.observation_space, env.action_space, seed=0).learn(env, 5000)
        >>> agent.q_table.shape, agent.act(0, deterministic=True) in (1, 2)  # down or right from the start
        ((16, 4), True)
    """

    name = "qlearning"
    Config = QLearningConfig
    saved = ("q_table", "steps", "episodes", "rng", "run")
    on_policy = False  # SARSA bootstraps from the action it takes next

    def __init__(self, observation_space, action_space, config: QLearningConfig | None = None, seed: int = 0):
        self.config = config if config is not None else self.Config()
        self.observation_space, self.action_space = observation_space, action_space
        self.n_states = require_discrete_observations(observation_space, self.name)
        self.n_actions = require_discrete_actions(action_space, self.name)
        self.rng = np.random.default_rng(seed)
        self.q_table = np.full((self.n_states, self.n_actions), self.config.initial_q, dtype=np.float64)
        self.steps = 0
        self.episodes = 0
        c = self.config
        self.epsilon_schedule = Schedule(c.epsilon_start, c.epsilon_end, c.epsilon_decay_steps, c.epsilon_schedule)
        self.lr_schedule = Schedule(c.lr, c.lr_end, c.lr_decay_steps, c.lr_schedule)
        self.run = Run()

    @property
    def epsilon(self) -> float:
        return self.epsilon_schedule(self.steps)

    def _state(self, obs) -> int:
        try:
            state = int(obs)
        except (TypeError, ValueError):
            raise ValueError(f"expected one observation from {self.observation_space!r} (an integer state), "
                             f"got {obs!r}") from None
        if state != obs or not 0 <= state < self.n_states:
            raise ValueError(f"observation {obs!r} is not a state of {self.observation_space!r}")
        return state

    def act(self, obs, deterministic: bool = False, rng: np.random.Generator | None = None) -> int:
        state = self._state(obs)
        rng = self.rng if rng is None else rng
        if not deterministic and rng.random() < self.epsilon:
            return int(rng.integers(self.n_actions))
        return greedy(self.q_table[state], rng)

    def action_values(self, observations) -> np.ndarray:
        return self.q_table[[self._state(o) for o in observations]]

    def _explore(self, row: list, epsilon: float) -> int:
        """Epsilon-greedy on one Q-table row held as a Python list (list ops beat NumPy on 4 numbers)."""
        if self.rng.random() < epsilon:
            return int(self.rng.random() * self.n_actions)
        best = max(row)
        if row.count(best) == 1:
            return row.index(best)
        ties = [a for a, value in enumerate(row) if value == best]
        return ties[int(self.rng.random() * len(ties))]

    def learn(self, env, total_steps: int, callback=None, progress_bar: bool = False):
        """Run `total_steps` more env steps on `env` (an env, a function that makes one, or a
        SyncVectorEnv of one env); `callback(record)` after each episode, False stops.

            >>> import gymnasium as gym
            >>> agent = QLearning(gym.spaces.Discrete(16), gym.spaces.Discrete(4), seed=0)
            >>> agent.learn(lambda: gym.make("FrozenLake-v1"), 1000).steps
            1000
        """
        end = self.steps + check_total_steps(total_steps)
        callback = as_callback(callback, self, total_steps, progress_bar)
        gamma, on_policy, run = self.config.gamma, self.on_policy, self.run
        q = self.q_table.tolist()  # the loop reads and writes Python lists: several times faster on one cell
        env, owned = open_env(env, self)
        state = action = None
        episode_return, episode_length, needs_reset = 0.0, 0, False

        def keep():  # the loop's variables, for checkpoints taken by the callback and the next learn
            self.q_table[...] = q
            run.vars = {"state": state, "action": action, "return": episode_return, "length": episode_length,
                        "reset": needs_reset}

        try:
            fresh = run.begin(env, self.rng)
            if fresh is not None:
                state = self._state(fresh[0])
                action = self._explore(q[state], self.epsilon)
            else:
                v = run.vars
                state, action, episode_return, episode_length, needs_reset = (
                    v["state"], v["action"], v["return"], v["length"], v["reset"])
            if not run.deliver(callback):
                return self
            while self.steps < end:
                if needs_reset:
                    state, _ = env.reset()
                    action = self._explore(q[state], self.epsilon_schedule(self.steps))
                    episode_return, episode_length, needs_reset = 0.0, 0, False
                next_state, reward, terminated, truncated, _ = env.step(action)
                self.steps += 1
                episode_return += reward
                episode_length += 1
                epsilon = self.epsilon_schedule(self.steps)
                next_row = q[next_state]
                next_action = self._explore(next_row, epsilon)
                if terminated:
                    target = reward
                elif on_policy:
                    target = reward + gamma * next_row[next_action]
                else:
                    target = reward + gamma * max(next_row)
                lr = self.lr_schedule(self.steps)
                row = q[state]
                row[action] += lr * (target - row[action])
                state, action = next_state, next_action
                if terminated or truncated:
                    self.episodes += 1
                    run.pending.append({"step": self.steps, "episode": self.episodes, "return": episode_return,
                                        "length": episode_length, "epsilon": epsilon, "lr": lr})
                    needs_reset = True
                    if callback is not None:
                        keep()  # the callback may evaluate or checkpoint the agent
                        if not run.deliver(callback):
                            break
                    else:
                        run.pending.clear()
        finally:
            keep()
            run.end()
            if owned:
                env.close()
        return self

    def greedy_policy(self) -> np.ndarray:
        return self.q_table.argmax(axis=1)


class SARSA(QLearning):
    """On-policy TD control: bootstraps from the epsilon-greedy action it will take next.

        >>> import gymnasium as gym
        >>> env = gym.make("CliffWalking-v1", max_episode_steps=200)
        >>> SARSA(env.observation_space, env.action_space, seed=0).learn(env, 1000).episodes > 0
        True
    """

    name = "sarsa"
    on_policy = True
