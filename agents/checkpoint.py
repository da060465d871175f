"""Agent checkpoints: one `.npz` holding a JSON description plus named arrays.

Layout of a checkpoint file (written atomically by `nets.save_arrays`):

    __meta__          uint8 array of UTF-8 JSON: format_version, agent, config,
                      observation_space, action_space, state (counters, RNG state, ...)
    <name>            every other key is an array: network weights (`net.*`),
                      optimizer state (`optim.*`), Q-tables, replay buffer (`buffer.*`)

Spaces are stored as JSON descriptions (`space_to_json`) so a checkpoint can be
rebuilt without the env, and compared with a live env (`ensure_compatible`).
"""

from __future__ import annotations

import dataclasses
import json
import os

import numpy as np
from gymnasium import spaces

from rl_scratch.nets import load_arrays, save_arrays

FORMAT_VERSION = 1
META_KEY = "__meta__"


# ------------------------------------------------------------------ spaces
def _compact(values: np.ndarray):
    """A Box bound as one number when it is uniform (most are), else a nested list."""
    flat = values.ravel()
    if flat.size and np.all(flat == flat[0]):
        return flat[0].item()
    return values.tolist()


def space_to_json(space: spaces.Space) -> dict:
    """A JSON-serializable description of a Discrete, Box, MultiDiscrete or MultiBinary space."""
    if isinstance(space, spaces.Discrete):
        return {"type": "Discrete", "n": int(space.n), "start": int(space.start)}
    if isinstance(space, spaces.Box):
        return {"type": "Box", "shape": list(space.shape), "dtype": str(space.dtype),
                "low": _compact(space.low), "high": _compact(space.high)}
    if isinstance(space, spaces.MultiDiscrete):
        return {"type": "MultiDiscrete", "nvec": space.nvec.tolist()}
    if isinstance(space, spaces.MultiBinary):
        return {"type": "MultiBinary", "n": np.asarray(space.n).tolist()}
    raise ValueError(f"cannot describe space {space!r}: supported spaces are Discrete, Box, MultiDiscrete, MultiBinary")


def space_from_json(description: dict) -> spaces.Space:
    kind = description.get("type")
    if kind == "Discrete":
        return spaces.Discrete(description["n"], start=description.get("start", 0))
    if kind == "Box":
        dtype = np.dtype(description["dtype"])
        shape = tuple(description["shape"])
        low = np.broadcast_to(np.asarray(description["low"], dtype=dtype), shape)
        high = np.broadcast_to(np.asarray(description["high"], dtype=dtype), shape)
        return spaces.Box(low, high, shape, dtype)
    if kind == "MultiDiscrete":
        return spaces.MultiDiscrete(description["nvec"])
    if kind == "MultiBinary":
        return spaces.MultiBinary(description["n"])
    raise ValueError(f"unknown space description {description!r}")


def _describe(space) -> str:
    return repr(space) if isinstance(space, spaces.Space) else repr(space_from_json(space))


def ensure_compatible(agent, env) -> None:
    """Raise ValueError naming both spaces when `env` does not have the spaces `agent` was built for."""
    for kind in ("observation_space", "action_space"):
        ours, theirs = getattr(agent, kind), getattr(env, kind)
        try:
            same = space_to_json(ours) == space_to_json(theirs)
        except ValueError:
            same = False
        if not same:
            raise ValueError(
                f"{type(agent).__name__} was built for {kind} {_describe(ours)}, but the env has "
                f"{_describe(theirs)}: load the checkpoint with the env (and env options) it was trained on"
            )


# ------------------------------------------------------------------ config
def config_to_dict(config) -> dict:
    return dataclasses.asdict(config)


