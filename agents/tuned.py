"""Tuned hyperparameters per (agent name, gymnasium env id), read by the trainer.

Lookup order (rl_scratch.config): dataclass defaults < this table < config file < flags.
Each entry says how it was tuned and what it reaches (figures from benchmarks/agents.py,
medians over seeds on the shared 2-core machine).
"""

TUNED: dict[tuple[str, str], dict] = {
    # Slippery 4x4, 100-step limit, 200k steps. gamma 0.99 keeps the long safe detours the optimum
    # takes; a small decaying step size averages out the slip noise. Hand-tuned over a few runs:
    # success rate 0.744-0.753 over 1000 episodes (3 seeds); finite-horizon optimum 0.744.
    ("qlearning", "FrozenLake-v1"): dict(gamma=0.99, lr=0.05, lr_end=0.005, lr_decay_steps=200_000,
                                         epsilon_decay_steps=100_000),
    # Deterministic moves: step size 1 makes each update an exact backup. 100k steps:
    # mean return 7.8-7.99 over 1000 episodes (3 seeds); optimum 7.93.
    ("qlearning", "Taxi-v4"): dict(lr=1.0, lr_end=1.0, epsilon_decay_steps=50_000),
}
