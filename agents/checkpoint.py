"""Agent checkpoints: one `.npz` holding a JSON description plus named arrays.

Layout of a checkpoint file (written atomically by `nets.save_arrays`):

    __meta__          uint8 array of UTF-8 JSON: format_version, agent, config,
                      observation_space, action_space, state (counters, RNG state, ...)
    <name>            every other key is an array, named after the agent attribute it
                      belongs to: network weights (`q_net.layers.0.weight`), optimizer
                      state (`optimizer.m.0`), Q-tables, the replay buffer (`buffer.obs`)

What an agent's checkpoint holds is its declared `saved` attributes
(agents/base.py); `save_agent` and `load_agent_checkpoint` below are the one
implementation of saving and loading them, by kind of value.

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

FORMAT_VERSION = 2  # 2: one entry per declared agent attribute (Agent.saved)
META_KEY = "__meta__"


# ------------------------------------------------------------------ spaces
def _compact(values: np.ndarray):
    """A Box bound as one number when it is uniform (most are), else a nested list."""
    flat = values.ravel()
    if flat.size and np.all(flat == flat[0]):
        return flat[0].item()
    return values.tolist()


def space_to_json(space: spaces.Space) -> dict:
    """A JSON-serializable description of a Discrete, Box, MultiDiscrete or MultiBinary space.

        >>> import gymnasium as gym
        >>> space_to_json(gym.spaces.Discrete(4))
        {'type': 'Discrete', 'n': 4, 'start': 0}
    """
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
    """The space `space_to_json` described.

        >>> space_from_json({"type": "Box", "shape": [2], "dtype": "float32", "low": -1.0, "high": 1.0})
        Box(-1.0, 1.0, (2,), float32)
    """
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


LOAD_FIX = "load the checkpoint with the env (and env options) it was trained on"


def ensure_compatible(agent, env, fix: str = LOAD_FIX) -> None:
    """Raise ValueError naming both spaces when `env` does not have the spaces `agent` was built for.

        >>> import gymnasium as gym
        >>> from rl_scratch.agents import QLearning
        >>> agent = QLearning(gym.spaces.Discrete(25), gym.spaces.Discrete(4))
        >>> ensure_compatible(agent, gym.make("FrozenLake-v1"))
        Traceback (most recent call last):
        ...
        ValueError: QLearning was built for observation_space Discrete(25), but the env has Discrete(16): ...
    """
    for kind in ("observation_space", "action_space"):
        ours, theirs = getattr(agent, kind), getattr(env, kind)
        try:
            same = space_to_json(ours) == space_to_json(theirs)
        except ValueError:
            same = False
        if not same:
            raise ValueError(
                f"{type(agent).__name__} was built for {kind} {_describe(ours)}, but the env has "
                f"{_describe(theirs)}: {fix}"
            )


# ------------------------------------------------------------------ config
def config_to_dict(config) -> dict:
    """A config dataclass as a JSON-ready dict (tuples become lists when dumped).

        >>> from rl_scratch.agents import QLearning
        >>> config_to_dict(QLearning.Config(lr=0.5))["lr"]
        0.5
    """
    return dataclasses.asdict(config)


def config_from_dict(config_cls, values: dict):
    """Build a config dataclass from a dict (JSON lists become tuples where the default is one).

    An unknown key raises ValueError listing the valid ones.

        >>> from rl_scratch.agents import DQN
        >>> config_from_dict(DQN.Config, {"hidden": [32, 32]}).hidden
        (32, 32)
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
    """Write meta + arrays atomically; `state` must be JSON-serializable.

        >>> import gymnasium as gym, numpy as np, os, tempfile
        >>> from rl_scratch.agents import QLearning
        >>> path = os.path.join(tempfile.mkdtemp(), "q.npz")
        >>> save_checkpoint(path, "qlearning", QLearning.Config(), gym.spaces.Discrete(2), gym.spaces.Discrete(2),
        ...                 {"steps": 0}, {"q_table": np.zeros((2, 2))})
        >>> read_meta_and_arrays(path)[0]["state"]
        {'steps': 0}
    """
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
    """Read a checkpoint; a damaged file or an unsupported format version raises ValueError naming the file.

        >>> import gymnasium as gym, os, tempfile
        >>> from rl_scratch.agents import QLearning
        >>> path = os.path.join(tempfile.mkdtemp(), "q.npz")
        >>> QLearning(gym.spaces.Discrete(3), gym.spaces.Discrete(2)).save(path)
        >>> meta, arrays = read_meta_and_arrays(path)
        >>> meta["agent"], arrays["q_table"].shape
        ('qlearning', (3, 2))
    """
    path = os.fspath(path)
    arrays = load_arrays(path)  # ValueError on corrupt/truncated files, FileNotFoundError if missing
    if META_KEY not in arrays:
        raise ValueError(f"{path} is an .npz file but not an rl_scratch agent checkpoint (no {META_KEY!r} entry)")
    try:
        meta = json.loads(arrays.pop(META_KEY).tobytes().decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ValueError(f"{path}: checkpoint metadata is corrupt ({error})") from None
    if not isinstance(meta, dict):
        raise ValueError(f"{path}: checkpoint metadata is a JSON {type(meta).__name__}, not an object "
                         "(corrupt or hand-edited file)")
    version = meta.get("format_version")
    if version != FORMAT_VERSION:
        raise ValueError(f"{path} has checkpoint format version {version}, but this rl_scratch reads version "
                         f"{FORMAT_VERSION}: retrain, or load it with the rl_scratch version that wrote it")
    for key in ("agent", "config", "observation_space", "action_space", "state"):
        if key not in meta:
            raise ValueError(f"{path}: checkpoint metadata lacks {key!r} (corrupt or hand-edited file)")
    for key in ("config", "observation_space", "action_space", "state"):
        if not isinstance(meta[key], dict):
            raise ValueError(f"{path}: checkpoint {key} is not a JSON object (corrupt or hand-edited file)")
    return meta, arrays


def load_checkpoint(path, agent_name: str) -> tuple[dict, dict]:
    """`read_meta_and_arrays`, also checking that the file holds the expected agent type.

        >>> import gymnasium as gym, os, tempfile
        >>> from rl_scratch.agents import QLearning
        >>> path = os.path.join(tempfile.mkdtemp(), "q.npz")
        >>> QLearning(gym.spaces.Discrete(3), gym.spaces.Discrete(2)).save(path)
        >>> load_checkpoint(path, "dqn")
        Traceback (most recent call last):
        ...
        ValueError: ... holds a 'qlearning' agent, not 'dqn': use rl_scratch.agents.load_agent(path) ...
    """
    meta, arrays = read_meta_and_arrays(path)
    if meta["agent"] != agent_name:
        raise ValueError(f"{os.fspath(path)} holds a {meta['agent']!r} agent, not {agent_name!r}: "
                         f"use rl_scratch.agents.load_agent(path) to load any agent type")
    return meta, arrays


def rebuild_agent(cls, path):
    """A fresh `cls` agent with the checkpoint's spaces and config, plus the file's meta and arrays.

        >>> import gymnasium as gym, os, tempfile
        >>> from rl_scratch.agents import QLearning
        >>> path = os.path.join(tempfile.mkdtemp(), "q.npz")
        >>> QLearning(gym.spaces.Discrete(3), gym.spaces.Discrete(2), QLearning.Config(lr=0.5)).save(path)
        >>> rebuild_agent(QLearning, path)[0].config.lr
        0.5
    """
    meta, arrays = load_checkpoint(path, cls.name)
    try:
        config = config_from_dict(cls.Config, meta["config"])
    except (TypeError, ValueError) as error:
        raise ValueError(f"{os.fspath(path)}: checkpoint config is invalid ({error})") from None
    try:
        observation_space = space_from_json(meta["observation_space"])
        agent = cls(observation_space, space_from_json(meta["action_space"]), config)
    except (KeyError, TypeError, ValueError) as error:
        raise ValueError(f"{os.fspath(path)}: checkpoint spaces or config are invalid ({error})") from None
    except MemoryError:
        raise ValueError(f"{os.fspath(path)}: the checkpoint's config asks for networks or buffers larger than "
                         "this machine's memory (corrupt or hand-edited file)") from None
    return agent, meta, arrays


# ------------------------------------------------- declared agent state
# Each agent declares the attributes its checkpoint holds (`Agent.saved`); these two
# functions store and restore them by kind, so no agent writes its own save/load:
#   ndarray             -> an array entry named after the attribute (restored in place, shape checked)
#   numpy Generator     -> its bit generator state, as JSON
#   object with state_dict()/load_state_dict() (networks, optimizers, buffers) -> its
#                          state, arrays under "<attribute>.<key>"
#   dict / list / tuple -> walked the same way; anything else must be a JSON value
ARRAY_TAG, RNG_TAG, STATE_TAG = "__array__", "__rng__", "__state__"


def encode_value(value, key: str, arrays: dict):
    """A JSON-serializable form of `value`; arrays go into `arrays` under names starting with `key`.

        >>> import numpy as np
        >>> arrays = {}
        >>> encode_value({"w": np.zeros(2), "n": 3}, "net", arrays), list(arrays)
        ({'w': {'__array__': 'net.w'}, 'n': 3}, ['net.w'])
    """
    if isinstance(value, np.ndarray):
        arrays[key] = value
        return {ARRAY_TAG: key}
    if isinstance(value, np.random.Generator):
        return {RNG_TAG: value.bit_generator.state}
    if callable(getattr(value, "state_dict", None)):
        return {STATE_TAG: encode_value(value.state_dict(), key, arrays)}
    if isinstance(value, dict):
        return {str(k): encode_value(v, f"{key}.{k}", arrays) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [encode_value(v, f"{key}.{i}", arrays) for i, v in enumerate(value)]
    if isinstance(value, np.generic):
        return value.item()
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    raise TypeError(f"cannot store {type(value).__name__} {key!r} in a checkpoint: use arrays or JSON values")


def decode_value(encoded, arrays: dict):
    """The inverse of `encode_value`: arrays read back, generator states as {RNG_TAG: state} dicts.

        >>> import numpy as np
        >>> decode_value({"w": {"__array__": "net.w"}, "n": 3}, {"net.w": np.ones(2)})
        {'w': array([1., 1.]), 'n': 3}
    """
    if isinstance(encoded, dict):
        if ARRAY_TAG in encoded:
            return arrays[encoded[ARRAY_TAG]]
        if RNG_TAG in encoded:
            return encoded
        if STATE_TAG in encoded:
            return decode_value(encoded[STATE_TAG], arrays)
        return {k: decode_value(v, arrays) for k, v in encoded.items()}
    if isinstance(encoded, list):
        return [decode_value(v, arrays) for v in encoded]
    return encoded


def restore_value(owner, name: str, encoded, arrays: dict) -> None:
    """Put a decoded attribute back into `owner` the way its current value is restored.

        >>> import numpy as np
        >>> class Owner:
        ...     table = np.zeros(2)
        >>> owner = Owner()
        >>> restore_value(owner, "table", {"__array__": "table"}, {"table": np.array([1.0, 2.0])})
        >>> owner.table
        array([1., 2.])
    """
    current = getattr(owner, name)
    value = decode_value(encoded, arrays)
    if isinstance(current, np.random.Generator):
        current.bit_generator.state = value[RNG_TAG]
    elif callable(getattr(current, "load_state_dict", None)):
        current.load_state_dict(value)
    elif isinstance(current, np.ndarray):
        value = np.asarray(value)
        if value.shape != current.shape:
            raise ValueError(f"{name} has shape {value.shape}, expected {current.shape}")
        current[...] = value
    elif isinstance(encoded, dict) and STATE_TAG in encoded:
        raise ValueError(f"{name} is saved as a state object, but this agent has none")
    elif isinstance(current, bool) and not isinstance(value, bool):
        raise ValueError(f"{name} must be true or false, got {value!r}")
    elif isinstance(current, int) and not isinstance(current, bool) and (
            isinstance(value, bool) or not isinstance(value, int) or value < 0):
        raise ValueError(f"{name} must be a count (an integer >= 0), got {value!r}")
    else:
        setattr(owner, name, value)


def save_agent(agent, path) -> None:
    """Checkpoint `agent`: its declared attributes (`agent.checkpoint_fields()`), config and spaces.

        >>> import gymnasium as gym, os, tempfile
        >>> from rl_scratch.agents import SARSA
        >>> path = os.path.join(tempfile.mkdtemp(), "s.npz")
        >>> save_agent(SARSA(gym.spaces.Discrete(3), gym.spaces.Discrete(2)), path)
        >>> sorted(read_meta_and_arrays(path)[0]["state"])
        ['episodes', 'q_table', 'rng', 'run', 'steps']
    """
    arrays: dict = {}
    state = {name: encode_value(getattr(agent, name), name, arrays) for name in agent.checkpoint_fields()}
    save_checkpoint(path, agent.name, agent.config, agent.observation_space, agent.action_space, state, arrays)


def load_agent_checkpoint(cls, path):
    """A `cls` agent rebuilt from its checkpoint; anything that does not fit its config raises ValueError.

        >>> import gymnasium as gym, os, tempfile
        >>> from rl_scratch.agents import SARSA
        >>> path = os.path.join(tempfile.mkdtemp(), "s.npz")
        >>> SARSA(gym.spaces.Discrete(3), gym.spaces.Discrete(2)).save(path)
        >>> load_agent_checkpoint(SARSA, path).q_table.shape
        (3, 2)
    """
    agent, meta, arrays = rebuild_agent(cls, path)
    state = meta["state"]
    if not isinstance(state, dict):
        raise ValueError(f"{os.fspath(path)}: checkpoint state is not a JSON object (corrupt or hand-edited file)")
    for key, array in arrays.items():
        # weights, tables and optimizer moments are finite in any agent that trained; env states are not checked
        if not key.startswith("run.") and array.dtype.kind == "f" and not np.isfinite(array).all():
            raise ValueError(f"{os.fspath(path)}: {key} holds NaN or inf values (a diverged or damaged agent)")
    for name in cls.saved:
        if name not in state:
            if name in cls.optional:
                continue
            raise ValueError(f"{os.fspath(path)}: checkpoint does not match its own config (no {name!r})")
        try:
            restore_value(agent, name, state[name], arrays)
        except (KeyError, ValueError, TypeError, IndexError, AttributeError) as error:
            raise ValueError(f"{os.fspath(path)}: checkpoint does not match its own config "
                             f"({name}: {error})") from None
    return agent
