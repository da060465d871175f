"""Dynamic programming on a known model: value iteration and policy iteration.

Reference: Sutton & Barto, Reinforcement Learning (2nd ed.), sections 4.3-4.4.
The model is FrozenLake's layout, `P[s][a] = [(prob, next_state, reward, terminated), ...]`,
from GridWorld's `transition_model()` or Toy Text envs' `env.unwrapped.P`. A terminated
transition does not continue, so Q(s, a) = sum p * (r + gamma * (1 - terminated) * V(s')).

These solvers are the ground truth for the learning agents' tests and benchmarks.
`finite_horizon_value_iteration` gives the optimum under a time limit (FrozenLake 4x4
with 100 steps: success probability 0.744).
"""

from __future__ import annotations

from dataclasses import dataclass

import gymnasium
import numpy as np

from .base import Agent
from .common import require_discrete_actions, require_discrete_observations


# ----------------------------------------------------------------- helpers
@dataclass
class TabularModel:
    """P as padded arrays of shape (S, A, K), K the most outcomes of any (s, a); padding has prob 0.

        >>> P = [[[(1.0, 1, 0.0, False)], [(1.0, 0, 0.0, False)]],  # state 0: action 0 moves to state 1
        ...      [[(1.0, 1, 1.0, True)], [(1.0, 1, 1.0, True)]]]
        >>> model = tabular_model(P)
        >>> model.n_states, model.n_actions, model.backup(np.zeros(2), 0.9).tolist()
        (2, 2, [[0.0, 0.0], [1.0, 1.0]])
    """

    prob: np.ndarray
    next_state: np.ndarray
    reward: np.ndarray
    continues: np.ndarray  # 1 - terminated

    @property
    def n_states(self) -> int:
        return self.prob.shape[0]

    @property
    def n_actions(self) -> int:
        return self.prob.shape[1]

    def backup(self, values: np.ndarray, gamma: float) -> np.ndarray:
        """Q(s, a) = sum_k p_k (r_k + gamma * continues_k * V(s'_k))."""
        return (self.prob * (self.reward + gamma * self.continues * values[self.next_state])).sum(axis=-1)


def get_transition_model(env):
    """`P[s][a]` lists from an env: GridWorld's `transition_model()` or a Toy Text env's `P`.

        >>> import gymnasium as gym
        >>> len(get_transition_model(gym.make("FrozenLake-v1")))  # 16 states
        16
    """
    base = env.unwrapped
    if hasattr(base, "transition_model"):
        return base.transition_model()
    if hasattr(base, "P"):
        return base.P
    raise ValueError(f"{type(base).__name__} exposes no transition model: planning needs an env with "
                     "`transition_model()` (GridWorld) or `P` (FrozenLake, Taxi, CliffWalking)")


def tabular_model(P) -> TabularModel:
    """`P[s][a]` lists of (prob, next_state, reward, terminated) as a `TabularModel`; probabilities must sum to 1.

        >>> import gymnasium as gym
        >>> tabular_model(get_transition_model(gym.make("FrozenLake-v1"))).prob.shape  # (S, A, at most 3 outcomes)
        (16, 4, 3)
    """
    n_states, n_actions = len(P), len(P[0])
    width = max(len(P[s][a]) for s in range(n_states) for a in range(n_actions))
    shape = (n_states, n_actions, width)
    prob, reward, continues = np.zeros(shape), np.zeros(shape), np.zeros(shape)
    next_state = np.zeros(shape, dtype=np.int64)
    for s in range(n_states):
        if len(P[s]) != n_actions:
            raise ValueError(f"transition model: state {s} has {len(P[s])} actions, state 0 has {n_actions}")
        for a in range(n_actions):
            for k, (p, ns, r, terminated) in enumerate(P[s][a]):
                prob[s, a, k], next_state[s, a, k], reward[s, a, k] = p, ns, r
                continues[s, a, k] = 0.0 if terminated else 1.0
    total = prob.sum(axis=-1)
    if not np.allclose(total, 1.0):
        s, a = np.unravel_index(np.argmax(np.abs(total - 1.0)), total.shape)
        raise ValueError(f"transition model: probabilities of state {s}, action {a} sum to {total[s, a]}, not 1")
    return TabularModel(prob, next_state, reward, continues)


