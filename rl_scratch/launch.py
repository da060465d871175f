"""From parsed arguments to a ready Trainer: a new run folder, or a run folder resumed from its checkpoint.

Everything that can be wrong with the input is found here, before any training
step, and raised as ConfigError (one line, exit code 2).
"""

from __future__ import annotations

import dataclasses
import math
import os
import shlex
from pathlib import Path

import rl_scratch
from rl_scratch import config as cfg
from rl_scratch.agents.planning import ValueIteration
from rl_scratch import runs
from rl_scratch.config import ConfigError
from rl_scratch.console import command
from rl_scratch.runs import RunFolderError
from rl_scratch.target import Target
from rl_scratch.trainer import Trainer, TrainerState
from rl_scratch.checkpoints import load_checked, logged_episodes
from rl_scratch.validate import check_memory


def command_line(argv: list[str]) -> str:
    """The command as the user typed it: through the `rl-scratch-train` script or `python -m`."""
    return " ".join([command("train"), *(shlex.quote(a) for a in argv)])


def _flags(args) -> dict:
    """The command-line values that were given, in resolve()'s shape."""
    flags = {key: getattr(args, key) for key in ("env", "agent", "steps", "episodes", "seed", "eval_every",
                                                 "eval_episodes", "final_eval_episodes", "checkpoint_every",
                                                 "stop_at_target")
             if getattr(args, key) is not None}
    hyper = cfg.parse_assignments(args.set, "--set")
    for key in ("lr", "gamma", "hidden", "policy"):
        value = getattr(args, key)
        if value is not None:
            hyper[key] = str(value)
    flags["hyperparameters"] = hyper
    flags["env_kwargs"] = cfg.parse_env_kwargs(cfg.parse_assignments(args.env_kwarg, "--env-kwarg"))
    if args.corpus is not None:
        # absolute, so that play can rebuild the env from config.json in any folder
        flags["env_kwargs"]["corpus_path"] = os.path.abspath(args.corpus)
    return flags


def _check_buildable(agent_name: str, values: dict, env, what: str) -> None:
    """Refuse, before building anything, an agent that would not fit in memory or cannot learn from `env`."""
    try:
        check_memory(agent_name, values, env.observation_space, env.action_space, what)
    except ValueError as error:
        raise ConfigError(str(error)) from None
    if agent_name == "supervised":
        # The supervised agent learns labels: a dataset() of the env, or info["label"] on each step.
        _, info = env.reset(seed=0)
        if not callable(getattr(env.unwrapped, "dataset", None)) and "label" not in info:
            raise ConfigError(f"supervised learns labelled examples, and {env.spec.id if env.spec else env} has "
                              "none (no dataset(), no info['label']): use an RL agent (--agent ppo, dqn, "
                              "qlearning, ...) or a labelled env (Iris, NextToken)")


def _build_agent(resolved: cfg.ResolvedConfig, env):
    s = resolved.settings
    _check_buildable(s.agent, dataclasses.asdict(resolved.agent_config), env,
                     f"{s.agent} with these hyperparameters")
    try:
        return resolved.agent_cls(env.observation_space, env.action_space, resolved.agent_config, seed=s.seed)
    except (ValueError, NotImplementedError) as error:
        raise ConfigError(f"{s.agent} cannot train on {s.env}: {error}") from None


def _render_every(args) -> int | None:
    return args.render_every if args.render else None


def make_eval_env(settings: cfg.TrainSettings, agent):
    """The evaluation env (training options plus eval_env_kwargs); options that change what the agent
    sees raise ConfigError now rather than at the first evaluation."""
    from rl_scratch.agents.checkpoint import ensure_compatible

    env = cfg.make_env(settings.env, {**settings.env_kwargs, **settings.eval_env_kwargs},
                       history=cfg.agent_history(agent.config))
    try:
        ensure_compatible(agent, env)
    except ValueError as error:
        env.close()
        raise ConfigError(f"eval_env_kwargs {settings.eval_env_kwargs} change the env the agent acts in: "
                          f"{error}") from None
    return env


def resolve_new_run(args) -> cfg.ResolvedConfig:
    """The settings and hyperparameters a new run of these arguments trains with (nothing is made)."""
    file_values = cfg.load_config_file(args.config) if args.config else {}
    return cfg.resolve(_flags(args), file_values, file_name=args.config or "config file")


