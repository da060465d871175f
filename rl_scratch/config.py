"""What a training run does, resolved from four layers.

Lookup order, later layers win:

1. dataclass defaults: `TrainSettings` for the trainer, each agent's `Config`;
2. the tables: `ENV_DEFAULTS` below (per env: which agent, policy, budget and env
   options) and the agents' tuned hyperparameters per (agent, env) in
   `rl_scratch.agents.tuned`;
3. a config file (`--config FILE`, TOML or JSON, same keys as a run's config.json);
4. command-line flags.

Each default lives in exactly one of these places.
"""

from __future__ import annotations

import ast
import dataclasses
import difflib
import importlib
import json
import math
from dataclasses import dataclass, field
from pathlib import Path

import gymnasium
import numpy as np

from rl_scratch.console import command
from rl_scratch.envs import ENV_SPECS
from rl_scratch.envs.success import GOAL_ENVS, IsSuccess
from rl_scratch.validate import check_hyperparameters


# The library side; the rest serves the trainer's command line.
__all__ = ["ConfigError", "resolve_env_id", "make_env", "load_config_file", "tuned_hyperparameters"]


class ConfigError(Exception):
    """A bad env, agent, flag value or config file; the message names the problem and the fix.

        >>> make_env("FrozenLake-v1", {"map_name": "3x3"})
        Traceback (most recent call last):
        ...
        rl_scratch.config.ConfigError: cannot make FrozenLake-v1 with options {'map_name': '3x3'}: it knows no '3x3'
    """


# ------------------------------------------------------------------- envs
def _short_name(env_id: str) -> str:
    """rl_scratch/GridWorld-8x8-v0 -> GridWorld-8x8."""
    name = env_id.split("/", 1)[-1]
    stem, _, version = name.rpartition("-v")
    return stem if stem and version.isdigit() else name


# Short names of our own envs: GridWorld, GridWorld-8x8, ..., Iris, NextToken.
SHORT_NAMES: dict[str, str] = {_short_name(env_id): env_id for env_id in ENV_SPECS}


def resolve_env_id(name: str) -> str:
    """A short name (any case) or a registered Gymnasium id -> the Gymnasium id.

    Unknown names raise ConfigError with the closest short names and ids.
    `module:EnvId-v0` (Gymnasium's syntax) imports `module`, which registers its
    envs, and stays as given so that every later `gymnasium.make` (vector envs,
    `play` in another process) imports it again.

        >>> resolve_env_id("gridworld-maze"), resolve_env_id("cartpole-v1")
        ('rl_scratch/GridWorld-Maze-v0', 'CartPole-v1')
        >>> resolve_env_id("CartPol-v1")
        Traceback (most recent call last):
        ...
        rl_scratch.config.ConfigError: unknown env 'CartPol-v1'; did you mean CartPole-v1, ...
    """
    if ":" in name:
        return _import_env_id(name)
    lowered = {short.lower(): env_id for short, env_id in SHORT_NAMES.items()}
    if name.lower() in lowered:
        return lowered[name.lower()]
    if name in gymnasium.registry:
        return name
    ids_by_lower = {env_id.lower(): env_id for env_id in gymnasium.registry}
    if name.lower() in ids_by_lower:
        return ids_by_lower[name.lower()]
    candidates = {**{short.lower(): short for short in SHORT_NAMES}, **ids_by_lower}
    close = difflib.get_close_matches(name.lower(), list(candidates), n=3, cutoff=0.6)
    hint = f"; did you mean {', '.join(candidates[c] for c in close)}?" if close else ""
    raise ConfigError(f"unknown env {name!r}{hint} (`{command('train')} --list` shows the envs)")


def _import_env_id(name: str) -> str:
    module, _, env_id = name.partition(":")
    try:
        importlib.import_module(module)
    except Exception as error:  # any failure inside the user's module is theirs to see, in one line
        raise ConfigError(f"cannot import module {module!r} of --env {name}: {type(error).__name__}: {error} "
                          "(is it on PYTHONPATH / installed?)") from None
    if env_id not in gymnasium.registry:
        ours = sorted(i for i, spec in gymnasium.registry.items() if spec.entry_point
                      and str(spec.entry_point).startswith(module))
        hint = f"; it registers {', '.join(ours)}" if ours else ""
        raise ConfigError(f"module {module!r} does not register an env {env_id!r}{hint}")
    return name


def display_name(env_id: str) -> str:
    """The short name of one of our envs, else the Gymnasium id."""
    short = _short_name(env_id)
    return short if SHORT_NAMES.get(short) == env_id else env_id