def value_iteration(model: TabularModel, gamma: float, tol: float = 1e-10, max_iterations: int = 100_000,
                    changes: list | None = None):
    """Optimal (V, Q, greedy policy, iterations) by repeated Bellman optimality backups.

    Stops when a sweep changes V by less than tol * (1 - gamma) / (2 gamma), which bounds
    the greedy policy's value error by tol (Williams & Baird); with gamma = 1 by tol.
    `changes`, when given, receives each sweep's max |V_new - V| (the convergence curve).

        >>> import gymnasium as gym
        >>> model = tabular_model(get_transition_model(gym.make("FrozenLake-v1", is_slippery=False)))
        >>> values, q, policy, sweeps = value_iteration(model, gamma=0.9)
        >>> round(float(values[0]), 4)  # 6 moves to the goal: 0.9 ** 5
        0.5905
    """
    if not 0 <= gamma <= 1:
        raise ValueError(f"gamma must be in [0, 1], got {gamma}")
    threshold = tol * (1 - gamma) / (2 * gamma) if 0 < gamma < 1 else tol
    values = np.zeros(model.n_states)
    for iteration in range(1, max_iterations + 1):
        q = model.backup(values, gamma)
        new_values = q.max(axis=1)
        delta = np.abs(new_values - values).max()
        values = new_values
        if changes is not None:
            changes.append(float(delta))
        if delta < threshold:
            break
    else:
        raise RuntimeError(f"value iteration did not converge in {max_iterations} sweeps (last change {delta:.3g}); "
                           "with gamma=1 the task may have no proper policy: use gamma < 1 or a finite horizon")
    q = model.backup(values, gamma)
    return values, q, q.argmax(axis=1), iteration


def finite_horizon_value_iteration(model: TabularModel, horizon: int, gamma: float = 1.0,
                                   changes: list | None = None):
    """Optimal values with `horizon` steps left: `horizon` backups from V = 0.

    Returns (V, Q, policy) for the first step of an episode of at most `horizon` steps
    (with gamma=1 and reward 1 at a goal, V(start) is the best success probability).
    `changes`, when given, receives each backup's max |V_new - V|.

        >>> import gymnasium as gym
        >>> model = tabular_model(get_transition_model(gym.make("FrozenLake-v1")))
        >>> round(float(finite_horizon_value_iteration(model, horizon=100)[0][0]), 3)
        0.744
    """
    if horizon < 1:
        raise ValueError(f"horizon must be >= 1, got {horizon}")
    values = np.zeros(model.n_states)
    for _ in range(horizon):
        q = model.backup(values, gamma)
        if changes is not None:
            changes.append(float(np.abs(q.max(axis=1) - values).max()))
        values = q.max(axis=1)
    return values, q, q.argmax(axis=1)


def policy_evaluation(model: TabularModel, policy: np.ndarray, gamma: float) -> np.ndarray:
    """V of a deterministic policy, by solving (I - gamma P_pi) V = r_pi exactly.

        >>> import gymnasium as gym
        >>> model = tabular_model(get_transition_model(gym.make("FrozenLake-v1", is_slippery=False)))
        >>> always_left = np.zeros(16, dtype=np.int64)
        >>> abs(float(policy_evaluation(model, always_left, gamma=0.9)[0]))  # never arrives
        0.0
    """
    states = np.arange(model.n_states)
    prob = model.prob[states, policy]  # (S, K)
    r_pi = (prob * model.reward[states, policy]).sum(axis=1)
    transition = np.zeros((model.n_states, model.n_states))
    np.add.at(transition, (states[:, None], model.next_state[states, policy]),
              prob * model.continues[states, policy])
    return np.linalg.solve(np.eye(model.n_states) - gamma * transition, r_pi)


def policy_iteration(model: TabularModel, gamma: float, max_iterations: int = 1000, changes: list | None = None):
    """Optimal (V, Q, policy, iterations): evaluate the policy exactly, improve greedily, until stable.

    `changes`, when given, receives each iteration's max |V_pi_new - V_pi| (0 for the first).

        >>> import gymnasium as gym
        >>> model = tabular_model(get_transition_model(gym.make("FrozenLake-v1", is_slippery=False)))
        >>> round(float(policy_iteration(model, gamma=0.9)[0][0]), 4)
        0.5905
    """
    if not 0 <= gamma < 1:
        raise ValueError(f"policy iteration needs gamma in [0, 1) so evaluation has a unique solution, got {gamma}")
    policy = np.zeros(model.n_states, dtype=np.int64)
    previous = None
    for iteration in range(1, max_iterations + 1):
        values = policy_evaluation(model, policy, gamma)
        if changes is not None:
            changes.append(0.0 if previous is None else float(np.abs(values - previous).max()))
        previous = values
        q = model.backup(values, gamma)
        # Keep the current action unless another is strictly better: avoids cycling between ties.
        current = q[np.arange(model.n_states), policy]
        improved = np.where(q.max(axis=1) > current + 1e-12, q.argmax(axis=1), policy)
        if np.array_equal(improved, policy):
            return values, q, policy, iteration
        policy = improved
    raise RuntimeError(f"policy iteration did not converge in {max_iterations} iterations")


