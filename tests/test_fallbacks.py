"""The fallback defaults for Gymnasium ids no table entry names (rl_scratch.config.env_defaults),
judged by the final policy."""

from __future__ import annotations

import json
from types import SimpleNamespace

import gymnasium as gym
import numpy as np

from rl_scratch import config as cfg
from rl_scratch.agents import evaluate
from rl_scratch.agents.planning import (ValueIteration, finite_horizon_value_iteration, get_transition_model,
                                        start_distribution, tabular_model, time_limited_return)
from rl_scratch.agents.tuned import TUNED

from cli_support import train


def planned(env_id: str, **flags):
    """The agent the trainer's defaults make for env_id, planned on a fresh env, and that env."""
    resolved = cfg.resolve({"env": env_id, **flags}, {})
    env = cfg.make_env(env_id, resolved.settings.env_kwargs)
    agent = resolved.agent_cls(env.observation_space, env.action_space, resolved.agent_config).learn(env)
    return agent, env


def exact_return(agent, env) -> float:
    """The final policy's expected return under the env's time limit, computed from the model (no sampling)."""
    model = tabular_model(get_transition_model(env))
    return time_limited_return(model, agent.policy, start_distribution(env), env.spec.max_episode_steps)


def test_fallback_planner_fits_its_policy_to_the_time_limit():
    """FrozenLake8x8-v1 (200 steps): gamma 0.99's policy succeeds 0.863 of the time; the policy the
    fallback picks, 0.894 (the time-dependent optimum is 0.913)."""
    agent, env = planned("FrozenLake8x8-v1")
    assert agent.name == "value_iteration" and agent.config.fit_time_limit
    model = tabular_model(get_transition_model(env))
    plain = ValueIteration(env.observation_space, env.action_space).learn(env)
    optimum = float(start_distribution(env) @ finite_horizon_value_iteration(model, 200)[0])
    fitted = exact_return(agent, env)
    assert fitted >= 0.89 and fitted >= exact_return(plain, env) + 0.02
    assert fitted <= optimum + 1e-9
    assert agent.planned_gamma != agent.config.gamma


def test_fallback_planner_keeps_gamma_where_it_is_already_optimal():
    # Deterministic moves (100 steps): gamma 0.99 walks the shortest path, the optimum 1.0; no time limit
    # (CliffWalking-v1): nothing to fit, the configured discount's policy (-13, the shortest safe path).
    agent, env = planned("FrozenLake8x8-v1", env_kwargs={"is_slippery": False})
    assert exact_return(agent, env) == 1.0 and agent.planned_gamma == agent.config.gamma
    agent, env = planned("CliffWalking-v1")
    model = tabular_model(get_transition_model(env))
    assert time_limited_return(model, agent.policy, start_distribution(env), 100) == -13.0
    assert agent.planned_gamma == agent.config.gamma


def test_fallback_values_are_for_the_fallback_agent_only():
    frozen = cfg.resolve({"env": "FrozenLake8x8-v1"}, {})
    assert frozen.hyperparameter_sources["fit_time_limit"].startswith("env defaults")
    other = cfg.resolve({"env": "FrozenLake8x8-v1", "agent": "qlearning"}, {})
    assert "fit_time_limit" not in other.hyperparameter_sources


def test_fallback_run_final_policy_matches_its_exact_value(tmp_path):
    """The trainer's final evaluation of the fallback's policy, next to its exact expected return."""
    out = tmp_path / "run"
    result = train("--env", "FrozenLake8x8-v1", "--seed", "1", "--out", out, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    config = json.loads((out / "config.json").read_text())
    assert config["agent"] == "value_iteration" and config["hyperparameters"]["fit_time_limit"] is True
    final = json.loads((out / "eval.json").read_text())["final"]
    agent, env = planned("FrozenLake8x8-v1")
    expected = exact_return(agent, env)
    assert final["n"] == 1000 and expected >= 0.89
    assert abs(final["mean"] - expected) <= 3 * np.sqrt(expected * (1 - expected) / final["n"])


def test_box_fallback_is_the_dqn_recipe_tuned_on_acrobot():
    # 50k steps of it ended CartPole-v0 at 195.3, 200, 200, 200, 200 (seeds 1-5); DQN's own defaults: 43.6 (seed 1).
    resolved = cfg.resolve({"env": "CartPole-v0"}, {})
    assert resolved.settings.agent == "dqn" and resolved.settings.final_eval_episodes == 100
    recipe = TUNED[("dqn", "Acrobot-v1")]
    assert {key: getattr(resolved.agent_config, key) for key in recipe} == recipe
    assert all(resolved.hyperparameter_sources[key].startswith("env defaults") for key in recipe)


class Corridor(gym.Env):
    """Cells 0..9 in a row, start at 0; left or right; reward 1 on reaching cell 9. No transition table."""

    observation_space = gym.spaces.Discrete(10)
    action_space = gym.spaces.Discrete(2)

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.cell = 0
        return 0, {}

    def step(self, action):
        self.cell = min(max(self.cell + (1 if action == 1 else -1), 0), 9)
        return self.cell, float(self.cell == 9), self.cell == 9, False, {}


def test_fallback_qlearning_scales_to_the_table_and_ends_optimal():
    if "test_fallbacks/Corridor-v0" not in gym.registry:
        gym.register("test_fallbacks/Corridor-v0", entry_point=Corridor, max_episode_steps=50)
    resolved = cfg.resolve({"env": "test_fallbacks/Corridor-v0", "seed": 1}, {})
    config, steps = resolved.agent_config, resolved.settings.steps
    assert resolved.settings.agent == "qlearning" and steps == 50_000  # 1000 per (state, action), at least 50k
    assert (config.epsilon_decay_steps, config.lr_decay_steps, config.lr, config.lr_end) == (steps // 2, steps, 0.1, 0.01)
    # Larger tables get more steps, up to 500k.
    for states, actions, budget in ((40, 4, 160_000), (500, 6, 500_000)):
        table = SimpleNamespace(observation_space=gym.spaces.Discrete(states), action_space=gym.spaces.Discrete(actions))
        assert cfg.qlearning_fallback(table)["steps"] == budget
    env = cfg.make_env("test_fallbacks/Corridor-v0", {})
    agent = resolved.agent_cls(env.observation_space, env.action_space, config, seed=1)
    agent.learn(lambda: cfg.make_env("test_fallbacks/Corridor-v0", {}), steps)
    final = evaluate(agent, env, episodes=5, seed=1)
    assert final["mean_return"] == 1.0 and max(final["lengths"]) == 9  # the shortest way, every time