def start_new_run(args, argv) -> tuple[Trainer, str]:
    resolved = resolve_new_run(args)
    s = resolved.settings
    env = cfg.make_env(s.env, s.env_kwargs, history=cfg.agent_history(resolved.agent_config))
    try:
        agent = _build_agent(resolved, env)
        target = Target.of_env(env)
    finally:
        env.close()
    eval_env = make_eval_env(s, agent)
    try:
        folder = runs.create_run_folder(args.out, cfg.display_name(s.env), s.agent)
    except BaseException:
        eval_env.close()
        raise
    # From here on the folder exists: anything that stops the start (a signal, a write that fails)
    # takes it away again, so no half-made run is left behind.
    try:
        record = {**resolved.to_json(), "command": command_line(argv), "optimum": target.optimum,
                  "reward_threshold": target.threshold, "rl_scratch_version": rl_scratch.__version__}
        try:
            runs.atomic_write_json(folder / runs.CONFIG_FILE, record)
        except OSError as error:
            raise RunFolderError(f"cannot write {folder / runs.CONFIG_FILE}: {error.strerror or error}") from None
        trainer = Trainer(folder, agent, s, target, TrainerState(), _render_every(args), eval_env)
    except BaseException:
        eval_env.close()
        runs.discard_new_run(folder)
        raise
    budget = f"{s.steps} steps" if s.steps is not None else f"{s.episodes} episodes"
    if s.steps is not None and s.episodes is not None:
        budget += f" or {s.episodes} episodes"
    what = f"Training {s.agent} on {s.env}" + (f" {s.env_kwargs}" if s.env_kwargs else "") + f" for {budget}"
    if isinstance(agent, ValueIteration):  # it solves the env's model: no env steps, so no budget
        what = (f"Planning with {s.agent} on {s.env}" + (f" {s.env_kwargs}" if s.env_kwargs else "")
                + ": sweeps over its transition model until the values converge (no env steps)")
    header = (f"{what}, seed {s.seed}\n"
              f"  hyperparameters: {cfg.describe_hyperparameters(resolved.agent_config)}\n"
              + "".join(f"    set by {source}: {', '.join(keys)}\n" for source, keys in _by_source(resolved).items())
              + f"  run folder: {folder}")
    if target.optimum is not None:
        header += f"\n  optimal return (value iteration on the env's model): {target.optimum:.3f}"
    elif target.threshold is not None:
        header += f"\n  reward threshold: {target.threshold:g}"
    return trainer, header


def _by_source(resolved: cfg.ResolvedConfig) -> dict[str, list[str]]:
    """Layer -> the hyperparameters it set (those not listed are the agent's dataclass defaults)."""
    grouped: dict[str, list[str]] = {}
    for key, source in resolved.hyperparameter_sources.items():
        grouped.setdefault(source, []).append(key)
    return grouped


# Flags that would change what a resumed run is; the checkpoint fixes them.
_FIXED_ON_RESUME = ("env", "agent", "policy", "lr", "gamma", "hidden", "seed", "config", "out")


def _read_settings(folder: Path, record: dict) -> cfg.TrainSettings:
    """config.json's trainer settings, each checked against its type."""
    source = str(folder / runs.CONFIG_FILE)
    values = {}
    for f in dataclasses.fields(cfg.TrainSettings):
        if f.name in record:
            default = cfg.field_default(f)
            if record[f.name] is None and default is None:
                continue
            if isinstance(default, dict) and not isinstance(record[f.name], dict):
                raise ConfigError(f"{source} is damaged: {f.name}={record[f.name]!r} is not an object")
            example = ("" if f.name in ("env", "agent") else 0) if default is None else default
            values[f.name] = cfg.check_value(record[f.name], example, f.name, source)
    for key in ("env", "agent"):
        if not values.get(key):
            raise ConfigError(f"{source} is damaged: it names no {key}")
    return cfg.TrainSettings(**values)


def _fresh_agent(folder: Path, record: dict, settings: cfg.TrainSettings):
    """The run's agent at step 0, rebuilt from config.json (a run stopped before its first checkpoint)."""
    source = str(folder / runs.CONFIG_FILE)
    agent_cls = cfg.agent_class(settings.agent)
    hyper = record.get("hyperparameters", {})
    if not isinstance(hyper, dict):
        raise ConfigError(f"{source} is damaged: hyperparameters should be an object, found {hyper!r}")
    fields = cfg.config_fields(agent_cls.Config)
    unknown = sorted(set(hyper) - set(fields))
    if unknown:
        raise ConfigError(f"{source} is damaged: {settings.agent} has no hyperparameter(s) {unknown}")
    values = {k: cfg.check_value(v, cfg.field_default(fields[k]), k, source) for k, v in hyper.items()}
    try:
        config = agent_cls.Config(**values)
    except (TypeError, ValueError) as error:
        raise ConfigError(f"{source} is damaged: {settings.agent} hyperparameters: {error}") from None
    env = cfg.make_env(settings.env, settings.env_kwargs, history=cfg.agent_history(config))
    try:
        return agent_cls(env.observation_space, env.action_space, config, seed=settings.seed)
    except (ValueError, NotImplementedError) as error:
        raise ConfigError(f"cannot resume {folder}: {error}") from None
    finally:
        env.close()


