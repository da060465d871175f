"""A search space: the agent's table entry (agents/search_spaces.py) with a TOML file's overrides.

An override file holds one `[space]` table; each key is a hyperparameter of the agent:

    [space]
    lr = { low = 1e-4, high = 1e-2, log = true }    # a float range
    n_epochs = { low = 1, high = 20 }               # an int range (both bounds integers)
    hidden = { choices = [[64, 64], [128, 128]] }   # one of these values
    exploration_steps = { fraction = [0.05, 0.5] }  # a step count, as a fraction of --steps
    gamma = 0.99                                    # fixed: not searched, passed to every trial
    ent_coef = "default"                            # taken out of the search (table/dataclass value)

This module also turns sampled parameters into trainer hyperparameters and writes
the TOML config files the trainer reads (`trial.toml`, `best.toml`).
"""

from __future__ import annotations

import math

from rl_scratch import config as cfg
from rl_scratch.agents.search_spaces import SPACES, BudgetFraction, Choice, Integer, Uniform
from rl_scratch.config import ConfigError

FRACTION_SUFFIX = "_frac"  # a BudgetFraction's Optuna parameter: `exploration_steps_frac`


def default_space(agent_name: str) -> dict:
    """The agent's table entry; an agent without one raises ConfigError naming the agents that have one."""
    if agent_name not in SPACES:
        raise ConfigError(f"agent {agent_name!r} has no search space (agents with one: {', '.join(SPACES)}); "
                          "add it to agents/search_spaces.py, or give every range in a --space file")
    return dict(SPACES[agent_name])


def load_space(agent_name: str, agent_cls, path: str | None) -> tuple[dict, dict]:
    """(searched ranges, fixed hyperparameters) for the agent, from the table and an optional TOML file."""
    space = default_space(agent_name) if path is None or agent_name in SPACES else {}
    fixed: dict = {}
    if path is not None:
        data = _read_toml(path)
        unknown = sorted(set(data) - {"space"})
        if unknown or not isinstance(data.get("space", {}), dict):
            raise ConfigError(f"space file {path}: expected one [space] table, found {unknown or data['space']!r}")
        for key, value in data.get("space", {}).items():
            if value == "default":
                space.pop(key, None)
            elif isinstance(value, dict):
                space[key] = _range_from_toml(path, key, value)
            else:
                space.pop(key, None)
                fixed[key] = value
        if not space and not fixed:
            raise ConfigError(f"space file {path}: the [space] table is empty")
    if not space:
        raise ConfigError(f"agent {agent_name!r} has no search space (agents with one: {', '.join(SPACES)}); "
                          "give its ranges in a --space file")
    fields = cfg.config_fields(agent_cls.Config)
    for key in [*space, *fixed]:
        if key not in fields:
            raise ConfigError(f"search space: {agent_name} has no hyperparameter {key!r}; valid: {', '.join(fields)}")
    return space, fixed


def _read_toml(path: str) -> dict:
    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10
        import tomli as tomllib
    try:
        with open(path, "rb") as f:
            return tomllib.load(f)
    except FileNotFoundError:
        raise ConfigError(f"space file {path} does not exist") from None
    except (OSError, ValueError) as error:
        raise ConfigError(f"space file {path} does not parse: {error}") from None


def _range_from_toml(path: str, key: str, value: dict):
    where = f"space file {path}: {key}"
    if set(value) == {"choices"} and isinstance(value["choices"], list) and value["choices"]:
        return Choice(tuple(tuple(v) if isinstance(v, list) else v for v in value["choices"]))
    if set(value) == {"fraction"} and isinstance(value["fraction"], list) and len(value["fraction"]) == 2:
        low, high = value["fraction"]
        if not 0 <= low <= high:
            raise ConfigError(f"{where}: fraction must be [low, high] with 0 <= low <= high")
        return BudgetFraction(float(low), float(high))
    if {"low", "high"} <= set(value) <= {"low", "high", "log"}:
        low, high, log = value["low"], value["high"], bool(value.get("log", False))
        numbers = all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in (low, high))
        if not numbers or not low <= high or (log and low <= 0):
            raise ConfigError(f"{where}: needs numbers low <= high (and low > 0 with log = true)")
        if isinstance(low, int) and isinstance(high, int):
            return Integer(low, high, log)
        return Uniform(float(low), float(high), log)
    raise ConfigError(f"{where}: expected {{ low, high[, log] }}, {{ choices = [...] }}, "
                      f"{{ fraction = [low, high] }}, a fixed value or \"default\"; got {value!r}")