@dataclass(frozen=True)
class EnvDefaults:
    """The trainer's choices for one env; the agent's hyperparameters live in agents/tuned.py."""

    agent: str
    """agent trained when --agent is not given"""
    policy: str | None = None
    """network kind (mlp or attention) for agents that have one"""
    steps: int = 50_000
    """env-step budget when neither --steps nor --episodes is given"""
    env_kwargs: dict = field(default_factory=dict)
    """gymnasium.make options for every agent"""
    input_env_kwargs: dict = field(default_factory=dict)
    """extra gymnasium.make options per agent input: "tabular", "mlp" or "attention"
    (e.g. GridWorld's obs_mode: integer states for tables, one-hot vectors for an MLP)"""
    eval_env_kwargs: dict = field(default_factory=dict)
    """extra options of the evaluation env only (a held-out split)"""
    eval_every: int | None = None
    """env steps between evaluations (None: TrainSettings' default)"""
    eval_episodes: int | None = None
    """episodes per evaluation (None: TrainSettings' default)"""
    final_eval_episodes: int | None = None
    """episodes of the final evaluation (None: TrainSettings' default)"""
    hyperparameters: dict = field(default_factory=dict)
    """the default agent's hyperparameters, below agents/tuned.py's entry (the fallbacks' own:
    the tuned entries are per env id, the fallbacks' per kind of env)"""
    as_registered: bool = False
    """the entry holds for the env as registered only: options that change its transition model or
    time limit (another map, no slip, rain) make it an env nobody tuned for, which gets the fallback"""


# PPO with MLP actor and critic on one-hot cells (tuned in agents/tuned.py): the
# greedy policy walks the optimal 8-step path (return 0.93) from 3.5k-4.6k steps on
# (seeds 0-4) and stays there; 10k steps take 2-4 s on the shared 2 cores.
# Tabular agents get integer states, attention policies one token per cell.
_GRID = EnvDefaults(
    agent="ppo", policy="mlp", steps=10_000,
    input_env_kwargs={"tabular": {"obs_mode": "index"}, "mlp": {"obs_mode": "onehot"},
                      "attention": {"obs_mode": "grid"}},
    eval_every=500, eval_episodes=5,
)

# The other maps: Q-learning on integer states (agents/tuned.py says how each was measured).
# A table learns a small deterministic map exactly (step size 1 makes each update an exact
# backup) in seconds, where PPO on one-hot cells missed the optimum of 8x8, Cliff and Large
# at seed 1. Q-learning's budget per map is in agents/tuned.py's BUDGETS; the steps here,
# scaled to each map's size, serve agents that have none there.
_GRID_TABULAR = dataclasses.replace(_GRID, agent="qlearning", policy=None)

