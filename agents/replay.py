"""Experience replay: a ring buffer of transitions in preallocated NumPy arrays."""

from __future__ import annotations

import numpy as np


class ReplayBuffer:
    """Holds the last `capacity` transitions (obs, action, reward, next_obs, terminated, horizon).

    `next_obs` is the true next observation, also at a time-limit truncation, so
    the target can bootstrap from it; only `terminated` stops bootstrapping.
    A multi-step transition sums `horizon` discounted rewards into `reward` and
    `next_obs` is the observation `horizon` steps later (1: a one-step transition).

        >>> import numpy as np
        >>> buffer = ReplayBuffer(capacity=2, obs_shape=(1,))
        >>> for i in range(3):
        ...     buffer.add(np.array([i]), i, 1.0, np.array([i + 1]), False)
        >>> len(buffer), buffer.state_dict()["actions"].tolist()  # the oldest was dropped
        (2, [1, 2])
    """

    FIELDS = ("obs", "actions", "rewards", "next_obs", "terminated", "horizons")

    def __init__(self, capacity: int, obs_shape: tuple, obs_dtype=np.float32):
        if capacity < 1:
            raise ValueError(f"replay buffer capacity must be >= 1, got {capacity}")
        self.capacity = int(capacity)
        self.obs = np.zeros((capacity, *obs_shape), dtype=obs_dtype)
        self.next_obs = np.zeros((capacity, *obs_shape), dtype=obs_dtype)
        self.actions = np.zeros(capacity, dtype=np.int64)
        self.rewards = np.zeros(capacity, dtype=np.float32)
        self.terminated = np.zeros(capacity, dtype=np.float32)
        self.horizons = np.ones(capacity, dtype=np.int64)
        self.position = 0  # where the next transition goes
        self.size = 0

    def __len__(self) -> int:
        return self.size

    def add(self, obs, action: int, reward: float, next_obs, terminated: bool, horizon: int = 1) -> None:
        i = self.position
        self.obs[i] = obs
        self.actions[i] = action
        self.rewards[i] = reward
        self.next_obs[i] = next_obs
        self.terminated[i] = terminated
        self.horizons[i] = horizon
        self.position = (i + 1) % self.capacity
        self.size = min(self.size + 1, self.capacity)

    def sample(self, batch_size: int, rng: np.random.Generator) -> tuple:
        """(obs, actions, rewards, next_obs, terminated, horizons) for `batch_size` uniform draws with replacement."""
        if self.size == 0:
            raise ValueError("cannot sample from an empty replay buffer")
        # Draws count from the oldest transition, not from slot 0, so a sample depends on the
        # transitions held and not on where the ring happens to start (a reloaded buffer starts at 0).
        index = (self.position - self.size + rng.integers(0, self.size, size=batch_size)) % self.capacity
        return (self.obs[index], self.actions[index], self.rewards[index], self.next_obs[index],
                self.terminated[index], self.horizons[index])

    @property
    def nbytes(self) -> int:
        return sum(getattr(self, name).nbytes for name in self.FIELDS)

    def state_dict(self) -> dict:
        """The filled part, oldest first, so a buffer of another capacity can read it back."""
        order = np.arange(self.position - self.size, self.position) % self.capacity
        return {name: getattr(self, name)[order] for name in self.FIELDS}

    def load_state_dict(self, arrays: dict) -> None:
        count = len(arrays["actions"])
        keep = min(count, self.capacity)
        for name in self.FIELDS:
            if name == "horizons" and name not in arrays:  # saved before multi-step transitions: one step each
                self.horizons[:keep] = 1
                continue
            getattr(self, name)[:keep] = arrays[name][count - keep:]
        self.size = keep
        self.position = keep % self.capacity
