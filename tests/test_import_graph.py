"""The package's import graph: dependencies point one way (nets <- agents <- rl_scratch; envs import
nothing of ours) and no module imports another that imports it back, even through a function-level
import. Read from the source with ast, so a lazy import inside a function counts too."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
# Package name -> source folder (pyproject.toml's package-dir).
PACKAGES = {"rl_scratch": ROOT / "rl_scratch", "rl_scratch.tune": ROOT / "rl_scratch" / "tune",
            "rl_scratch.envs": ROOT / "envs",
            "rl_scratch.agents": ROOT / "agents", "rl_scratch.nets": ROOT / "nets",
            "rl_scratch.nets.ops": ROOT / "nets" / "ops"}


def modules() -> dict[str, Path]:
    found = {}
    for package, folder in PACKAGES.items():
        for path in folder.glob("*.py"):
            found[package if path.stem == "__init__" else f"{package}.{path.stem}"] = path
    return found


def imports_of(name: str, path: Path, known: set[str]) -> set[str]:
    """Our modules that `name` imports anywhere in its file (`from . import x` resolved)."""
    package = name if path.stem == "__init__" else name.rpartition(".")[0]
    out = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(parts + ([node.module] if node.module else []))
            # `from rl_scratch import runs` names the module runs; `from rl_scratch.agents import PPO`
            # the package agents (its __init__).
            targets = [f"{base}.{alias.name}" if f"{base}.{alias.name}" in known else base for alias in node.names]
        else:
            continue
        for target in targets:
            while target and target not in known:  # `import rl_scratch.nets.functional as F`, `import numpy`
                target = target.rpartition(".")[0]
            if target and target != name:
                out.add(target)
    return out


def graph() -> dict[str, set[str]]:
    found = modules()
    return {name: imports_of(name, path, set(found)) for name, path in found.items()}


def find_cycle(edges: dict[str, set[str]]) -> list[str] | None:
    """One import cycle as a list of modules (first == last), or None."""
    state: dict[str, int] = {}  # 1: on the current path, 2: finished
    for start in sorted(edges):
        if state.get(start):
            continue
        stack, path = [(start, iter(sorted(edges[start])))], [start]
        state[start] = 1
        while stack:
            node, children = stack[-1]
            child = next(children, None)
            if child is None:
                state[node] = 2
                stack.pop()
                path.pop()
            elif state.get(child) == 1:
                return path[path.index(child):] + [child]
            elif not state.get(child):
                state[child] = 1
                stack.append((child, iter(sorted(edges.get(child, ())))))
                path.append(child)
    return None


def test_the_graph_sees_the_modules_and_their_imports():
    edges = graph()
    assert "rl_scratch.train" in edges and "rl_scratch.agents.ppo" in edges and "rl_scratch.nets.tensor" in edges
    assert "rl_scratch.nets" in edges["rl_scratch.agents.ppo"] and "rl_scratch.agents.rollout" in edges[
        "rl_scratch.agents.ppo"]


def test_find_cycle_finds_a_planted_cycle():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": set()}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None


def test_no_module_imports_in_a_circle():
    edges = graph()
    assert find_cycle(edges) is None, f"import cycle: {' -> '.join(find_cycle(edges))}"


@pytest.mark.parametrize("package, allowed", [
    ("rl_scratch.nets", {"rl_scratch.nets"}),
    ("rl_scratch.envs", {"rl_scratch.envs"}),
    ("rl_scratch.agents", {"rl_scratch.agents", "rl_scratch.nets"}),
])
def test_dependencies_point_one_way(package, allowed):
    for name, targets in graph().items():
        if name == package or name.startswith(package + "."):
            for target in targets:
                assert any(target == a or target.startswith(a + ".") for a in allowed), (
                    f"{name} imports {target}; {package} may only import {sorted(allowed)}")


def test_play_and_the_trainer_do_not_import_each_other():
    edges = graph()
    cli_side = {"rl_scratch.train", "rl_scratch.trainer", "rl_scratch.launch"}
    assert not edges["rl_scratch.play"] & cli_side
    for name in cli_side:
        assert "rl_scratch.play" not in edges[name]
