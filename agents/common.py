"""Pieces every agent shares: observation preprocessing, space checks, schedules,
epsilon-greedy, categorical-policy math, environment seeding and `evaluate`."""

from __future__ import annotations

import math
import operator
from dataclasses import dataclass

import numpy as np
from gymnasium import spaces

from rl_scratch.nets import Categorical, Tensor


# ------------------------------------------------------------------ spaces
def require_discrete_actions(action_space, agent_name: str) -> int:
    """Number of actions; any other action space raises ValueError naming the supported one.

        >>> import gymnasium as gym
        >>> require_discrete_actions(gym.spaces.Discrete(3), "dqn")
        3
    """
    if not isinstance(action_space, spaces.Discrete):
        raise ValueError(f"{agent_name} supports Discrete action spaces; got {action_space!r}. "
                         "For continuous control (Box actions), discretize the actions with a wrapper "
                         "or use an environment with Discrete actions")
    if action_space.start != 0:
        raise ValueError(f"{agent_name} needs Discrete actions starting at 0; got {action_space!r}")
    return int(action_space.n)


def require_discrete_observations(observation_space, agent_name: str) -> int:
    """Number of states for tabular methods; any other observation space raises ValueError.

        >>> import gymnasium as gym
        >>> require_discrete_observations(gym.spaces.Discrete(16), "qlearning")
        16
    """
    if not isinstance(observation_space, spaces.Discrete):
        raise ValueError(f"{agent_name} is tabular and needs a Discrete observation space (one integer state); "
                         f"got {observation_space!r}. Use a function-approximation agent (dqn, reinforce) or an "
                         "env mode with integer states (e.g. GridWorld obs_mode='index')")
    if observation_space.start != 0:
        raise ValueError(f"{agent_name} needs Discrete states starting at 0; got {observation_space!r}")
    return int(observation_space.n)


def check_history(observation_space, history: int, agent_name: str) -> None:
    """history > 1 needs the windows HistoryObservation(env, history) makes: a (history, features) Box.

        >>> import gymnasium as gym
        >>> check_history(gym.spaces.Box(0, 1, (4,)), 1, "ppo")  # history 1: any observation
        >>> check_history(gym.spaces.Box(0, 1, (4,)), 3, "ppo")
        Traceback (most recent call last):
        ...
        ValueError: ppo: history=3 reads windows of 3 observations; wrap the env in ...
    """
    if isinstance(history, bool) or not isinstance(history, (int, np.integer)) or history < 1:
        raise ValueError(f"{agent_name}: history must be an int >= 1, got {history!r}")
    if history > 1 and not (isinstance(observation_space, spaces.Box) and len(observation_space.shape) == 2
                            and observation_space.shape[0] == history):
        raise ValueError(f"{agent_name}: history={history} reads windows of {history} observations; wrap the env "
                         f"in rl_scratch.envs.HistoryObservation(env, {history}) (the trainer does), got "
                         f"{observation_space!r}")


class ObsEncoder:
    """Turns raw env observations into float32 network inputs, chosen from the observation space.

    Discrete(n) -> one-hot of length n; Box -> float32, flattened to one vector
    unless `keep_shape` (attention policies read a (tokens, features) Box as is).
    `one(obs)` validates a single observation and returns a batch of one;
    `batch(obs)` converts a batch from a vector env without re-validating.

        >>> import gymnasium as gym
        >>> encoder = ObsEncoder(gym.spaces.Discrete(3), "dqn")
        >>> encoder.one(1)
        array([[0., 1., 0.]], dtype=float32)
        >>> encoder.batch([2, 0]).shape
        (2, 3)
    """

    def __init__(self, space, agent_name: str, keep_shape: bool = False):
        self.space = space
        if isinstance(space, spaces.Discrete):
            if keep_shape:
                raise ValueError(f"{agent_name}: an attention policy needs a 2-D Box observation (tokens, features); "
                                 f"got {space!r}")
            self.discrete = True
            self.n = int(space.n)
            self.start = int(space.start)
            self.shape = (self.n,)
            self._eye = np.eye(self.n, dtype=np.float32)
        elif isinstance(space, spaces.Box):
            self.discrete = False
            self.raw_shape = tuple(space.shape)
            if keep_shape and len(self.raw_shape) != 2:
                raise ValueError(f"{agent_name}: an attention policy needs a 2-D Box observation (tokens, features), "
                                 f"e.g. GridWorld obs_mode='grid'; got {space!r}")
            self.shape = self.raw_shape if keep_shape else (int(np.prod(self.raw_shape)),)
        else:
            raise ValueError(f"{agent_name} supports Discrete and Box observation spaces; got {space!r}. "
                             "Flatten Dict/Tuple observations with gymnasium.wrappers.FlattenObservation")
        self.size = int(np.prod(self.shape))

    def one(self, obs) -> np.ndarray:
        if self.discrete:
            try:
                state = operator.index(obs) - self.start
            except TypeError:
                array = np.asarray(obs)
                if array.shape != () or array.dtype.kind not in "iu":
                    raise ValueError(f"expected one observation from {self.space!r}: an integer, got {obs!r} "
                                     f"(shape {array.shape})") from None
                state = int(array) - self.start
            if not 0 <= state < self.n:
                raise ValueError(f"observation {obs!r} is outside {self.space!r}")
            return self._eye[state][None]
        array = np.asarray(obs, dtype=np.float32)
        if array.shape != self.raw_shape:
            raise ValueError(f"expected one observation of shape {self.raw_shape} from {self.space!r}, "
                             f"got shape {array.shape}")
        if not np.isfinite(array).all():
            raise ValueError(f"observation {np.asarray(obs).tolist()} is not finite (NaN or inf): not a point of "
                             f"{self.space!r}; check the env or the wrapper that produced it")
        return array.reshape((1,) + self.shape)

    def many(self, observations) -> np.ndarray:
        """A batch of observations (validated like `one`, each) as network inputs (B, *shape)."""
        return np.concatenate([self.one(o) for o in observations]) if len(observations) else \
            np.zeros((0, *self.shape), dtype=np.float32)

    def batch(self, obs) -> np.ndarray:
        if self.discrete:
            return self._eye[np.asarray(obs) - self.start]
        array = np.asarray(obs, dtype=np.float32)
        return array.reshape((array.shape[0],) + self.shape)


