"""Reinforcement-learning agents on NumPy: planners (value/policy iteration), tabular
Q-learning and SARSA, DQN, REINFORCE, A2C and PPO, and a supervised learner for
single-step labelled envs (Iris, NextToken), all with one interface
(`act`, `learn`, `save`, `load`; see each module's docstring).

    from rl_scratch.agents import get_agent, evaluate
    agent = get_agent("dqn")(env.observation_space, env.action_space, seed=0)
    agent.learn(lambda: gymnasium.make("CartPole-v1"), total_steps=50_000)
"""

from .a2c import A2C
from .checkpoint import FORMAT_VERSION, ensure_compatible
from .common import evaluate
from .dqn import DQN
from .planning import PolicyIteration, ValueIteration
from .ppo import PPO
from .qlearning import SARSA, QLearning
from .reinforce import REINFORCE
from .registry import AGENTS, get_agent, load_agent
from .supervised import Supervised, evaluation_report

__all__ = ["AGENTS", "get_agent", "load_agent", "evaluate", "ensure_compatible", "FORMAT_VERSION",
           "QLearning", "SARSA", "ValueIteration", "PolicyIteration", "DQN", "REINFORCE", "A2C", "PPO",
           "Supervised", "evaluation_report"]
