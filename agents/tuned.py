"""Tuned hyperparameters per (agent name, gymnasium env id), read by the trainer.

Lookup order (rl_scratch.config): dataclass defaults < this table < config file < flags.
Each entry says how it was tuned and what it reaches (figures from benchmarks/agents.py).
"""

TUNED: dict[tuple[str, str], dict] = {}

# ------------------------------------------------------------- A2C and PPO
# Measured with benchmarks/agents_ppo.py (seeds 0-4 unless noted; deterministic evaluation).
TUNED.update({
    # rl-zoo's CartPole-v1 PPO (lr and clip range linear from 1e-3 and 0.2): first 20-episode
    # evaluation >= 475 after ~13k env steps (seed 0), like SB3 with the same values, in ~1/4 of its wall time.
    ("ppo", "CartPole-v1"): dict(n_envs=8, n_steps=32, batch_size=256, gae_lambda=0.8, gamma=0.98, n_epochs=20,
                                 ent_coef=0.0, lr=1e-3, anneal_lr=True, clip_range=0.2, anneal_clip=True),
    # rl-zoo's Acrobot values (normalized observations, lambda 0.94) with 10 epochs of 128-sample
    # minibatches: -80 after 100k steps (seeds 0-1); with 4 epochs it still sat near -500 at 100k.
    ("ppo", "Acrobot-v1"): dict(n_envs=8, n_steps=128, batch_size=128, n_epochs=10, lr=1e-3, gae_lambda=0.94,
                                normalize_obs=True),
    # One-hot cells: the greedy policy walks the optimal 8-step path (0.93) after 4k-5k steps (seeds 0-2).
    ("ppo", "rl_scratch/GridWorld-v0"): dict(n_envs=8, n_steps=32, batch_size=64, lr=1e-3, ent_coef=0.01),
    # 13x13 perfect maze, 32-step path (0.69): optimal after 13k-15k steps (seeds 0-2).
    ("ppo", "rl_scratch/GridWorld-Maze-v0"): dict(n_envs=8, n_steps=64, batch_size=128, lr=1e-3, ent_coef=0.01),
    # Short rollouts, larger steps than the CartPole defaults: optimal within 12k steps (seed 0, in the tests).
    ("a2c", "rl_scratch/GridWorld-v0"): dict(n_envs=8, n_steps=8, lr=3e-3, ent_coef=0.01, gae_lambda=0.95),
})