def is_batch(space, obs) -> bool:
    """Whether `obs` is a batch of observations of `space` rather than one (for `predict`).

        >>> import gymnasium as gym
        >>> box = gym.spaces.Box(-1, 1, (4,))
        >>> is_batch(box, [0.0] * 4), is_batch(box, [[0.0] * 4] * 3)
        (False, True)
    """
    array = np.asarray(obs)
    if isinstance(space, spaces.Discrete):
        return array.ndim >= 1
    shape = tuple(getattr(space, "shape", None) or ())
    return array.ndim == len(shape) + 1 and array.shape[1:] == shape


# --------------------------------------------------------------- schedules
@dataclass(frozen=True)
class Schedule:
    """A value decayed from `start` to `end` over `duration` steps, then held at `end`.

    kind "linear" interpolates; "exponential" interpolates geometrically (start and
    end must be > 0); "constant" always returns `start`.

        >>> epsilon = Schedule(1.0, 0.1, duration=100)
        >>> epsilon(0), epsilon(50), round(epsilon(1000), 6)
        (1.0, 0.55, 0.1)
    """

    start: float
    end: float
    duration: int
    kind: str = "linear"

    def __post_init__(self):
        if self.kind not in ("linear", "exponential", "constant"):
            raise ValueError(f"unknown schedule kind {self.kind!r}; choose linear, exponential or constant")
        if self.kind == "exponential" and (self.start <= 0 or self.end <= 0):
            raise ValueError(f"an exponential schedule needs start and end > 0, got {self.start} and {self.end}")
        if self.duration < 0:
            raise ValueError(f"schedule duration must be >= 0, got {self.duration}")

    def __call__(self, step: int) -> float:
        if self.kind == "constant":
            return self.start
        fraction = 1.0 if self.duration == 0 else min(step / self.duration, 1.0)
        if self.kind == "linear":
            return self.start + (self.end - self.start) * fraction
        return self.start * (self.end / self.start) ** fraction


def epsilon_greedy(q_values: np.ndarray, epsilon: float, rng: np.random.Generator) -> int:
    """A random action with probability epsilon, else a greedy one (ties broken at random).

        >>> import numpy as np
        >>> epsilon_greedy(np.array([0.0, 2.0, 1.0]), epsilon=0.0, rng=np.random.default_rng(0))
        1
    """
    if rng.random() < epsilon:
        return int(rng.integers(len(q_values)))
    return greedy(q_values, rng)


def greedy(q_values: np.ndarray, rng: np.random.Generator | None = None) -> int:
    """argmax; with `rng`, ties are broken uniformly (zero-initialized tables are all ties).

        >>> import numpy as np
        >>> greedy(np.array([1.0, 3.0, 3.0])), greedy(np.array([1.0, 3.0, 3.0]), np.random.default_rng(1)) in (1, 2)
        (1, True)
    """
    best = int(q_values.argmax())
    if rng is None or np.count_nonzero(q_values == q_values[best]) == 1:
        return best
    ties = np.flatnonzero(q_values == q_values[best])
    return int(ties[int(rng.random() * len(ties))])


