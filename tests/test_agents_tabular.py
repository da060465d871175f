"""Planners (value/policy iteration) and tabular Q-learning/SARSA."""

import gymnasium as gym
import numpy as np
import pytest

import rl_scratch  # noqa: F401  (registers rl_scratch/GridWorld-v0)
from rl_scratch.agents import SARSA, PolicyIteration, QLearning, ValueIteration, evaluate
from rl_scratch.agents.common import Schedule, greedy
from rl_scratch.agents.planning import (finite_horizon_value_iteration, get_transition_model, policy_iteration,
                                        tabular_model, value_iteration)

GRID_ID = "rl_scratch/GridWorld-v0"


def make_grid():
    return gym.make(GRID_ID)


def hand_built_3x3():
    """Deterministic 3x3 grid, goal in the bottom-right corner: reward 1 on entering it, else 0.

    Actions 0 up, 1 right, 2 down, 3 left; bumping the border stays put. The goal is absorbing.
    """
    moves = [(-1, 0), (0, 1), (1, 0), (0, -1)]
    goal = 8
    P = []
    for s in range(9):
        row, col = divmod(s, 3)
        per_action = []
        for dr, dc in moves:
            if s == goal:
                per_action.append([(1.0, s, 0.0, True)])
                continue
            r, c = min(max(row + dr, 0), 2), min(max(col + dc, 0), 2)
            ns = r * 3 + c
            per_action.append([(1.0, ns, 1.0 if ns == goal else 0.0, ns == goal)])
        P.append(per_action)
    return P


def test_value_iteration_matches_hand_computed_values_on_3x3():
    gamma = 0.9
    values, q, policy, _ = value_iteration(tabular_model(hand_built_3x3()), gamma)
    # V(s) = gamma ** (d - 1) for Manhattan distance d >= 1 to the goal: the reward arrives on the d-th move.
    expected = [gamma ** 3, gamma ** 2, gamma, gamma ** 2, gamma, 1.0, gamma, 1.0, 0.0]
    np.testing.assert_allclose(values, expected, atol=1e-9)
    # Q of moving away from the goal at the start: one extra move, so gamma * V(start).
    np.testing.assert_allclose(q[0, 0], gamma * values[0], atol=1e-9)
    assert policy[5] == 2 and policy[7] == 1  # straight into the goal
    assert all(policy[s] in (1, 2) for s in range(8))  # always right or down


def test_policy_iteration_agrees_with_value_iteration():
    for P, gamma in ((hand_built_3x3(), 0.9), (get_transition_model(make_grid()), 0.99)):
        model = tabular_model(P)
        v_vi, q_vi, _, _ = value_iteration(model, gamma)
        v_pi, _, policy, _ = policy_iteration(model, gamma)
        np.testing.assert_allclose(v_pi, v_vi, atol=1e-7)
        states = np.arange(model.n_states)
        np.testing.assert_allclose(q_vi[states, policy], v_vi, atol=1e-7)  # PI's actions are optimal


def test_value_iteration_on_gridworld_gives_the_documented_optimum():
    env = make_grid()
    values, _, _, _ = value_iteration(tabular_model(get_transition_model(env)), gamma=1.0)
    assert values[env.unwrapped.start_state] == pytest.approx(0.93, abs=1e-9)

    agent = ValueIteration(env.observation_space, env.action_space, ValueIteration.Config(gamma=0.99))
    agent.learn(make_grid)
    assert evaluate(agent, env, episodes=2, seed=0)["mean_return"] == pytest.approx(0.93)


def test_finite_horizon_frozenlake_optimum():
    env = gym.make("FrozenLake-v1")
    values, _, _ = finite_horizon_value_iteration(tabular_model(env.unwrapped.P), horizon=100)
    assert values[0] == pytest.approx(0.744, abs=5e-4)
    infinite, _, _, _ = value_iteration(tabular_model(env.unwrapped.P), gamma=1.0, tol=1e-9)
    assert infinite[0] == pytest.approx(0.824, abs=5e-4)


def test_value_iteration_agent_save_load(tmp_path):
    env = make_grid()
    agent = PolicyIteration(env.observation_space, env.action_space).learn(make_grid)
    agent.save(tmp_path / "pi.npz")
    loaded = PolicyIteration.load(tmp_path / "pi.npz")
    assert [loaded.act(s) for s in range(25)] == [agent.act(s) for s in range(25)]
    with pytest.raises(RuntimeError, match="learn"):
        ValueIteration(env.observation_space, env.action_space).act(0)


def test_schedules():
    linear = Schedule(1.0, 0.1, 10)
    assert linear(0) == 1.0 and linear(5) == pytest.approx(0.55) and linear(10) == linear(100) == pytest.approx(0.1)
    exponential = Schedule(1.0, 0.01, 10, "exponential")
    assert exponential(5) == pytest.approx(0.1) and exponential(50) == pytest.approx(0.01)
    assert Schedule(0.3, 0.0, 10, "constant")(7) == 0.3
    with pytest.raises(ValueError, match="exponential"):
        Schedule(1.0, 0.0, 10, "exponential")