# Env id -> defaults. Each entry says why and what it reaches.
ENV_DEFAULTS: dict[str, EnvDefaults] = {
    "rl_scratch/GridWorld-v0": _GRID,
    **{env_id: dataclasses.replace(_GRID_TABULAR, steps=steps, eval_every=2_000) for env_id, steps in (
        ("rl_scratch/GridWorld-8x8-v0", 30_000), ("rl_scratch/GridWorld-FourRooms-v0", 50_000),
        ("rl_scratch/GridWorld-Cliff-v0", 30_000), ("rl_scratch/GridWorld-Maze-v0", 30_000),
        ("rl_scratch/GridWorld-Large-v0", 100_000))},
    # Slip makes returns differ between episodes: 1000 final episodes put the 95% interval of
    # an optimal policy's mean within about +-0.02 of the optimum 0.902.
    "rl_scratch/GridWorld-Slippery-v0": dataclasses.replace(_GRID_TABULAR, steps=20_000, eval_every=2_000,
                                                            eval_episodes=50, final_eval_episodes=1000),
    # Classification as one-step episodes: the supervised agent learns the labels with
    # cross-entropy (REINFORCE and friends are one --agent away). Evaluation plays the
    # 30 held-out test flowers once, so its mean return is the test accuracy.
    "rl_scratch/Iris-v0": EnvDefaults(
        agent="supervised", policy="mlp", steps=20_000, eval_env_kwargs={"split": "test"},
        eval_every=2_000, eval_episodes=30,
    ),
    # Character-level language model: the supervised agent picks TinyGPT for token
    # observations. 10k windows reach 0.44 next-character accuracy on the first 500
    # validation characters (seed 0; 0.45 at 30k: the 10 KB corpus is learnt), in about
    # 30 s on the shared 2 cores. Evaluation scores those 500 characters.
    "rl_scratch/NextToken-v0": EnvDefaults(
        agent="supervised", steps=10_000, eval_env_kwargs={"split": "val"},
        eval_every=2_000, eval_episodes=500,
    ),
    # rl-zoo's PPO values (agents/tuned.py) and budget.
    # The memory task: PPO with attention over the last 6 observations (agents/tuned.py).
    "rl_scratch/CueCorridor-v0": EnvDefaults(agent="ppo", policy="attention", steps=20_000, eval_every=2_000,
                                             eval_episodes=20),
    "CartPole-v1": EnvDefaults(agent="ppo", policy="mlp", steps=100_000),
    "Acrobot-v1": EnvDefaults(agent="ppo", policy="mlp", steps=100_000),
    # FrozenLake: its tuned Q-learning entry's budget; Taxi: agents without their own (Q-learning's
    # 150k is in agents/tuned.py's BUDGETS). 1000 final episodes: with 100,
    # an interval of +-0.09 around a success rate would "reach" the optimum 0.744 from 0.68.
    # Both were measured on the registered env only (FrozenLake's slippery 4x4): other maps and
    # dynamics get the planner (as_registered). Q-learning's entries ended FrozenLake-v1 with
    # map_name=8x8 at 0.067 (optimum 0.641) and Taxi-v4 with is_rainy=True at -90.2 (optimum 3.955),
    # seed 1; the planner: 0.639 and 4.176 over 1000 episodes, both intervals reaching the optimum.
    "FrozenLake-v1": EnvDefaults(agent="qlearning", steps=200_000, eval_every=20_000, eval_episodes=100,
                                 final_eval_episodes=1000, as_registered=True),
    "Taxi-v4": EnvDefaults(agent="qlearning", steps=100_000, eval_every=10_000, eval_episodes=100,
                           final_eval_episodes=1000, as_registered=True),
}


def env_defaults(env_id: str, env=None) -> EnvDefaults:
    """The table entry, or for an env nobody tuned for (`env`: one made from its id):

    - integer states with a transition model (Toy Text's P): value iteration solves the model
      exactly, where Q-learning's defaults ended FrozenLake8x8-v1 at 0.30 (optimum 0.91). With
      fit_time_limit it plans for the env's time limit: a policy of the state alone cannot take
      the risks that pay only near the end of an episode, so it acts for the discount whose policy
      does best within the limit (FrozenLake8x8-v1's 200 steps: 0.894 exactly, where gamma 0.99's
      policy gets 0.863 and the time-dependent optimum is 0.913);
    - integer states without one: Q-learning, its budget and schedules scaled to the table
      (qlearning_fallback);
    - anything else: DQN with an MLP.
    Their final evaluations are long enough (1000 short tabular episodes, 100 otherwise) for the
    confidence interval to mean something.
    """
    from rl_scratch.target import has_transition_model

    table = ENV_DEFAULTS.get(env_id)
    if table is not None and not (table.as_registered and env is not None and changes_the_task(env_id, env)):
        return table
    if isinstance(env.observation_space, gymnasium.spaces.Discrete):
        if has_transition_model(env):
            return EnvDefaults(agent="value_iteration", final_eval_episodes=1000,
                               hyperparameters={"fit_time_limit": True})
        return EnvDefaults(agent="qlearning", final_eval_episodes=1000, **qlearning_fallback(env))
    # The DQN values tuned for Acrobot-v1 (CartPole-v1's recipe with lr 1e-3): the one DQN recipe
    # measured to keep its final policy on two classic-control tasks; DQN's own defaults (64-64,
    # train every 4 steps) reached CartPole-v0's 195 at 15k steps and ended at 43.6. The 50k
    # budget: CartPole-v0 ends at 195-200 on seeds 1-5 there, while at 100k seeds 3 and 4 had
    # lost it again (183.8, 135.3); MountainCar-v0 ends -107.9, -130.4, -128.0, -115.7, -121.1
    # (threshold -110; at 100k seeds 2-3: -111.2, -107.1). README.md ("Any other Gymnasium id").
    return EnvDefaults(agent="dqn", policy="mlp", final_eval_episodes=100,
                       hyperparameters=tuned_hyperparameters("dqn", "Acrobot-v1"))


