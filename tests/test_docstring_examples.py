"""Every public class and function of nets/, envs/ and the rl_scratch/ library modules has a
docstring with a short example, and the examples run (doctest).

What "public" means here, precisely:

- every class and function defined in this project and named in the `__all__` of `rl_scratch.nets` and `rl_scratch.envs`, and
  of every module of rl_scratch/ that declares `__all__` (the library modules);
- every class and function named in the `__all__` of a module those lists name
  (`nets.functional`, `nets.init`, `nets.kernels`, `nets.ops`);
- every method and property such a class defines in its own body, whose name does not start
  with `_`, and which does not override one of a base class: an override (`Linear.forward`,
  `GridWorld.step`) is documented by the method it overrides (`Module.forward`, Gymnasium's
  `Env.step`).

Every module of rl_scratch/ either declares `__all__` or is a command or internal module named
in COMMANDS_AND_INTERNALS, so a new module has to say which it is. agents/ has its own,
stricter walk over all its modules' classes and functions (tests/test_agents_api.py).
"""

import doctest
import importlib
import inspect
import pkgutil
import sys
import types

import pytest

import rl_scratch
import rl_scratch.envs
import rl_scratch.nets

# rl_scratch/ modules with no library API: the commands (their API is `--help`) and the trainer's parts.
COMMANDS_AND_INTERNALS = {
    "__main__", "attention_view", "benchmark", "benchmark_sb3", "checkpoints", "console", "launch", "play",
    "extras", "runtime", "signals", "train", "trainer", "validate", "window", "tune",
    "keyboard",  # play --keys: its key loop, tested by feeding key events (tests/test_play_keys.py)
}


def library_modules() -> list[types.ModuleType]:
    modules = []
    for info in pkgutil.iter_modules(rl_scratch.__path__):
        if info.name in COMMANDS_AND_INTERNALS:
            continue
        module = importlib.import_module(f"rl_scratch.{info.name}")
        if hasattr(module, "__all__"):
            modules.append(module)
    return modules


def namespaces() -> list[types.ModuleType]:
    """The packages and library modules whose `__all__` lists public names."""
    return [rl_scratch.nets, rl_scratch.envs, *library_modules()]


def introduced_members(cls):
    """Public methods and properties `cls` defines itself and does not inherit a definition of."""
    for name, member in vars(cls).items():
        if name.startswith("_") or any(name in vars(base) for base in cls.__mro__[1:]):
            continue
        if isinstance(member, (staticmethod, classmethod)):
            member = member.__func__
        if inspect.isfunction(member) or isinstance(member, property):
            yield name, member


def public_objects():
    """(qualified name, object) for every public class, function, method and property."""
    seen = set()

    def named(module, prefix):
        for name in module.__all__:
            obj = getattr(module, name)
            if isinstance(obj, types.ModuleType) and hasattr(obj, "__all__"):
                yield from named(obj, f"{prefix}{name}.")
            elif (inspect.isclass(obj) or inspect.isfunction(obj)) and obj.__module__.startswith("rl_scratch.") \
                    and id(obj) not in seen:  # DEFAULT_DTYPE is numpy's float32 class
                seen.add(id(obj))
                yield f"{prefix}{name}", obj
                if inspect.isclass(obj):
                    for member_name, member in introduced_members(obj):
                        yield f"{prefix}{name}.{member_name}", member

    for module in namespaces():
        yield from named(module, f"{module.__name__}.")


def defining_modules() -> list[str]:
    """Every module that defines a public object or lists public names: where the examples live."""
    names = {module.__name__ for module in namespaces()}
    for _, obj in public_objects():
        obj = obj.fget if isinstance(obj, property) else obj
        names.add(obj.__module__)
    for module in namespaces():
        for name in module.__all__:
            if isinstance(getattr(module, name), types.ModuleType):
                names.add(getattr(module, name).__name__)
    return sorted(names)


def test_every_rl_scratch_module_declares_its_public_names_or_is_a_command_or_internal():
    undeclared = [info.name for info in pkgutil.iter_modules(rl_scratch.__path__)
                  if info.name not in COMMANDS_AND_INTERNALS
                  and not hasattr(importlib.import_module(f"rl_scratch.{info.name}"), "__all__")]
    assert not undeclared, f"declare __all__ in rl_scratch.{undeclared} or name it in COMMANDS_AND_INTERNALS"
    assert {module.__name__ for module in library_modules()} >= {
        "rl_scratch.config", "rl_scratch.pictures", "rl_scratch.runs", "rl_scratch.stats", "rl_scratch.tensorboard"}


def test_every_public_name_has_an_example():
    objects = list(public_objects())
    assert len(objects) > 150  # the walk reaches Tensor's methods, the modules, the envs
    missing = [name for name, obj in objects if ">>>" not in (obj.__doc__ or "")]
    assert not missing, f"no example (>>>) in the docstring of {missing}"


@pytest.mark.parametrize("module_name", defining_modules())
def test_examples_run(module_name, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # examples that write files write them here
    importlib.import_module(module_name)
    result = doctest.testmod(sys.modules[module_name], optionflags=doctest.ELLIPSIS)
    assert result.failed == 0, f"{result.failed} failing docstring example(s) in {module_name}"
    assert result.attempted > 0, f"{module_name} has no docstring examples"
