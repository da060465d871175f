"""rl-scratch: reinforcement learning from scratch on NumPy."""

# The one place the version is written: pyproject.toml reads it from here (dynamic version).
__version__ = "0.1.0"

from rl_scratch.envs import register_envs  # noqa: E402

register_envs()