def start_distribution(env) -> np.ndarray | None:
    """The probability of each start state: GridWorld's `start_state`, Toy Text's `initial_state_distrib`;
    None when the env says neither.

        >>> import gymnasium as gym
        >>> start_distribution(gym.make("FrozenLake-v1"))[:3].tolist()
        [1.0, 0.0, 0.0]
    """
    base = env.unwrapped
    if hasattr(base, "start_state"):
        start = np.zeros(len(get_transition_model(env)))
        start[base.start_state] = 1.0
        return start
    if hasattr(base, "initial_state_distrib"):
        return np.asarray(base.initial_state_distrib, dtype=np.float64)
    return None


def time_limited_return(model: TabularModel, policy: np.ndarray, start: np.ndarray, horizon: int) -> float:
    """The exact expected undiscounted return of a deterministic stationary policy in episodes cut
    after `horizon` steps, from the start distribution `start` (the state distribution pushed forward
    step by step; what an evaluation of that policy under the env's time limit averages to).

        >>> import gymnasium as gym
        >>> env = gym.make("FrozenLake-v1", is_slippery=False)
        >>> model = tabular_model(get_transition_model(env))
        >>> policy = value_iteration(model, gamma=0.9)[2]
        >>> time_limited_return(model, policy, start_distribution(env), 6), time_limited_return(model, policy, start_distribution(env), 5)
        (1.0, 0.0)
    """
    states = np.arange(model.n_states)
    prob, next_state = model.prob[states, policy], model.next_state[states, policy]  # (S, K)
    expected_reward = (prob * model.reward[states, policy]).sum(axis=1)
    going_on = prob * model.continues[states, policy]  # mass that moves on to next_state
    occupancy, total = np.asarray(start, dtype=np.float64), 0.0
    for _ in range(horizon):
        total += float(occupancy @ expected_reward)
        occupancy = np.bincount(next_state.ravel(), (occupancy[:, None] * going_on).ravel(), model.n_states)
    return total


def time_limit_discounts(horizon: int, gamma: float) -> list[float]:
    """The discounts `fit_time_limit` tries: `gamma`, then 1 - 1/(c * horizon) for c from 1/20 to 20
    (effective horizons from a twentieth of the time limit to twenty times it).

        >>> [round(g, 4) for g in time_limit_discounts(200, 0.99)[:3]]
        [0.99, 0.9, 0.9221]
    """
    return [gamma, *(float(1 - 1 / (c * horizon)) for c in np.geomspace(1 / 20, 20, 25))]


