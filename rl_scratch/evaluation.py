"""The trainer's evaluations, with every episode capped in length.

An env with no time limit of its own (Gymnasium's CliffWalking-v1 has
`max_episode_steps=None`) lets a greedy policy that loops walk forever, and the
evaluation would never end. The evaluation env is therefore wrapped in
`EpisodeCap`: its own time limit if it has one, else DEFAULT_EPISODE_CAP steps;
the result says how many episodes it cut.
"""

from __future__ import annotations

import gymnasium

from rl_scratch.agents import evaluate

DEFAULT_EPISODE_CAP = 10_000


class EpisodeCap(gymnasium.Wrapper):
    """Truncates an episode after `cap` steps and counts the episodes it cut."""

    def __init__(self, env, cap: int = DEFAULT_EPISODE_CAP):
        super().__init__(env)
        self.cap, self.cut, self._length = cap, 0, 0

    def reset(self, **kwargs):
        self._length = 0
        return self.env.reset(**kwargs)

    def step(self, action):
        obs, reward, terminated, truncated, info = self.env.step(action)
        self._length += 1
        if self._length >= self.cap and not (terminated or truncated):
            truncated = True
            self.cut += 1
        return obs, reward, terminated, truncated, info


def cap_episodes(env, cap: int = DEFAULT_EPISODE_CAP):
    """`env` itself when it has a time limit (its spec's max_episode_steps), else `env` in an EpisodeCap."""
    if env.spec is not None and env.spec.max_episode_steps:
        return env
    return EpisodeCap(env, cap)


def evaluate_capped(agent, env, episodes: int, seed: int) -> dict:
    """`agents.evaluate`, plus "cut" and "cap" when the env's EpisodeCap cut episodes."""
    cut_before = env.cut if isinstance(env, EpisodeCap) else 0
    result = evaluate(agent, env, episodes, seed=seed)
    if isinstance(env, EpisodeCap) and env.cut > cut_before:
        result.update(cut=env.cut - cut_before, cap=env.cap)
    return result
