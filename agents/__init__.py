"""Reinforcement-learning agents on NumPy: planners (value/policy iteration), tabular
Q-learning and SARSA, DQN, REINFORCE, A2C and PPO, and a supervised learner for
single-step labelled envs (Iris, NextToken), all with one interface (`Agent` in
base.py: `act`, `predict`, `learn`, `save`, `load`), ready callbacks (callbacks.py)
and `evaluate`.

    >>> import gymnasium as gym
    >>> from rl_scratch.agents import PPO, evaluate
    >>> env = gym.make("CartPole-v1")
    >>> agent = PPO(env.observation_space, env.action_space, seed=0).learn(env, 2048)
    >>> evaluate(agent, env, episodes=3)["mean_return"] > 0
    True
"""

from .a2c import A2C
from .base import Agent
from .callbacks import CallbackList, CheckpointCallback, EvalCallback, ProgressBar, StopOnReward
from .checkpoint import FORMAT_VERSION, ensure_compatible
from .common import evaluate
from .dqn import DQN
from .planning import PolicyIteration, ValueIteration
from .ppo import PPO
from .qlearning import SARSA, QLearning
from .reinforce import REINFORCE
from .registry import AGENTS, get_agent, load_agent
from .supervised import Supervised, evaluation_report

__all__ = ["Agent", "AGENTS", "get_agent", "load_agent", "evaluate", "ensure_compatible", "FORMAT_VERSION",
           "CallbackList", "EvalCallback", "CheckpointCallback", "StopOnReward", "ProgressBar",
           "QLearning", "SARSA", "ValueIteration", "PolicyIteration", "DQN", "REINFORCE", "A2C", "PPO",
           "Supervised", "evaluation_report"]
