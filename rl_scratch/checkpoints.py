"""Loading a run's checkpoint for `--resume` and `play`, with checks that name the file and the damage.

The agents' own loader already refuses pickles, unknown formats and state that does
not fit the agent; these checks come first and cover what a hand-edited or
misplaced file can hold besides: not an .npz at all (a plain .npy renamed), another
agent type than the run's config.json, a config out of range or far beyond the
machine's memory (a 10^7 x 10^7 layer), counters that are not counts.
"""

from __future__ import annotations

from pathlib import Path

from rl_scratch import runs
from rl_scratch.agents.checkpoint import read_meta_and_arrays, space_from_json
from rl_scratch.agents.registry import load_agent
from rl_scratch.config import ConfigError
from rl_scratch.validate import check_hyperparameters, check_memory

# What loading a damaged or hand-edited checkpoint can raise, beyond the messages the agents give.
LOAD_ERRORS = (OSError, ValueError, KeyError, TypeError, AttributeError, IndexError, OverflowError, MemoryError)


def load_checked(path: Path, expected_agent: str | None = None):
    """The agent in checkpoint `path`, after checks that name the file and what is wrong with it:
    an .npz at all, the agent type config.json names, a config in range and within memory."""
    try:
        with open(path, "rb") as f:
            magic = f.read(6)
    except OSError as error:
        raise ConfigError(f"cannot read {path}: {error.strerror or error}") from None
    if not magic.startswith(b"PK"):
        kind = "a plain .npy array" if magic.startswith(b"\x93NUMPY") else "not a zip archive"
        raise ConfigError(f"{path} is not an rl_scratch checkpoint (.npz): it is {kind}")
    try:
        meta, _ = read_meta_and_arrays(path)
    except LOAD_ERRORS as error:
        raise ConfigError(_cannot_load(path, error)) from None
    name = meta["agent"]
    if expected_agent is not None and name != expected_agent:
        raise ConfigError(f"{path} holds a {name!r} agent, but {path.parent / runs.CONFIG_FILE} says "
                          f"{expected_agent!r}: the checkpoint belongs to another run")
    try:
        check_hyperparameters(str(name), meta["config"], dict.fromkeys(meta["config"], str(path)))
        check_memory(str(name), meta["config"], space_from_json(meta["observation_space"]),
                     space_from_json(meta["action_space"]), "its config")
    except (ValueError, KeyError, TypeError) as error:
        raise ConfigError(f"{path} is damaged: {error}") from None
    try:
        agent = load_agent(path)
    except LOAD_ERRORS as error:
        raise ConfigError(_cannot_load(path, error)) from None
    for counter in ("steps", "episodes"):
        value = getattr(agent, counter)
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise ConfigError(f"{path} is damaged: its {counter} counter is {value!r}, not a count")
    return agent


def _cannot_load(path: Path, error: Exception) -> str:
    """One line: the file, then the loader's reason (which may name the file already)."""
    reason = str(error).replace(f"{path}: ", "").replace(str(path), "the file")
    kind = "" if isinstance(error, (ValueError, OSError)) else f" ({type(error).__name__})"
    return f"cannot load {path}: {reason}{kind}"


def logged_episodes(agent) -> int:
    """Episodes the trainer had logged when `agent` was saved.

    A checkpoint taken while a rollout's records were being handed over counts the
    rollout's later episodes already, and holds them for the next learn() (the
    `pending` records of agents/run_state.py's Run): those are logged on resume,
    so they are not counted as logged here. Planning agents keep no Run.
    """
    run = getattr(agent, "run", None)
    return int(agent.episodes) - len(run.pending if run is not None else ())
