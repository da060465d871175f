"""What a run aims for: the planning optimum where the env has a model, else its reward threshold."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from rl_scratch import stats

__all__ = ["planning_optimum", "has_transition_model"]

# Summed float rewards (0.93 from -0.01 steps and a goal) may miss the optimum by rounding.
TARGET_TOLERANCE = 1e-6


def has_transition_model(env) -> bool:
    """GridWorld's transition_model() or a Toy Text env's table P: what planning needs.

        >>> import gymnasium as gym
        >>> has_transition_model(gym.make("Taxi-v4")), has_transition_model(gym.make("CartPole-v1"))
        (True, False)
    """
    base = env.unwrapped
    return hasattr(base, "transition_model") or hasattr(base, "P")


def planning_optimum(env) -> float | None:
    """The best expected undiscounted return from the start (value iteration on the env's model).

    None when the env has no transition model (GridWorld's transition_model() or
    a Toy Text env's P) or no known start distribution. Within the env's time
    limit: FrozenLake's 100 steps make its optimum 0.744 (0.824 without one).

        >>> import gymnasium as gym
        >>> import rl_scratch
        >>> round(planning_optimum(gym.make("rl_scratch/GridWorld-v0")), 2)
        0.93
        >>> round(planning_optimum(gym.make("FrozenLake-v1")), 3)
        0.744
    """
    if not has_transition_model(env):
        return None
    from rl_scratch.agents.planning import (finite_horizon_value_iteration, get_transition_model,
                                            start_distribution, tabular_model, value_iteration)

    model = tabular_model(get_transition_model(env))
    horizon = env.spec.max_episode_steps if env.spec is not None else None
    if horizon:
        values = finite_horizon_value_iteration(model, horizon, gamma=1.0)[0]
    else:
        try:
            values = value_iteration(model, gamma=1.0)[0]
        except RuntimeError:  # no policy ends episodes surely: no finite optimum to show
            return None
    start = start_distribution(env)
    return None if start is None else float(start @ values)


@dataclass(frozen=True)
class Target:
    """The optimum (value iteration) if known, else the env's reward threshold, else nothing."""

    optimum: float | None
    threshold: float | None

    @classmethod
    def of_env(cls, env) -> "Target":
        return cls(planning_optimum(env), env.spec.reward_threshold if env.spec is not None else None)

    @property
    def value(self) -> float | None:
        return self.optimum if self.optimum is not None else self.threshold

    @property
    def name(self) -> str:
        return "optimum" if self.optimum is not None else "reward threshold"

    def describe(self) -> str:
        """For the final report: 'optimal return 0.930 (value iteration)' or 'reward threshold 475'."""
        return (f"optimal return {self.optimum:.3f} (value iteration)" if self.optimum is not None
                else f"reward threshold {self.threshold:g}")

    def curve_label(self) -> str | None:
        if self.optimum is not None:
            return f"optimum {self.optimum:.3f} (value iteration)"
        if self.threshold is not None:
            return f"reward threshold {self.threshold:g}"
        return None

    def verdict(self, result: dict) -> str | None:
        """How an evaluation's returns stand against the target, judged by the 95% interval of their mean.

        "at": the mean is at (or above) the target; "within noise": the mean is below it but
        the interval reaches it (the optimum is an expected return, and a finite evaluation of an
        optimal policy scatters around it); "below": the whole interval is under it; None: no target.
        """
        if self.value is None:
            return None
        if result["mean_return"] >= self.value - TARGET_TOLERANCE:
            return "at"
        high = stats.bootstrap_ci(result["returns"])[1]
        return "within noise" if high >= self.value - TARGET_TOLERANCE else "below"

    def reached_by(self, result: dict) -> bool:
        """Whether the 95% interval of the evaluation's mean return reaches the target."""
        return self.verdict(result) in ("at", "within noise")
