"""From parsed arguments to a ready Trainer: a new run folder, or a run folder resumed from its checkpoint.

Everything that can be wrong with the input is found here, before any training
step, and raised as ConfigError (one line, exit code 2).
"""

from __future__ import annotations

import importlib.metadata
import os
import shlex
from pathlib import Path

from rl_scratch import config as cfg
from rl_scratch import runs
from rl_scratch.config import ConfigError
from rl_scratch.runs import RunFolderError
from rl_scratch.target import Target
from rl_scratch.trainer import Trainer, TrainerState


def _version() -> str | None:
    try:
        return importlib.metadata.version("rl-scratch")
    except importlib.metadata.PackageNotFoundError:  # running from a source tree that is not installed
        return None


def command_line(argv: list[str]) -> str:
    return "python -m rl_scratch.train " + " ".join(shlex.quote(a) for a in argv)


def _flags(args) -> dict:
    """The command-line values that were given, in resolve()'s shape."""
    flags = {key: getattr(args, key) for key in ("env", "agent", "steps", "episodes", "seed", "eval_every",
                                                 "eval_episodes", "checkpoint_every", "stop_at_target")
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


def _build_agent(resolved: cfg.ResolvedConfig, env):
    s = resolved.settings
    try:
        return resolved.agent_cls(env.observation_space, env.action_space, resolved.agent_config, seed=s.seed)
    except (ValueError, NotImplementedError) as error:
        raise ConfigError(f"{s.agent} cannot train on {s.env}: {error}") from None


def _render_every(args) -> int | None:
    return args.render_every if args.render else None


def start_new_run(args, argv) -> tuple[Trainer, str]:
    file_values = cfg.load_config_file(args.config) if args.config else {}
    resolved = cfg.resolve(_flags(args), file_values, file_name=args.config or "config file")
    s = resolved.settings
    env = cfg.make_env(s.env, s.env_kwargs)
    try:
        agent = _build_agent(resolved, env)
        target = Target.of_env(env)
    finally:
        env.close()
    folder = runs.create_run_folder(args.out, cfg.display_name(s.env), s.agent)
    record = {**resolved.to_json(), "command": command_line(argv), "optimum": target.optimum,
              "reward_threshold": target.threshold, "rl_scratch_version": _version()}
    runs.atomic_write_json(folder / runs.CONFIG_FILE, record)
    trainer = Trainer(folder, agent, s, target, TrainerState(), _render_every(args))
    budget = f"{s.steps} steps" if s.steps is not None else f"{s.episodes} episodes"
    if s.steps is not None and s.episodes is not None:
        budget += f" or {s.episodes} episodes"
    header = (f"Training {s.agent} on {s.env}" + (f" {s.env_kwargs}" if s.env_kwargs else "")
              + f" for {budget}, seed {s.seed}\n"
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


def resume_run(args, argv) -> tuple[Trainer, str]:
    from rl_scratch.agents.checkpoint import ensure_compatible
    from rl_scratch.agents.registry import load_agent

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
    try:
        settings = cfg.TrainSettings(**{k: record[k] for k in cfg.TRAIN_KEYS if k in record})
    except TypeError as error:
        raise ConfigError(f"cannot resume {folder}: config.json is damaged ({error})") from None
    checkpoint = folder / runs.CHECKPOINT_FILE
    try:
        agent = load_agent(checkpoint)
    except (OSError, ValueError, KeyError) as error:
        raise ConfigError(f"cannot resume from {checkpoint}: {error}") from None
    for key in ("steps", "episodes", "eval_every", "eval_episodes", "checkpoint_every", "stop_at_target"):
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
    env = cfg.make_env(settings.env, settings.env_kwargs)
    try:
        ensure_compatible(agent, env)
        target = Target.of_env(env)
    except ValueError as error:
        raise ConfigError(f"cannot resume {folder}: {error}") from None
    finally:
        env.close()
    state_path = folder / runs.STATE_FILE
    state = TrainerState()
    if state_path.exists():
        try:
            state = TrainerState(**runs.read_json(state_path))
        except (RunFolderError, TypeError) as error:
            raise ConfigError(f"cannot resume {folder}: {runs.STATE_FILE} is damaged ({error})") from None
    if args.stop_at_target is None and state.target_step is not None:
        settings.stop_at_target = False  # resuming past the target means training on
    record.update(steps=settings.steps, episodes=settings.episodes, eval_every=settings.eval_every,
                  eval_episodes=settings.eval_episodes, checkpoint_every=settings.checkpoint_every,
                  stop_at_target=settings.stop_at_target)
    record["resumed_with"] = [*record.get("resumed_with", []), command_line(argv)]
    try:
        runs.atomic_write_json(folder / runs.CONFIG_FILE, record)
    except OSError as error:
        raise ConfigError(f"cannot write to run folder {folder}: {error.strerror or error}") from None
    trainer = Trainer(folder, agent, settings, target, state, _render_every(args))
    header = (f"Resuming {settings.agent} on {settings.env} from step {agent.steps} (episode {agent.episodes}) "
              f"to {settings.steps if settings.steps is not None else str(settings.episodes) + ' episodes'}\n"
              f"  run folder: {folder}")
    return trainer, header
