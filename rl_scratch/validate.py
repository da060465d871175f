"""What each hyperparameter may be, and what a configuration would cost in memory.

Checked before anything is built or written (the callers turn the ValueErrors
raised here into ConfigErrors), so a bad value is one `error:` line
naming the value, where it came from and what it may be, never a crash half-way
through a run (a NaN clip range that never learns, a negative clip norm that
climbs the loss, a buffer larger than the machine).
"""

from __future__ import annotations

import math
import os

import numpy as np
from gymnasium import spaces

# (low, high, low_open): the closed or half-open interval a number must lie in; every number must be finite.
PROBABILITY = (0.0, 1.0, False)
POSITIVE = (0.0, math.inf, True)
NON_NEGATIVE = (0.0, math.inf, False)
ANY = (-math.inf, math.inf, False)
AT_LEAST_ONE = (1, math.inf, False)

RANGES = {
    **dict.fromkeys(("gamma", "gae_lambda", "epsilon_start", "epsilon_end"), PROBABILITY),
    "tau": (0.0, 1.0, True),
    **dict.fromkeys(("lr", "lr_end", "clip_range", "huber_delta", "tol", "max_grad_norm"), POSITIVE),
    **dict.fromkeys(("clip_value", "ent_coef", "vf_coef", "target_kl", "weight_decay", "sample_temperature"),
                    NON_NEGATIVE),
    "initial_q": ANY,
    **dict.fromkeys(("attention_dim", "attention_heads", "attention_layers", "batch_episodes", "batch_size",
                     "buffer_size", "gpt_dim", "gpt_heads", "gpt_layers", "gradient_steps", "max_iterations",
                     "n_envs", "n_epochs", "n_steps", "sample_length", "train_freq", "target_update_interval",
                     "report_examples", "hidden"), AT_LEAST_ONE),
    **dict.fromkeys(("epsilon_decay_steps", "exploration_steps", "horizon", "learning_starts", "lr_decay_steps"),
                    NON_NEGATIVE),
}
# Where one agent reads a field differently: the supervised agent's 0 means "no clipping".
AGENT_RANGES = {("supervised", "max_grad_norm"): NON_NEGATIVE}


def _describe_range(rule) -> str:
    low, high, low_open = rule
    if rule == PROBABILITY:
        return "a probability in [0, 1]"
    if high == math.inf and low == -math.inf:
        return "a finite number"
    if high == math.inf:
        return f"a finite number {'>' if low_open else '>='} {low:g}"
    return f"in {'(' if low_open else '['}{low:g}, {high:g}]"


def _in_range(value, rule) -> bool:
    low, high, low_open = rule
    if not math.isfinite(value):
        return False
    return (value > low if low_open else value >= low) and value <= high


def check_hyperparameters(agent_name: str, values: dict, sources: dict | None = None) -> None:
    """Every number in `values` (a Config's fields) finite and in its range; ValueError otherwise.

    `sources` (field -> "command line", "config.toml", ...) names where a value came from.
    """
    sources = sources or {}
    for key, value in values.items():
        rule = AGENT_RANGES.get((agent_name, key), RANGES.get(key))
        items = value if isinstance(value, (tuple, list)) else (value,)
        for item in items:
            if isinstance(item, bool) or not isinstance(item, (int, float, np.integer, np.floating)):
                continue  # strings and flags: the agent's Config checks its choices
            where = f" (from {sources[key]})" if key in sources else ""
            if not math.isfinite(item):
                raise ValueError(f"{key}={item} is not a finite number{where}")
            if rule is not None and not _in_range(item, rule):
                what = "each hidden layer size must be an integer >= 1" if key == "hidden" else \
                    f"{key} must be {_describe_range(rule)}"
                raise ValueError(f"{what}, got {key}={value}{where}")


# ----------------------------------------------------------------- memory
FLOAT_BYTES = 4
# Each network parameter is held as weight, gradient and Adam's two moments.
COPIES_PER_PARAMETER = 4


def _features(space) -> int:
    if isinstance(space, spaces.Discrete):
        return int(space.n)
    return int(np.prod(space.shape, dtype=object)) if getattr(space, "shape", None) else 1


def _mlp_parameters(sizes: list[int]) -> int:
    return sum((a + 1) * b for a, b in zip(sizes[:-1], sizes[1:]))


def estimate_memory(agent_name: str, values: dict, observation_space, action_space) -> dict[str, int]:
    """Bytes the largest parts of an agent would take: {"network": ..., "replay buffer": ..., ...}.

    A rough lower bound from the config alone (Python ints, so an absurd size
    cannot overflow): MLP layers, attention/GPT blocks, the replay buffer and the
    rollout. Tabular agents: the Q-table.
    """
    obs = _features(observation_space)
    actions = int(action_space.n) if isinstance(action_space, spaces.Discrete) else _features(action_space)
    parts: dict[str, int] = {}
    if "hidden" not in values and "policy" not in values:
        if isinstance(observation_space, spaces.Discrete):
            parts["Q-table"] = obs * actions * 8
        return parts
    hidden = [int(h) for h in values.get("hidden", ())]
    policy = values.get("policy", "mlp")
    parameters = 0
    if policy in ("attention", "token_attention"):
        dim, layers = int(values.get("attention_dim", 32)), int(values.get("attention_layers", 1))
        parameters += 12 * layers * dim * dim + (obs + 1) * dim
        head_in = dim
    elif policy == "gpt":
        dim, layers = int(values.get("gpt_dim", 64)), int(values.get("gpt_layers", 2))
        parameters += 12 * layers * dim * dim + 2 * actions * dim
        head_in = dim
    else:
        head_in = obs
    heads = 2 if "n_steps" in values or "baseline" in values else 1  # actor and critic
    if "buffer_size" in values:
        heads = 2  # the online and the target network
    parameters += heads * _mlp_parameters([head_in, *hidden, actions])
    parts["network"] = parameters * FLOAT_BYTES * COPIES_PER_PARAMETER
    if "buffer_size" in values:
        parts["replay buffer"] = int(values["buffer_size"]) * (2 * obs * FLOAT_BYTES + 16)
    if "n_steps" in values:
        parts["rollout"] = int(values["n_steps"]) * int(values.get("n_envs", 1)) * (obs * FLOAT_BYTES + 32)
    batch = max(int(values.get("batch_size", 1)), int(values.get("n_envs", 1)))
    parts["activations"] = batch * (obs + sum(hidden) + actions) * FLOAT_BYTES * 4
    return parts


def machine_memory() -> int | None:
    """Physical memory in bytes, or None where the OS does not say."""
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return None


def _human(n: int) -> str:
    for unit, size in (("PB", 1e15), ("TB", 1e12), ("GB", 1e9), ("MB", 1e6)):
        if n >= size:
            return f"{n / size:.1f} {unit}"
    return f"{n} bytes"


def check_memory(agent_name: str, values: dict, observation_space, action_space, what: str) -> None:
    """ValueError with the estimate when `values` would need more memory than this machine has."""
    available = machine_memory()
    if available is None:
        return
    parts = estimate_memory(agent_name, values, observation_space, action_space)
    total = sum(parts.values())
    if total > available:
        largest = sorted(parts, key=parts.get, reverse=True)[:2]
        shown = ", ".join(f"{name} {_human(parts[name])}" for name in largest)
        raise ValueError(f"{what} needs about {_human(total)} of memory ({shown}), "
                          f"more than this machine's {_human(available)}: lower hidden, buffer_size or n_steps")
