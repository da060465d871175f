"""`IsSuccess`: Gymnasium's `info["is_success"]` for goal-reaching envs that do not report it."""

from __future__ import annotations

import gymnasium as gym


class IsSuccess(gym.Wrapper):
    """Adds `info["is_success"]` at each episode's end: terminated with a positive reward.

    That is what reaching the goal means in FrozenLake (reward 1 at the goal, 0 in a
    hole); evaluation reads success from this key only, whatever the env class.

        >>> env = IsSuccess(gym.make("FrozenLake-v1", is_slippery=False))
        >>> _ = env.reset(seed=0)
        >>> [env.step(a)[4].get("is_success") for a in (2, 2, 1, 1, 1, 2)][-1]
        True
    """

    def step(self, action):
        """The env's step, with `is_success` in the info of the episode's last step.

            >>> env = IsSuccess(gym.make("FrozenLake-v1", is_slippery=False))
            >>> _ = env.reset(seed=0)
            >>> env.step(0)[4]  # a step that does not end the episode adds nothing
            {'prob': 1.0}
        """
        obs, reward, terminated, truncated, info = self.env.step(action)
        if terminated or truncated:
            info = {**info, "is_success": bool(terminated and reward > 0)}
        return obs, reward, terminated, truncated, info


GOAL_ENVS = ("FrozenLake-v1", "FrozenLake8x8-v1")
"""registered ids whose success `IsSuccess` reports"""