def test_greedy_breaks_ties_at_random():
    rng = np.random.default_rng(0)
    picks = {greedy(np.array([1.0, 3.0, 3.0, 0.0]), rng) for _ in range(50)}
    assert picks == {1, 2}
    assert greedy(np.array([0.0, 2.0, 1.0]), rng) == 1


def reachable_states(env, policy) -> set:
    """States visited from the start following a deterministic policy on the deterministic GridWorld."""
    base = env.unwrapped
    s, seen = base.start_state, set()
    while s not in seen and not base.absorbing[s]:
        seen.add(s)
        s = int(base.next_state[s, policy[s]])
    return seen


@pytest.mark.parametrize("agent_cls, settings", [
    # Deterministic moves: a step size of 1 makes each update an exact Bellman backup.
    (QLearning, dict(lr=1.0, lr_end=1.0, epsilon_end=0.2, epsilon_decay_steps=5_000)),
    # SARSA learns the values of its epsilon-greedy behaviour: epsilon must vanish for them to become optimal.
    (SARSA, dict(lr=0.5, lr_end=0.05, lr_decay_steps=20_000, epsilon_end=0.0, epsilon_decay_steps=15_000)),
])
def test_tabular_greedy_policy_is_optimal_on_gridworld(agent_cls, settings):
    env = make_grid()
    gamma = 0.99
    values, q_star, vi_policy, _ = value_iteration(tabular_model(get_transition_model(env)), gamma)
    config = agent_cls.Config(gamma=gamma, **settings)
    agent = agent_cls(env.observation_space, env.action_space, config, seed=0).learn(make_grid, 20_000)
    learned = agent.greedy_policy()
    states = reachable_states(env, learned)
    if agent_cls is QLearning:
        # Off-policy and exploring to the end, Q-learning also knows the optimal route it does not take.
        states |= reachable_states(env, vi_policy)
    for s in states:
        # Several shortest paths exist: the learned action must be optimal, not identical to VI's tie-break.
        assert q_star[s, learned[s]] == pytest.approx(values[s], abs=1e-6), f"state {s}"
    assert evaluate(agent, env, episodes=1, seed=0)["mean_return"] == pytest.approx(0.93)


def test_qlearning_seeded_runs_are_identical_and_resume(tmp_path):
    env = make_grid()
    curves = []
    agents = []
    for _ in range(2):
        curve = []
        agent = QLearning(env.observation_space, env.action_space, seed=3)
        agent.learn(make_grid, 3000, callback=lambda r: curve.append((r["step"], r["return"])))
        curves.append(curve)
        agents.append(agent)
    assert curves[0] == curves[1] and len(curves[0]) > 5
    np.testing.assert_array_equal(agents[0].q_table, agents[1].q_table)
    other = QLearning(env.observation_space, env.action_space, seed=4).learn(make_grid, 3000)
    assert not np.array_equal(other.q_table, agents[0].q_table)

    agents[0].save(tmp_path / "q.npz")
    loaded = QLearning.load(tmp_path / "q.npz")
    assert loaded.steps == agents[0].steps and loaded.episodes == agents[0].episodes
    agents[0].learn(make_grid, 1000)  # 1000 more steps
    loaded.learn(make_grid, 1000)
    assert loaded.steps == 4000
    np.testing.assert_array_equal(loaded.q_table, agents[0].q_table)


def test_callback_false_stops_learning():
    env = make_grid()
    agent = QLearning(env.observation_space, env.action_space)
    agent.learn(make_grid, 10_000, callback=lambda record: record["episode"] < 3)
    assert agent.episodes == 3 and agent.steps < 10_000


@pytest.mark.parametrize("agent_cls", [QLearning, SARSA])
def test_callback_sees_the_current_q_table(agent_cls):
    """The trainer evaluates and checkpoints from the callback: it must see what was learned so far."""
    env = make_grid()
    agent = agent_cls(env.observation_space, env.action_space)
    seen = []
    agent.learn(make_grid, 3000, callback=lambda record: seen.append(agent.q_table.copy()))
    assert len(seen) >= 2 and np.any(seen[0] != 0), "the first episode's updates are visible"
    assert np.any(seen[-1] != seen[0]), "later episodes' updates are visible"


def test_tabular_agents_refuse_unsupported_spaces():
    box_obs = gym.spaces.Box(0, 1, (2,), np.float32)
    with pytest.raises(ValueError, match="Discrete observation space"):
        QLearning(box_obs, gym.spaces.Discrete(4))
    with pytest.raises(ValueError, match="Discrete action spaces; got Box"):
        SARSA(gym.spaces.Discrete(5), gym.spaces.Box(-1, 1, (1,), np.float32))
    agent = QLearning(gym.spaces.Discrete(5), gym.spaces.Discrete(2))
    with pytest.raises(ValueError, match="not a state"):
        agent.act(7)
    with pytest.raises(ValueError, match="integer state"):
        agent.act(np.zeros(3))