def qlearning_fallback(env) -> dict:
    """Budget and schedules of the Q-learning fallback, scaled to the table: 1000 steps per
    (state, action) between 50k and 500k, epsilon decaying over the first half of them, the step
    size from 0.1 to 0.01 over all of them (so the end of the run averages out noisy rewards).
    Measured on Toy Text envs with the model withheld (the greedy policy's exact return, seeds
    1-3): slippery FrozenLake-v1 0.73 (64k steps; optimum 0.744, the best stationary policy
    0.740), non-slippery 8x8 1.0 (256k), CliffWalking-v1 -13 (192k), Taxi-v4 7.93 (500k; at 50k
    its greedy policy never delivered: -200); not enough for slippery FrozenLake8x8-v1: 0.857,
    0.683, 0.659 at 256k (the best stationary policy 0.894).

        >>> qlearning_fallback(gymnasium.make("CliffWalking-v1"))
        {'steps': 192000, 'hyperparameters': {'lr': 0.1, 'lr_end': 0.01, 'lr_decay_steps': 192000, 'epsilon_decay_steps': 96000}}
    """
    cells = int(env.observation_space.n) * int(getattr(env.action_space, "n", 1))
    steps = min(max(1000 * cells, 50_000), 500_000)
    return {"steps": steps, "hyperparameters": {"lr": 0.1, "lr_end": 0.01, "lr_decay_steps": steps,
                                                "epsilon_decay_steps": steps // 2}}


def changes_the_task(env_id: str, env) -> bool:
    """Whether `env`, made from env_id with the user's options, has another transition model or time
    limit than env_id as registered (no model to compare: the same task).

        >>> changes_the_task("FrozenLake-v1", gymnasium.make("FrozenLake-v1", map_name="4x4"))
        False
        >>> changes_the_task("FrozenLake-v1", gymnasium.make("FrozenLake-v1", is_slippery=False))
        True
    """
    from rl_scratch.agents.planning import get_transition_model, tabular_model
    from rl_scratch.target import has_transition_model

    registered = gymnasium.make(env_id)
    try:
        if (env.spec and env.spec.max_episode_steps) != (registered.spec and registered.spec.max_episode_steps):
            return True
        if not (has_transition_model(env) and has_transition_model(registered)):
            return False
        ours, theirs = (tabular_model(get_transition_model(e)) for e in (env, registered))
        return not all(np.array_equal(a, b) for a, b in zip(dataclasses.astuple(ours), dataclasses.astuple(theirs)))
    finally:
        registered.close()


# ----------------------------------------------------------------- agents
def agent_table() -> dict:
    from rl_scratch.agents.registry import AGENTS

    return AGENTS


def agent_class(name: str):
    agents = agent_table()
    key = name.lower()
    if key in agents:
        return agents[key]
    close = difflib.get_close_matches(key, list(agents), n=3, cutoff=0.5)
    hint = f"; did you mean {', '.join(close)}?" if close else ""
    raise ConfigError(f"unknown agent {name!r}{hint} (agents: {', '.join(agents)})")


def tuned_hyperparameters(agent_name: str, env_id: str, policy: str | None = None) -> dict:
    """The tuned values for (agent, env) in agents/tuned.py, or with `policy` its own (agent, env,
    policy) entry (e.g. an attention network's); {} when there are none.

        >>> tuned_hyperparameters("qlearning", "FrozenLake-v1")["gamma"], tuned_hyperparameters("ppo", "NoSuchEnv-v0")
        (0.99, {})
    """
    try:
        from rl_scratch.agents.tuned import TUNED
    except ImportError:
        return {}
    return dict(TUNED.get((agent_name, env_id) if policy is None else (agent_name, env_id, policy), {}))


def tuned_budget(agent_name: str, env_id: str, policy: str | None = None) -> int | None:
    """The env-step budget the (agent, env) entry was measured at (the (agent, env, policy) one's
    when there is one), None when there is none."""
    try:
        from rl_scratch.agents.tuned import BUDGETS
    except ImportError:
        return None
    return BUDGETS.get((agent_name, env_id, policy), BUDGETS.get((agent_name, env_id)))


def budget_for(agent_name: str, env_id: str, table: EnvDefaults, policy: str | None = None) -> int:
    """The default env-step budget: the (agent, env[, policy]) entry's, else the env's."""
    return tuned_budget(agent_name, env_id, policy) or table.steps


def tuned_envs(agent_name: str) -> list[str]:
    """Env ids with a tuned entry for this agent."""
    try:
        from rl_scratch.agents.tuned import TUNED
    except ImportError:
        return []
    return sorted({key[1] for key in TUNED if key[0] == agent_name})


# What other libraries (Stable-Baselines3 first) call our hyperparameters, for "did you mean".
SYNONYMS = {"learning_rate": "lr", "discount": "gamma", "discount_factor": "gamma", "net_arch": "hidden",
            "hidden_sizes": "hidden", "exploration_initial_eps": "epsilon_start",
            "exploration_final_eps": "epsilon_end", "num_envs": "n_envs", "clip_coef": "clip_range",
            "ent_coeff": "ent_coef", "vf_coeff": "vf_coef", "update_epochs": "n_epochs"}


def did_you_mean(key: str, fields) -> str:
    """" (did you mean lr?)" for a mistyped or foreign hyperparameter name, else ""."""
    guesses = [SYNONYMS[key]] if SYNONYMS.get(key) in fields else []
    guesses += [m for m in difflib.get_close_matches(key, list(fields), n=2, cutoff=0.6) if m not in guesses]
    return f" (did you mean {' or '.join(guesses)}?)" if guesses else ""


def config_fields(config_cls) -> dict[str, dataclasses.Field]:
    return {f.name: f for f in dataclasses.fields(config_cls)}


def field_default(f: dataclasses.Field):
    if f.default is not dataclasses.MISSING:
        return f.default
    if f.default_factory is not dataclasses.MISSING:
        return f.default_factory()
    return None


def uses_network(config_cls) -> bool:
    """Agents with a `policy` field learn through a network; the others are tabular."""
    return "policy" in config_fields(config_cls)


# ------------------------------------------------------------ value types
def parse_text(text: str, default, key: str):
    """A command-line string -> a value of the default's type (`--set key=value`, `--hidden 64,64`)."""
    try:
        if isinstance(default, bool):
            lowered = text.strip().lower()
            if lowered in ("true", "1", "yes", "on"):
                return True
            if lowered in ("false", "0", "no", "off"):
                return False
            raise ValueError
        if isinstance(default, int):
            number = float(text)
            if not number.is_integer():
                raise ValueError
            return int(number)
        if isinstance(default, float):
            return float(text)
        if isinstance(default, tuple):
            stripped = text.strip().strip("()[]")
            items = [item.strip() for item in stripped.split(",") if item.strip()]
            example = default[0] if default else 0
            return tuple(parse_text(item, example, key) for item in items)
        if isinstance(default, str):
            return text
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        kind = _type_name(default)
        raise ConfigError(f"{key}={text!r}: expected {kind}") from None


def check_value(value, default, key: str, source: str):
    """A value from a config file -> the default's type (lists become tuples, ints floats)."""
    if default is None:
        return value
    if isinstance(default, bool):
        ok = isinstance(value, bool)
    elif isinstance(default, int):
        ok = isinstance(value, int) and not isinstance(value, bool)
    elif isinstance(default, float):
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
        value = float(value) if ok else value
    elif isinstance(default, tuple):
        ok = isinstance(value, (list, tuple))
        if ok:
            example = default[0] if default else value[0] if value else 0
            value = tuple(check_value(item, example, key, source) for item in value)
    elif isinstance(default, str):
        ok = isinstance(value, str)
    else:
        ok = True
    if not ok:
        raise ConfigError(f"{source}: {key}={value!r} is not {_type_name(default)}")
    return value


def _type_name(default) -> str:
    if isinstance(default, bool):
        return "a boolean (true or false)"
    if isinstance(default, int):
        return "an integer"
    if isinstance(default, float):
        return "a number"
    if isinstance(default, tuple):
        return "a comma-separated list like 64,64"
    if isinstance(default, str):
        return "a string"
    return "a Python literal"


def parse_assignments(items: list[str], flag: str) -> dict[str, str]:
    """["lr=0.01", "hidden=32,32"] -> {"lr": "0.01", "hidden": "32,32"}."""
    out = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"{flag} expects KEY=VALUE, got {item!r}")
        out[key.strip()] = value.strip()
    return out


def parse_env_kwargs(assignments: dict[str, str]) -> dict:
    """Env options from the command line: JSON/Python literals where they parse, else strings."""
    out = {}
    for key, text in assignments.items():
        try:
            out[key] = json.loads(text)
        except json.JSONDecodeError:
            try:
                out[key] = ast.literal_eval(text)
            except (ValueError, SyntaxError):
                out[key] = text
    return out


# ------------------------------------------------------------ config files
@dataclass
class TrainSettings:
    """Trainer settings (not the agent's hyperparameters)."""

    env: str | None = None
    """Gymnasium id of the env"""
    env_kwargs: dict = field(default_factory=dict)
    """gymnasium.make options of the training env"""
    eval_env_kwargs: dict = field(default_factory=dict)
    """gymnasium.make options of the evaluation env (on top of env_kwargs)"""
    agent: str | None = None
    """agent name (a key of rl_scratch.agents.registry.AGENTS)"""
    steps: int | None = None
    """train until this many env steps in total"""
    episodes: int | None = None
    """train until this many episodes in total"""
    seed: int = 0
    """seeds the agent, its envs and action spaces, and the evaluation env"""
    eval_every: int = 5_000
    """env steps between deterministic evaluations (0: only at the end)"""
    eval_episodes: int = 10
    """episodes per evaluation"""
    final_eval_episodes: int | None = None
    """episodes of the final evaluation, the run's result (None: eval_episodes); more episodes
    narrow its confidence interval where episodes differ"""
    checkpoint_every: int = 0
    """env steps between checkpoints (0: at every tenth of the budget, and at the end)"""
    stop_at_target: bool = False
    """stop as soon as an evaluation reaches the optimum or the env's reward threshold"""


TRAIN_KEYS = tuple(f.name for f in dataclasses.fields(TrainSettings))
FILE_KEYS = (*TRAIN_KEYS, "policy", "hyperparameters")
# Written into config.json for people and `play`; ignored when the file is read back as --config.
RECORD_KEYS = ("command", "resumed_with", "rl_scratch_version", "optimum", "reward_threshold")


def load_config_file(path: str) -> dict:
    """A TOML or JSON config file as a dict; unknown top-level keys raise ConfigError listing the valid ones.

    It takes the keys of a run's config.json (`--config FILE`; hyperparameters in a table).

        >>> import os, tempfile
        >>> path = os.path.join(tempfile.mkdtemp(), "run.toml")
        >>> _ = open(path, "w").write('env = "GridWorld"\\nsteps = 5000\\n[hyperparameters]\\nlr = 0.001\\n')
        >>> load_config_file(path)
        {'env': 'GridWorld', 'steps': 5000, 'hyperparameters': {'lr': 0.001}}
    """
    file = Path(path)
    try:
        text = file.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"config file {path} does not exist") from None
    except (OSError, UnicodeDecodeError) as error:
        raise ConfigError(f"cannot read config file {path}: {error}") from None
    try:
        if file.suffix.lower() == ".json":
            data = json.loads(text)
        else:
            try:
                import tomllib
            except ModuleNotFoundError:  # Python 3.10
                import tomli as tomllib
            data = tomllib.loads(text)
    except ValueError as error:  # JSONDecodeError and TOMLDecodeError are ValueErrors
        raise ConfigError(f"config file {path} does not parse: {error}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"config file {path} must hold a table/object of settings")
    unknown = sorted(set(data) - set(FILE_KEYS) - set(RECORD_KEYS))
    if unknown:
        raise ConfigError(f"config file {path}: unknown key(s) {unknown}; valid keys: {', '.join(FILE_KEYS)} "
                          "(agent hyperparameters go in a [hyperparameters] table)")
    for key in ("env_kwargs", "eval_env_kwargs", "hyperparameters"):
        if key in data and not isinstance(data[key], dict):
            raise ConfigError(f"config file {path}: {key} must be a table/object, got {data[key]!r}")
    for key in ("env", "agent", "policy"):
        if key in data and not isinstance(data[key], str):
            raise ConfigError(f"config file {path}: {key} must be a name (a string), got {data[key]!r}")
    return {k: v for k, v in data.items() if k not in RECORD_KEYS}


# ------------------------------------------------------------- resolution
@dataclass
class ResolvedConfig:
    settings: TrainSettings
    agent_cls: type
    agent_config: object
    hyperparameter_sources: dict[str, str]
    """hyperparameter -> the layer that set it (default, tuned, config file, flag)"""

    def to_json(self) -> dict:
        return {**dataclasses.asdict(self.settings), "hyperparameters": dataclasses.asdict(self.agent_config)}


def resolve(flags: dict, file_values: dict, file_name: str = "config file") -> ResolvedConfig:
    """Merge the four layers into settings and an agent config.

    flags: the command-line values that were given (trainer keys, "policy", and
    "hyperparameters" with text values from --lr/--gamma/--hidden/--set), plus
    "env_kwargs" parsed from --env-kwarg.
    """
    env_name = flags.get("env") or file_values.get("env")
    if not env_name:
        raise ConfigError("--env is required, e.g. --env GridWorld (`--list` shows the envs)")
    env_id = resolve_env_id(str(env_name))
    user_env_kwargs = {**file_values.get("env_kwargs", {}), **flags.get("env_kwargs", {})}

    table = ENV_DEFAULTS.get(env_id)
    probe = make_env(env_id, user_env_kwargs) if table is None or (table.as_registered and user_env_kwargs) else None
    table = env_defaults(env_id, probe)
    if probe is not None:
        probe.close()

    agent_name = (flags.get("agent") or file_values.get("agent") or table.agent).lower()
    agent_cls = agent_class(agent_name)
    agent_name = agent_cls.name
    fields = config_fields(agent_cls.Config)

    # Hyperparameters, layer by layer.
    values, sources = {}, {}

    def apply(layer: dict, source: str, from_text: bool):
        for key, value in layer.items():
            if key not in fields:
                raise ConfigError(f"{source}: {agent_name} has no hyperparameter {key!r}{did_you_mean(key, fields)}; "
                                  f"valid: {', '.join(fields)}")
            default = field_default(fields[key])
            values[key] = parse_text(value, default, key) if from_text else check_value(value, default, key, source)
            sources[key] = source

    # The env's policy choice, then the (agent, env) entry, which may pick its own.
    if table.policy is not None and "policy" in fields:
        apply({"policy": table.policy}, f"env defaults ({display_name(env_id)})", False)
    if agent_name == table.agent:  # the fallbacks' values suit their own agent only
        apply(table.hyperparameters, f"env defaults ({display_name(env_id)})", False)
    apply(tuned_hyperparameters(agent_name, env_id), f"tuned table ({agent_name}, {env_id})", False)
    file_hyper = dict(file_values.get("hyperparameters", {}))
    if "policy" in file_values:
        file_hyper["policy"] = file_values["policy"]
    # A network of its own (--policy attention) has its own entry, between the table's and the file's.
    policy = flags.get("hyperparameters", {}).get("policy") or file_hyper.get("policy") or values.get("policy")
    if policy is not None and "policy" in fields:
        apply(tuned_hyperparameters(agent_name, env_id, str(policy)),
              f"tuned table ({agent_name}, {env_id}, {policy})", False)
    apply(file_hyper, file_name, False)
    flag_hyper = dict(flags.get("hyperparameters", {}))
    for key in [k for k in flag_hyper if k not in fields]:
        flag = {"lr": "--lr", "gamma": "--gamma", "hidden": "--hidden", "policy": "--policy"}.get(key)
        if flag is not None:
            raise ConfigError(f"{flag} does not apply to {agent_name}; its hyperparameters: {', '.join(fields)}")
    apply(flag_hyper, "command line", True)

    try:
        check_hyperparameters(agent_name, values, sources)
    except ValueError as error:
        raise ConfigError(str(error)) from None
    try:
        agent_config = agent_cls.Config(**values)
    except (ValueError, TypeError) as error:
        raise ConfigError(f"{agent_name} hyperparameters: {error}") from None

    # Env options: the table's for this agent's input, then the file, then the flags.
    kind = agent_config.policy if uses_network(agent_cls.Config) else "tabular"
    env_kwargs = {**table.env_kwargs, **table.input_env_kwargs.get(kind, {}), **user_env_kwargs}
    eval_env_kwargs = {**table.eval_env_kwargs, **file_values.get("eval_env_kwargs", {})}

    settings = TrainSettings(env=env_id, env_kwargs=env_kwargs, eval_env_kwargs=eval_env_kwargs, agent=agent_name)
    for key in ("eval_every", "eval_episodes", "final_eval_episodes"):
        if getattr(table, key) is not None:
            setattr(settings, key, getattr(table, key))
    budget_given = any(key in layer for layer in (file_values, flags) for key in ("steps", "episodes"))
    if not budget_given:
        settings.steps = budget_for(agent_name, env_id, table, getattr(agent_config, "policy", None))
    for layer, source in ((file_values, file_name), (flags, "flag")):
        for key in ("steps", "episodes", "seed", "eval_every", "eval_episodes", "final_eval_episodes",
                    "checkpoint_every", "stop_at_target"):
            if key in layer and layer[key] is not None:
                default = field_default(next(f for f in dataclasses.fields(TrainSettings) if f.name == key))
                setattr(settings, key, check_value(layer[key], 0 if default is None else default, key, source))
    # A table's longer final evaluation goes with its evaluation count: --eval-episodes alone sets both.
    user_keys = {key for layer in (file_values, flags) for key, value in layer.items() if value is not None}
    if "eval_episodes" in user_keys and "final_eval_episodes" not in user_keys:
        settings.final_eval_episodes = None
    validate_settings(settings)
    fix_random_map(settings)
    return ResolvedConfig(settings, agent_cls, agent_config, sources)


def random_map_seed(seed: int) -> int:
    """The map seed a run with `--seed seed` uses for map_name="random" when none is given."""
    return int(np.random.default_rng(seed).integers(2**31))


def fix_random_map(settings: TrainSettings) -> None:
    """A random map without a map_seed gets one drawn from --seed, written into env_kwargs.

    Otherwise every env of the run (training, evaluation, the optimum, `play`) would draw
    a different map; with it config.json names the map and the same --seed gives the same run.
    """
    spec_kwargs = dict(gymnasium.spec(settings.env).kwargs) if settings.env in gymnasium.registry else {}
    merged = {**spec_kwargs, **settings.env_kwargs}
    if merged.get("map_name") == "random" and merged.get("map_seed") is None:
        settings.env_kwargs["map_seed"] = random_map_seed(settings.seed)


def validate_settings(settings: TrainSettings) -> None:
    checks = (("steps", 1), ("episodes", 1), ("eval_episodes", 1), ("final_eval_episodes", 1), ("eval_every", 0),
              ("checkpoint_every", 0))
    for key, lowest in checks:
        value = getattr(settings, key)
        if value is not None and value < lowest:
            word = "positive" if lowest == 1 else "non-negative"
            raise ConfigError(f"--{key.replace('_', '-')} must be a {word} integer, got {value}")
    if settings.seed is not None and settings.seed < 0:
        raise ConfigError(f"--seed must be a non-negative integer, got {settings.seed}")


def agent_history(agent_config) -> int:
    """How many observations the agent reads per input (its `history` field; 1 for agents without one)."""
    return int(getattr(agent_config, "history", 1))


def make_env(env_id: str, env_kwargs: dict, render_mode: str | None = None, history: int = 1):
    """gymnasium.make with options; a bad option becomes a ConfigError naming the env.

    history > 1: wrapped in HistoryObservation, windows of the last `history` observations
    (what an agent with that `history` reads, in training, evaluation and play alike).
    FrozenLake reports `info["is_success"]` (IsSuccess), as the trainer's evaluation reads it.

        >>> env = make_env("rl_scratch/CueCorridor-v0", {"length": 5}, history=4)
        >>> env.observation_space.shape  # 4 observations of 5 cells + 2 cue flags + the mask column
        (4, 8)
        >>> type(make_env("FrozenLake-v1", {"is_slippery": False})).__name__
        'IsSuccess'
    """
    kwargs = dict(env_kwargs)
    if render_mode is not None:
        kwargs["render_mode"] = render_mode
    try:
        env = gymnasium.make(env_id, **kwargs)
    except (TypeError, ValueError) as error:
        raise ConfigError(f"cannot make {env_id} with options {env_kwargs}: {error}") from None
    except KeyError as error:  # a name looked up in the env's own table (FrozenLake's map_name)
        raise ConfigError(f"cannot make {env_id} with options {env_kwargs}: it knows no {error}") from None
    except gymnasium.error.Error as error:
        raise ConfigError(f"cannot make {env_id}: {error}") from None
    env = IsSuccess(env) if env_id in GOAL_ENVS else env  # evaluation reads success from info["is_success"]
    if history > 1:
        from rl_scratch.envs.history import HistoryObservation

        try:
            env = HistoryObservation(env, history)
        except ValueError as error:
            raise ConfigError(f"cannot read {env_id} with history={history}: {error}") from None
    return env


def format_value(value) -> str:
    """A hyperparameter as the command line writes it: 64,64 for sizes, 0.001 for floats."""
    if isinstance(value, (tuple, list)):
        return ",".join(map(str, value))
    if isinstance(value, float) and math.isfinite(value):
        return f"{value:g}"
    return str(value)


def describe_hyperparameters(config) -> str:
    """One line: lr=0.001 gamma=0.99 hidden=64,64 ..."""
    return describe_values(dataclasses.asdict(config))


def describe_values(values: dict) -> str:
    """key=value pairs in the command line's notation (format_value)."""
    return " ".join(f"{k}={format_value(v)}" for k, v in values.items())