# ------------------------------------------------------------- sampling
def choice_label(value) -> object:
    """Optuna's categorical choices must be scalars: a tuple of layer sizes becomes "64,64"."""
    return ",".join(map(str, value)) if isinstance(value, tuple) else value


def suggest(trial, space: dict, steps: int) -> dict:
    """Draw every searched hyperparameter from an Optuna trial; returns trainer hyperparameters."""
    values = {}
    for key, spec in space.items():
        if isinstance(spec, Uniform):
            values[key] = trial.suggest_float(key, spec.low, spec.high, log=spec.log)
        elif isinstance(spec, Integer):
            values[key] = trial.suggest_int(key, spec.low, spec.high, log=spec.log)
        elif isinstance(spec, Choice):
            labels = [choice_label(option) for option in spec.options]
            label = trial.suggest_categorical(key, labels)
            values[key] = spec.options[labels.index(label)]
        elif isinstance(spec, BudgetFraction):
            fraction = trial.suggest_float(key + FRACTION_SUFFIX, spec.low, spec.high)
            values[key] = fraction_to_steps(fraction, steps)
        else:
            raise TypeError(f"unknown search range {spec!r} for {key}")
    return values


def fraction_to_steps(fraction: float, steps: int) -> int:
    return int(round(fraction * steps))


def hyperparameters_from_params(params: dict, space_record: dict, steps: int) -> dict:
    """A finished trial's Optuna params -> trainer hyperparameters (labels back to tuples, fractions to steps)."""
    values = {}
    for key, kind in space_record.items():
        if kind == "fraction":
            values[key] = fraction_to_steps(params[key + FRACTION_SUFFIX], steps)
        elif kind == "tuple":
            values[key] = tuple(int(v) for v in str(params[key]).split(",") if v)
        else:
            values[key] = params[key]
    return values


def space_record(space: dict) -> dict:
    """How each searched key maps back from its Optuna parameter (kept in the study: any machine can decode)."""
    record = {}
    for key, spec in space.items():
        if isinstance(spec, BudgetFraction):
            record[key] = "fraction"
        elif isinstance(spec, Choice) and any(isinstance(option, tuple) for option in spec.options):
            record[key] = "tuple"
        else:
            record[key] = "value"
    return record


def describe_space(space: dict, fixed: dict) -> list[str]:
    """Lines for the report: each searched range and each fixed value."""
    lines = []
    for key, spec in space.items():
        if isinstance(spec, Uniform):
            lines.append(f"{key}: {'log-' if spec.log else ''}uniform [{spec.low:g}, {spec.high:g}]")
        elif isinstance(spec, Integer):
            lines.append(f"{key}: integer [{spec.low}, {spec.high}]{' (log)' if spec.log else ''}")
        elif isinstance(spec, Choice):
            lines.append(f"{key}: one of {', '.join(str(choice_label(o)) for o in spec.options)}")
        else:
            lines.append(f"{key}: [{spec.low:g}, {spec.high:g}] x steps")
    lines.extend(f"{key} = {value!r} (fixed)" for key, value in fixed.items())
    return lines


# ------------------------------------------------------------ TOML files
def toml_value(value) -> str:
    """A TOML literal for the values a trainer config holds (str, bool, int, float, lists of them)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        text = repr(value)  # shortest text that reads back to the same float
        return text if any(c in text for c in ".en") else text + ".0"
    if isinstance(value, str):
        escaped = value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
        return f'"{escaped}"'
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    raise TypeError(f"cannot write {type(value).__name__} {value!r} to TOML")


def config_toml(settings: dict, hyperparameters: dict, header: str = "") -> str:
    """A trainer config file: top-level settings, then [hyperparameters] (and option tables)."""
    lines = [f"# {line}" if line else "#" for line in header.splitlines()]
    tables = {}
    for key, value in settings.items():
        if isinstance(value, dict):
            tables[key] = value
        elif value is not None:
            lines.append(f"{key} = {toml_value(value)}")
    tables["hyperparameters"] = hyperparameters
    for name, table in tables.items():
        if table:
            lines.append(f"\n[{name}]")
            lines.extend(f"{key} = {toml_value(value)}" for key, value in table.items())
    return "\n".join(lines) + "\n"