# ------------------------------------------------------------------ agents
class ValueIteration(Agent):
    """A planner with the agent interface: `learn` reads the env's model and solves it exactly.

        >>> import gymnasium as gym
        >>> env = gym.make("FrozenLake-v1")
        >>> config = ValueIteration.Config(gamma=1.0, horizon=100)
        >>> planner = ValueIteration(env.observation_space, env.action_space, config)
        >>> round(float(planner.learn(env).state_values([0])[0]), 3)  # the best success rate in 100 steps
        0.744
    """

    name = "value_iteration"
    saved = ("values", "q_values", "policy", "iterations", "solved", "planned_gamma")
    optional = ("planned_gamma",)  # checkpoints from before fit_time_limit

    @dataclass
    class Config:
        gamma: float = 0.99
        """discount factor (1.0 needs `horizon` or a task where every policy terminates)"""
        tol: float = 1e-10
        """stop when the greedy policy's value is within tol of optimal"""
        horizon: int = 0
        """> 0: finite-horizon planning with this many steps (e.g. the env's time limit); 0: infinite"""
        max_iterations: int = 100_000
        """give up after this many sweeps"""
        fit_time_limit: bool = False
        """where the env cuts episodes after T steps: act greedily for the discount, among `gamma` and
        1 - 1/(c T) for c from 1/20 to 20, whose policy has the best exact expected return within T
        steps. The policy reads only the state, so it cannot take the risks that pay only when few
        steps are left; the discount sets how much it trades a later arrival for a safer one"""

        def __post_init__(self):
            if self.fit_time_limit and self.horizon > 0:
                raise ValueError("fit_time_limit picks one discount for every step and horizon > 0 plans for a "
                                 "fixed number of steps: set one of them")

    def __init__(self, observation_space, action_space, config=None, seed: int = 0):
        self.config = config if config is not None else self.Config()
        self.observation_space, self.action_space = observation_space, action_space
        self.n_states = require_discrete_observations(observation_space, self.name)
        self.n_actions = require_discrete_actions(action_space, self.name)
        self.values = np.zeros(self.n_states)
        self.q_values = np.zeros((self.n_states, self.n_actions))
        self.policy = np.zeros(self.n_states, dtype=np.int64)
        self.steps = self.episodes = self.iterations = 0
        self.solved = False
        self.planned_gamma = float(self.config.gamma)  # the discount of the policy (fit_time_limit picks it)
        # max |V change| of each sweep of the last learn(): the convergence plot's data (not checkpointed)
        self.sweep_changes: list[float] = []

    def _solve(self, model: TabularModel, gamma: float, changes: list | None):
        c = self.config
        if c.horizon > 0:
            values, q, policy = finite_horizon_value_iteration(model, c.horizon, gamma, changes)
            return values, q, policy, c.horizon
        return value_iteration(model, gamma, c.tol, c.max_iterations, changes)

    def _fit_time_limit(self, model: TabularModel, limit: int | None, start: np.ndarray | None):
        """(solution, gamma): the candidate discount whose policy scores best within the time limit
        from the start distribution; the configured gamma alone where the env has no limit or no known start."""
        if not limit or start is None:
            return self._solve(model, self.config.gamma, self.sweep_changes), self.config.gamma
        # No stationary policy beats the time-limited optimum: a candidate that attains it ends the search.
        optimum = float(start @ finite_horizon_value_iteration(model, limit)[0])
        best = None
        for gamma in time_limit_discounts(limit, self.config.gamma):
            # Policy iteration for the candidates: discounts near 1 would take value iteration
            # (1 - gamma)^-1 sweeps and more; it solves each exactly in a few linear solves.
            changes: list[float] = []
            if gamma >= 1:  # an undiscounted plan exists only where every policy ends its episodes
                try:
                    solution = value_iteration(model, gamma, self.config.tol, self.config.max_iterations, changes)
                except RuntimeError:
                    continue
            else:
                solution = policy_iteration(model, gamma, changes=changes)
            score = time_limited_return(model, solution[2], start, limit)
            if best is None or score > best[0] + 1e-12:  # ties keep the earlier (the configured gamma)
                best = (score, solution, gamma, changes)
            if score >= optimum - 1e-9:
                break
        _, solution, gamma, self.sweep_changes = best
        return solution, gamma

    def learn(self, env, total_steps: int = 0, callback=None, progress_bar: bool = False):
        """Solve the env's model (an env or a function that makes one; no env steps: `total_steps`,
        `callback` and `progress_bar` are not used).

            >>> import gymnasium as gym
            >>> env = gym.make("FrozenLake-v1")
            >>> planner = ValueIteration(env.observation_space, env.action_space).learn(env)
            >>> planner.solved, planner.iterations > 0
            (True, True)
        """
        owned = not isinstance(env, gymnasium.Env)
        env = env() if owned else env
        try:
            model = tabular_model(get_transition_model(env))
            limit = env.spec.max_episode_steps if env.spec is not None else None
            start = start_distribution(env)
        finally:
            if owned:
                env.close()
        if (model.n_states, model.n_actions) != (self.n_states, self.n_actions):
            raise ValueError(f"the env's model has {model.n_states} states and {model.n_actions} actions; "
                             f"this agent was built for {self.n_states} and {self.n_actions}")
        self.sweep_changes = []
        if self.config.fit_time_limit:
            solution, self.planned_gamma = self._fit_time_limit(model, limit, start)
        else:
            solution, self.planned_gamma = self._solve(model, self.config.gamma, self.sweep_changes), self.config.gamma
        self.values, self.q_values, self.policy, self.iterations = solution
        self.solved = True
        return self

    def act(self, obs, deterministic: bool = True, rng: np.random.Generator | None = None) -> int:
        if not self.solved:
            raise RuntimeError(f"{self.name} has no policy yet: call learn(make_env) first")
        state = int(obs)
        if not 0 <= state < self.n_states or state != obs:
            raise ValueError(f"observation {obs!r} is not a state of {self.observation_space!r}")
        return int(self.policy[state])

    def _states(self, observations) -> list[int]:
        states = [int(o) for o in observations]
        if any(not 0 <= s < self.n_states or s != o for s, o in zip(states, observations)):
            raise ValueError(f"observations {list(observations)!r} are not all states of {self.observation_space!r}")
        return states

    def state_values(self, observations) -> np.ndarray:
        return self.values[self._states(observations)]

    def action_values(self, observations) -> np.ndarray:
        return self.q_values[self._states(observations)]


class PolicyIteration(ValueIteration):
    """Policy iteration: exact policy evaluation (a linear solve) alternating with greedy improvement.

        >>> import gymnasium as gym
        >>> env = gym.make("FrozenLake-v1")
        >>> solved = PolicyIteration(env.observation_space, env.action_space).learn(env)
        >>> bool((solved.policy == ValueIteration(env.observation_space, env.action_space).learn(env).policy).all())
        True
    """

    name = "policy_iteration"

    def _solve(self, model: TabularModel, gamma: float, changes: list | None):
        if self.config.horizon > 0:
            raise ValueError("policy_iteration solves infinite-horizon problems; use value_iteration for horizon > 0")
        return policy_iteration(model, gamma, min(self.config.max_iterations, 10_000), changes)
