"""HistoryObservation: the last K observations of the episode, one flattened observation per row."""

from __future__ import annotations

import numpy as np
import gymnasium as gym
from gymnasium import spaces


class HistoryObservation(gym.ObservationWrapper):
    """Observations become (K, F) float32 windows: row K - 1 is the current observation, row K - 2 the one
    before, ...; rows from before the episode's first step are zeros, and a mask column says which rows
    are real (1) and which are padding (0).

    Each observation is flattened (`gymnasium.spaces.flatten`: a Discrete one becomes one-hot), so
    F = flatdim(observation_space) + 1. `reset` clears the window, so it never holds steps of an
    earlier episode; every env of a vector env has its own wrapper and its own window. The window is
    the wrapper's state (`window`), saved with the env's state in checkpoints.

        >>> import gymnasium as gym
        >>> env = HistoryObservation(gym.make("FrozenLake-v1"), 3)
        >>> obs, _ = env.reset(seed=0)
        >>> obs.shape, obs[:, -1].tolist()          # 16 one-hot cells + the mask column
        ((3, 17), [0.0, 0.0, 1.0])
    """

    def __init__(self, env: gym.Env, history: int):
        if isinstance(history, bool) or not isinstance(history, (int, np.integer)) or history < 1:
            raise ValueError(f"history must be an int >= 1 (observations per window), got {history!r}")
        inner = env.observation_space
        if not isinstance(inner, (spaces.Box, spaces.Discrete)):
            raise ValueError(f"history needs Box or Discrete observations, got {inner!r}")
        super().__init__(env)
        self.history = int(history)
        self._inner = inner
        n_features = spaces.flatdim(inner) + 1
        low = np.zeros((self.history, n_features), np.float32)
        high = np.ones((self.history, n_features), np.float32)
        if isinstance(inner, spaces.Box):
            flat_low = np.asarray(inner.low, np.float32).reshape(-1)
            flat_high = np.asarray(inner.high, np.float32).reshape(-1)
            low[:, :-1] = np.minimum(flat_low, 0.0)    # padding rows are zeros
            high[:, :-1] = np.maximum(flat_high, 0.0)
        self.observation_space = spaces.Box(low, high, dtype=np.float32)
        self.window = np.zeros((self.history, n_features), np.float32)

    def _row(self, observation) -> np.ndarray:
        return np.append(spaces.flatten(self._inner, observation).astype(np.float32), np.float32(1.0))

    def reset(self, **kwargs):
        """Reset the env and start an empty window (zeros), so no step of an earlier episode stays in it.

            >>> import gymnasium as gym
            >>> env = HistoryObservation(gym.make("CartPole-v1"), 2)
            >>> _ = env.reset(seed=0); _ = env.step(0)
            >>> obs, _ = env.reset(seed=1)
            >>> obs[:, -1].tolist()  # the mask: one real row, after one padding row
            [0.0, 1.0]
        """
        observation, info = self.env.reset(**kwargs)
        self.window = np.zeros_like(self.window)
        return self.observation(observation), info

    def observation(self, observation) -> np.ndarray:
        """Push one observation into the window (dropping the oldest row) and return the window.

            >>> import gymnasium as gym
            >>> env = HistoryObservation(gym.make("FrozenLake-v1"), 2)
            >>> _ = env.reset(seed=0)
            >>> env.observation(5)[:, [0, 5, -1]].tolist()  # rows: the start cell 0, then cell 5
            [[1.0, 0.0, 1.0], [0.0, 1.0, 1.0]]
        """
        self.window = np.concatenate([self.window[1:], self._row(observation)[None]])  # (K, F), oldest first
        return self.window.copy()
