"""rl-scratch: reinforcement learning from scratch on NumPy."""
