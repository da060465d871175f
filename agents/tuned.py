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
    # One hidden layer of 32 generalizes best on 120 flowers (benchmarks/supervised.py, split seeds
    # 0..19, 20k steps): mean test accuracy 0.952 on the env's splits (scikit-learn's MLPClassifier(64, 64):
    # 0.945) and 0.972 on scikit-learn's train_test_split splits (MLPClassifier 0.962); (64, 64): 0.937 / 0.953.
    ("supervised", "rl_scratch/Iris-v0"): dict(hidden=(32,)),
    # A 65-way contextual bandit with reward only for the exact character: without the entropy bonus
    # the policy collapses onto the most frequent character (accuracy 0.172 = the unigram baseline)
    # within 5k steps. With it, 100k steps reach 0.232 validation accuracy on the default corpus
    # (unigram 0.176, bigram 0.300). Needs policy="gpt"; a gpt policy has no value network.
    ("reinforce", "rl_scratch/NextToken-v0"): dict(policy="gpt", baseline="mean", ent_coef=0.05, lr=1e-3,
                                                   batch_episodes=64, n_envs=16),
}