def config_from_dict(config_cls, values: dict):
    """Build a config dataclass from a dict (JSON lists become tuples where the default is one).

    An unknown key raises ValueError listing the valid ones.
    """
    fields = {f.name: f for f in dataclasses.fields(config_cls)}
    unknown = sorted(set(values) - set(fields))
    if unknown:
        raise ValueError(f"unknown {config_cls.__qualname__} field(s) {unknown}; valid fields: {sorted(fields)}")
    converted = {}
    for name, value in values.items():
        default = fields[name].default
        converted[name] = tuple(value) if isinstance(value, list) and isinstance(default, tuple) else value
    return config_cls(**converted)


# ------------------------------------------------------------- save/load
def save_checkpoint(path, agent_name: str, config, observation_space, action_space,
                    state: dict, arrays: dict) -> None:
    """Write meta + arrays atomically; `state` must be JSON-serializable."""
    meta = {
        "format_version": FORMAT_VERSION,
        "agent": agent_name,
        "config": config_to_dict(config),
        "observation_space": space_to_json(observation_space),
        "action_space": space_to_json(action_space),
        "state": state,
    }
    if META_KEY in arrays:
        raise ValueError(f"array name {META_KEY!r} is reserved for the checkpoint's metadata")
    encoded = np.frombuffer(json.dumps(meta).encode("utf-8"), dtype=np.uint8)
    save_arrays(path, {META_KEY: encoded, **arrays})


def read_meta_and_arrays(path) -> tuple[dict, dict]:
    """Read a checkpoint; a damaged file or an unsupported format version raises ValueError naming the file."""
    path = os.fspath(path)
    arrays = load_arrays(path)  # ValueError on corrupt/truncated files, FileNotFoundError if missing
    if META_KEY not in arrays:
        raise ValueError(f"{path} is an .npz file but not an rl_scratch agent checkpoint (no {META_KEY!r} entry)")
    try:
        meta = json.loads(arrays.pop(META_KEY).tobytes().decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ValueError(f"{path}: checkpoint metadata is corrupt ({error})") from None
    version = meta.get("format_version")
    if version != FORMAT_VERSION:
        raise ValueError(f"{path} has checkpoint format version {version}, but this rl_scratch reads version "
                         f"{FORMAT_VERSION}: retrain, or load it with the rl_scratch version that wrote it")
    for key in ("agent", "config", "observation_space", "action_space", "state"):
        if key not in meta:
            raise ValueError(f"{path}: checkpoint metadata lacks {key!r} (corrupt or hand-edited file)")
    return meta, arrays


def load_checkpoint(path, agent_name: str) -> tuple[dict, dict]:
    """`read_meta_and_arrays`, also checking that the file holds the expected agent type."""
    meta, arrays = read_meta_and_arrays(path)
    if meta["agent"] != agent_name:
        raise ValueError(f"{os.fspath(path)} holds a {meta['agent']!r} agent, not {agent_name!r}: "
                         f"use rl_scratch.agents.load_agent(path) to load any agent type")
    return meta, arrays


def rebuild_agent(cls, path):
    """A fresh `cls` agent with the checkpoint's spaces and config, plus the file's meta and arrays
    (each agent's `load` then restores its own weights and state from them)."""
    meta, arrays = load_checkpoint(path, cls.name)
    agent = cls(space_from_json(meta["observation_space"]), space_from_json(meta["action_space"]),
                config_from_dict(cls.Config, meta["config"]))
    return agent, meta, arrays


def prefixed(prefix: str, arrays: dict) -> dict:
    """{'w': a} -> {'prefix.w': a}, for storing several state dicts in one file."""
    return {f"{prefix}.{k}": v for k, v in arrays.items()}


def unprefixed(prefix: str, arrays: dict) -> dict:
    start = len(prefix) + 1
    return {k[start:]: v for k, v in arrays.items() if k.startswith(prefix + ".")}


def rng_state(rng: np.random.Generator) -> dict:
    return rng.bit_generator.state


def restore_rng(rng: np.random.Generator, state: dict) -> None:
    rng.bit_generator.state = state