# ------------------------------------------------------ categorical policies
# Shorthands for the policies' uses of nets.Categorical, the one definition of this math.
def sample_categorical(logits: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """One action per row of `logits` (B, A), by inverting the CDF with one uniform per row.

        >>> import numpy as np
        >>> sample_categorical(np.array([[0.0, 50.0], [50.0, 0.0]]), np.random.default_rng(0))
        array([1, 0])
    """
    return Categorical(logits).sample(rng)


def categorical_log_probs(logits: np.ndarray) -> np.ndarray:
    """Every action's log-probability (B, A), on plain arrays (inference).

        >>> import numpy as np
        >>> np.exp(categorical_log_probs(np.array([[0.0, 0.0]])))
        array([[0.5, 0.5]])
    """
    return Categorical(logits).log_probs.data


def categorical_log_prob(logits: Tensor, actions: np.ndarray) -> Tensor:
    """log pi(a|s) for each row, as a Tensor a loss can backpropagate through.

        >>> import numpy as np
        >>> from rl_scratch.nets import Tensor
        >>> categorical_log_prob(Tensor(np.zeros((1, 4))), np.array([2])).data.round(4)
        array([-1.3863])
    """
    return Categorical(logits).log_prob(actions)


def categorical_entropy(logits: Tensor) -> Tensor:
    """-sum_a pi(a) log pi(a) per row.

        >>> import numpy as np
        >>> from rl_scratch.nets import Tensor
        >>> categorical_entropy(Tensor(np.zeros((1, 2)))).data.round(4)  # log 2: uniform over two actions
        array([0.6931])
    """
    return Categorical(logits).entropy()


def normalize(x: np.ndarray, eps: float = 1e-8) -> np.ndarray:
    """Zero mean, unit variance; fewer than 2 samples have no spread, so they are only centered.

        >>> import numpy as np
        >>> normalize(np.array([1.0, 3.0])).round(3), normalize(np.array([5.0]))
        (array([-1.,  1.]), array([0.]))
    """
    if x.size < 2:
        return x - x.mean() if x.size else x
    return (x - x.mean()) / (x.std() + eps)


# -------------------------------------------------------------- evaluation
EVAL_STEP_CAP = 10_000
"""the longest evaluation episode: a greedy policy that loops in an env without a time limit
(CliffWalking-v1) would otherwise never end its episode"""


def evaluate(agent, env, episodes: int = 10, seed: int | None = 0, deterministic: bool = True,
             max_steps: int = EVAL_STEP_CAP) -> dict:
    """Run `episodes` episodes of `agent` in `env` (an env or a function that makes one) and summarize them.

    The first reset uses `seed`; later resets continue the env's generator, so the
    same seed gives the same episodes. Acting draws (tie-breaks, sampled actions)
    come from the evaluation's own generator, seeded with `seed` too, never from the
    agent's: evaluating does not change how training continues. An episode still
    running after `max_steps` steps is cut there (counted in "capped_episodes").
    Returns mean_return, std_return, returns, lengths, capped_episodes, and
    success_rate when the env reports success in info["is_success"] (Gymnasium's convention).

        >>> import gymnasium as gym
        >>> from rl_scratch.agents import QLearning
        >>> env = gym.make("FrozenLake-v1")
        >>> agent = QLearning(env.observation_space, env.action_space, seed=0)
        >>> result = evaluate(agent, env, episodes=5)
        >>> len(result["returns"]), result["mean_return"] <= 1.0
        (5, True)
    """
    if isinstance(episodes, bool) or not isinstance(episodes, (int, np.integer)) or episodes < 1:
        raise ValueError(f"episodes must be an integer >= 1, got {episodes!r}")
    if max_steps < 1:
        raise ValueError(f"max_steps must be >= 1, got {max_steps}")
    owned = not hasattr(env, "reset") and callable(env)
    if owned:
        env = env()
    rng = np.random.default_rng(seed)
    returns, lengths, successes, capped = [], [], [], 0
    try:
        for episode in range(episodes):
            obs, info = env.reset(seed=seed if episode == 0 else None)
            if episode == 0 and seed is not None:
                env.action_space.seed(seed)
            total, length, done = 0.0, 0, False
            while not done:
                action = agent.act(obs, deterministic=deterministic, rng=rng)
                obs, reward, terminated, truncated, info = env.step(action)
                total += float(reward)
                length += 1
                done = terminated or truncated
                if not done and length >= max_steps:
                    capped += 1
                    break
            returns.append(total)
            lengths.append(length)
            successes.append(bool(info["is_success"]) if "is_success" in info else None)
    finally:
        if owned:
            env.close()
    result = {
        "mean_return": float(np.mean(returns)),
        "std_return": float(np.std(returns)),
        "returns": returns,
        "lengths": lengths,
        "capped_episodes": capped,
    }
    if all(s is not None for s in successes):
        result["success_rate"] = float(np.mean(successes))
    return result


def check_total_steps(total_steps) -> int:
    """`total_steps` as an int; anything but a non-negative integer raises ValueError.

        >>> check_total_steps(100)
        100
        >>> check_total_steps(-1)
        Traceback (most recent call last):
        ...
        ValueError: total_steps must be a non-negative integer, got -1
    """
    if isinstance(total_steps, bool) or not isinstance(total_steps, (int, np.integer)) or total_steps < 0:
        raise ValueError(f"total_steps must be a non-negative integer, got {total_steps!r}")
    return int(total_steps)


def finite_or_none(x) -> float | None:
    """`x` as a float, or None when it is None, NaN or infinite (for JSON logs).

        >>> finite_or_none(0.5), finite_or_none(float("nan")), finite_or_none(None)
        (0.5, None, None)
    """
    return float(x) if x is not None and math.isfinite(x) else None
