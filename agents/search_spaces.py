"""Hyperparameter search spaces per agent, read by `python -m rl_scratch.tune`.

They sit beside the tuned defaults (`tuned.py`): the table says where an agent
starts, these say how far a search may wander from it. Ranges follow rl-baselines3-zoo's
hyperparams_opt.py where the agent has an equivalent there, narrowed to what trains in
a test-sized budget; each says why. A `--space FILE` (TOML) overrides or adds entries,
or fixes a value instead of searching it (see `rl_scratch.tune.space`).

Plain data, no Optuna: the agents package does not depend on the tuner's extra.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Uniform:
    """A float in [low, high]; log=True samples its logarithm uniformly (learning rates).

    >>> SPACES["dqn"]["lr"]
    Uniform(low=1e-05, high=0.01, log=True)
    """

    low: float
    high: float
    log: bool = False


@dataclass(frozen=True)
class Integer:
    """An int in [low, high]; log=True for sizes spanning orders of magnitude.

    >>> Integer(1, 20).high
    20
    """

    low: int
    high: int
    log: bool = False


@dataclass(frozen=True)
class Choice:
    """One of a few values (ints, floats, strings, booleans, or tuples such as layer sizes).

    >>> SPACES["ppo"]["hidden"].options[1]
    (64, 64)
    """

    options: tuple


@dataclass(frozen=True)
class BudgetFraction:
    """An integer step count drawn as a fraction of the trial's step budget (`--steps`).

    Schedules (exploration, learning-rate decay) only make sense relative to how long
    a run trains; an absolute range tuned for 100k steps is meaningless at 2k.

    >>> SPACES["qlearning"]["epsilon_decay_steps"]
    BudgetFraction(low=0.05, high=0.9)
    """

    low: float
    high: float


# Shared by the tabular agents: Q-learning and SARSA differ only in their target.
_TABULAR = {
    "lr": Uniform(0.01, 1.0, log=True),               # step size: 1 is an exact backup on deterministic envs (Taxi)
    "lr_end": Uniform(0.001, 1.0, log=True),          # final step size: small values average out slip noise
    "gamma": Choice((0.9, 0.95, 0.99, 0.999)),         # zoo's discrete gammas; episodic tasks want >= 0.9
    "epsilon_end": Uniform(0.0, 0.2),                 # greedy-ish at the end; the final evaluation is greedy anyway
    "epsilon_decay_steps": BudgetFraction(0.05, 0.9),  # explore for part of the budget, exploit the rest
    "lr_decay_steps": BudgetFraction(0.1, 1.0),
}

# Shared by A2C and PPO (zoo's sample_ppo_params / sample_a2c_params).
_ACTOR_CRITIC = {
    "gamma": Choice((0.9, 0.95, 0.98, 0.99, 0.995, 0.999)),   # zoo's list
    "gae_lambda": Choice((0.8, 0.9, 0.92, 0.95, 0.98, 1.0)),  # zoo's list
    "ent_coef": Uniform(1e-8, 0.1, log=True),                 # zoo: log-uniform 1e-8..0.1
    "vf_coef": Uniform(0.2, 1.0),                             # ours halves the mse, so 1.0 = SB3's 0.5
    "max_grad_norm": Choice((0.3, 0.5, 1.0, 2.0, 5.0)),       # zoo's list (shortened)
    "hidden": Choice(((64,), (64, 64), (128, 128), (256, 256))),  # zoo's "tiny/small/medium" nets
    "activation": Choice(("tanh", "relu")),                   # zoo's two
    "normalize_obs": Choice((False, True)),                   # helps on Acrobot (the zoo normalizes there)
}

SPACES: dict[str, dict] = {
    "qlearning": dict(_TABULAR),
    "sarsa": dict(_TABULAR),
    # zoo's sample_dqn_params, with the exploration and warm-up as fractions of the budget.
    "dqn": {
        "lr": Uniform(1e-5, 1e-2, log=True),                   # zoo: log-uniform 1e-5..1
        "gamma": Choice((0.9, 0.95, 0.98, 0.99, 0.995, 0.999)),
        "batch_size": Choice((32, 64, 128, 256)),              # zoo: 16..512
        "buffer_size": Choice((10_000, 50_000, 100_000)),      # zoo: 1e4..1e6; our budgets are small
        "train_freq": Choice((1, 4, 8, 16, 128, 256)),         # zoo's list (the CartPole entry trains every 256)
        "gradient_steps": Choice((1, 4, 16, 64, 128)),         # zoo ties it to train_freq; free here
        "target_update_interval": Choice((1, 250, 1000, 5000)),  # zoo's list (1: Polyak-free hard copy every step)
        "epsilon_end": Uniform(0.0, 0.2),                      # zoo's exploration_final_eps
        "exploration_steps": BudgetFraction(0.05, 0.5),        # zoo's exploration_fraction 0..0.5
        "learning_starts": BudgetFraction(0.0, 0.1),           # zoo: 0..20k absolute
        "hidden": Choice(((64,), (64, 64), (128, 128), (256, 256))),
    },
    # Our REINFORCE: the batch of whole episodes is its main knob.
    "reinforce": {
        "lr": Uniform(1e-4, 3e-2, log=True),
        "gamma": Choice((0.95, 0.99, 0.999)),
        "batch_episodes": Choice((4, 8, 16, 32)),
        "ent_coef": Uniform(1e-8, 0.1, log=True),
        "hidden": Choice(((32,), (64,), (64, 64), (128, 128))),
        "baseline": Choice(("value", "mean")),
    },
    "a2c": {
        **_ACTOR_CRITIC,
        "lr": Uniform(1e-5, 1e-2, log=True),                # zoo: log-uniform 1e-5..1
        "n_steps": Choice((5, 8, 16, 32, 64)),              # zoo: 8..2048; A2C wants short rollouts
        "n_envs": Choice((4, 8, 16)),
        "normalize_advantages": Choice((False, True)),
    },
    "ppo": {
        **_ACTOR_CRITIC,
        "lr": Uniform(1e-5, 1e-2, log=True),                # zoo: log-uniform 1e-5..1
        "n_steps": Choice((16, 32, 64, 128, 256)),           # zoo: 8..2048, per env
        "n_envs": Choice((4, 8, 16)),
        # zoo: 8..512; a batch above the rollout (n_envs * n_steps) is an invalid trial, pruned at once
        "batch_size": Choice((32, 64, 128, 256)),
        "n_epochs": Choice((1, 5, 10, 20)),                 # zoo's list
        "clip_range": Choice((0.1, 0.2, 0.3, 0.4)),         # zoo's list
        "anneal_clip": Choice((False, True)),               # zoo's "lin_" schedules
    },
}