def _read_state(folder: Path) -> TrainerState:
    path = folder / runs.STATE_FILE
    if not path.exists():
        return TrainerState()
    try:
        values = runs.read_json(path)
    except RunFolderError as error:
        raise ConfigError(f"cannot resume {folder}: {error}") from None
    fields = {f.name: f for f in dataclasses.fields(TrainerState)}
    unknown = sorted(set(values) - set(fields))
    if unknown:
        raise ConfigError(f"{path} is damaged: unknown key(s) {unknown}")
    for key, value in values.items():
        number = isinstance(value, (int, float)) and not isinstance(value, bool)
        if not (value is None or number) or (number and not math.isfinite(value)):
            raise ConfigError(f"{path} is damaged: {key}={value!r} is not a number")
    return TrainerState(**values)


def resume_run(args, argv) -> tuple[Trainer, str]:
    from rl_scratch.agents.checkpoint import ensure_compatible

    for key in _FIXED_ON_RESUME:
        if getattr(args, key) is not None:
            raise ConfigError(f"--{key} cannot be combined with --resume: the run's settings and hyperparameters "
                              "are fixed by its checkpoint; start a new run to change them")
    if args.set or args.env_kwarg:
        raise ConfigError("--set/--env-kwarg cannot be combined with --resume; start a new run to change them")
    folder = Path(args.resume)
    if not folder.is_dir():
        raise ConfigError(f"cannot resume: {folder} is not a run folder (no such directory)")
    try:
        record = runs.read_json(folder / runs.CONFIG_FILE)
    except RunFolderError as error:
        raise ConfigError(f"cannot resume {folder}: {error}") from None
    settings = _read_settings(folder, record)
    checkpoint = folder / runs.CHECKPOINT_FILE
    restart = not checkpoint.exists()
    if restart:
        agent = _fresh_agent(folder, record, settings)
    else:
        agent = load_checked(checkpoint, settings.agent)
    for key in ("steps", "episodes", "eval_every", "eval_episodes", "final_eval_episodes", "checkpoint_every",
                "stop_at_target"):
        value = getattr(args, key)
        if value is not None:
            setattr(settings, key, value)
    cfg.validate_settings(settings)
    for unit, done in (("steps", agent.steps), ("episodes", agent.episodes)):
        total = getattr(settings, unit)
        if total is not None and done >= total:
            if getattr(args, unit) is not None:
                raise ConfigError(f"--{unit} is the new total and must exceed the {done} {unit} already done")
            raise ConfigError(f"{folder} already trained its {total} {unit}; pass --{unit} with a larger total "
                              f"(e.g. --{unit} {2 * total}) to continue")
    env = cfg.make_env(settings.env, settings.env_kwargs, history=cfg.agent_history(agent.config))
    try:
        ensure_compatible(agent, env)
        target = Target.of_env(env)
    except ValueError as error:
        raise ConfigError(f"cannot resume {folder}: {error}") from None
    finally:
        env.close()
    state = TrainerState() if restart else _read_state(folder)
    if args.stop_at_target is None and state.target_step is not None:
        settings.stop_at_target = False  # resuming past the target means training on
    eval_env = make_eval_env(settings, agent)
    try:
        # Rows written after the checkpoint (the process was killed) are episodes the resumed run
        # plays again: cut them, so nothing is logged twice and steps only go forward.
        cut = runs.truncate_log(folder / runs.METRICS_FILE, runs.METRIC_COLUMNS, agent.steps,
                                logged_episodes(agent))
        runs.truncate_log(folder / runs.EVALUATIONS_FILE, runs.EVAL_COLUMNS, agent.steps)
        record.update(steps=settings.steps, episodes=settings.episodes, eval_every=settings.eval_every,
                      eval_episodes=settings.eval_episodes, final_eval_episodes=settings.final_eval_episodes,
                      checkpoint_every=settings.checkpoint_every,
                      stop_at_target=settings.stop_at_target)
        record["resumed_with"] = [*record.get("resumed_with", []), command_line(argv)]
        try:
            runs.atomic_write_json(folder / runs.CONFIG_FILE, record)
        except OSError as error:
            raise ConfigError(f"cannot write to run folder {folder}: {error.strerror or error}") from None
        trainer = Trainer(folder, agent, settings, target, state, _render_every(args), eval_env)
    except BaseException:
        eval_env.close()
        raise
    goal = settings.steps if settings.steps is not None else str(settings.episodes) + " episodes"
    if restart:
        header = (f"Restarting {settings.agent} on {settings.env} from step 0 to {goal}: the run stopped "
                  f"before its first checkpoint\n  run folder: {folder}")
    else:
        header = (f"Resuming {settings.agent} on {settings.env} from step {agent.steps} (episode {agent.episodes}) "
                  f"to {goal}\n  run folder: {folder}")
    if cut:
        header += f"\n  cut {cut} row(s) of {runs.METRICS_FILE} written after the checkpoint (they run again)"
    return trainer, header
