"""Tuned hyperparameters per (agent name, gymnasium env id), read by the trainer.

Lookup order (rl_scratch.config): dataclass defaults < this table < config file < flags.
Each entry says how it was tuned and what it reaches (figures from benchmarks/agents.py).
"""

TUNED: dict[tuple[str, str], dict] = {}
