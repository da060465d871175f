"""rl-scratch: reinforcement learning from scratch on NumPy."""

from rl_scratch.envs import register_envs

register_envs()
