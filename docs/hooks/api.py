"""The API reference: one page per package, generated from the modules on disk and read by mkdocstrings.

A module added to nets/, agents/, envs/ or rl_scratch/ gets its section without anyone editing a
page, and the docstrings are the only text. griffe (mkdocstrings' reader) finds `rl_scratch` on
sys.path but not its subpackages: pyproject's package-dir maps rl_scratch.nets, .agents and .envs
to top-level folders, which its static finder does not follow. So it reads a tree of links laid
out as the installed package (rl_scratch/ with nets/, agents/ and envs/ inside).
"""

from __future__ import annotations

import shutil
import sys
import tempfile
from pathlib import Path

from mkdocs.plugins import event_priority
from mkdocs.structure.files import File

if sys.version_info >= (3, 11):
    import tomllib
else:  # tomli is a runtime dependency on 3.10
    import tomli as tomllib

ROOT = Path(__file__).resolve().parents[2]
# Page -> (title, the packages it documents, what the page says first).
PAGES = {
    "api/nets.md": ("rl_scratch.nets", ["rl_scratch.nets", "rl_scratch.nets.ops"],
                    "The engine: `Tensor` and its ops, modules, optimizers, transformers."),
    "api/agents.md": ("rl_scratch.agents", ["rl_scratch.agents"], "The learning algorithms and their parts."),
    "api/envs.md": ("rl_scratch.envs", ["rl_scratch.envs"], "Our Gymnasium environments."),
    "api/cli.md": ("rl_scratch: the commands and their glue", ["rl_scratch", "rl_scratch.tune"],
                   "`train`, `play`, `benchmark` and `tune`, the modules they share, and the library modules "
                   "beside them (`config`, `runs`, `stats`, `pictures`, ...)."),
}

_shadow: Path | None = None


def package_dirs() -> dict[str, Path]:
    """{"rl_scratch": ROOT/"rl_scratch", "rl_scratch.nets": ROOT/"nets", ...} from pyproject.toml."""
    setuptools = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["setuptools"]
    dirs = {name: ROOT / folder for name, folder in setuptools["package-dir"].items()}
    for name in setuptools["packages"]:  # parents come first: rl_scratch.nets before rl_scratch.nets.ops
        if name not in dirs:
            parent, _, leaf = name.rpartition(".")
            dirs[name] = dirs[parent] / leaf
    return {name: dirs[name] for name in setuptools["packages"]}


def modules(package: str, folder: Path) -> list[str]:
    """The public modules of one package folder (not its subpackages: they are listed on their own)."""
    return [f"{package}.{path.stem}" for path in sorted(folder.glob("*.py"))
            if not path.stem.startswith("_")]


def page(title: str, packages: list[str], intro: str, dirs: dict[str, Path]) -> str:
    lines = [f"# {title}", "", intro, ""]
    for package in packages:
        lines += [f"::: {package}", "    options:", "      members: false", "      show_root_heading: true", ""]
        lines += [f"::: {name}\n" for name in modules(package, dirs[package])]
    return "\n".join(lines)


@event_priority(100)  # before mkdocstrings' on_config, which starts the python handler
def on_config(config):
    global _shadow
    on_shutdown()  # `mkdocs serve` configures each rebuild afresh: the last one's tree goes
    dirs = package_dirs()
    _shadow = Path(tempfile.mkdtemp(prefix="rl-scratch-api-"))
    for name, folder in dirs.items():
        target = _shadow.joinpath(*name.split("."))
        target.mkdir(parents=True, exist_ok=True)
        for entry in folder.iterdir():
            if not (target / entry.name).exists():
                (target / entry.name).symlink_to(entry)
    handler = config.plugins["mkdocstrings"].config.handlers.setdefault("python", {})
    handler["paths"] = [str(_shadow), *handler.get("paths", [])]
    return config


def on_files(files, config):
    dirs = package_dirs()
    for uri, (title, packages, intro) in PAGES.items():
        files.append(File.generated(config, uri, content=page(title, packages, intro, dirs)))
    return files


def on_shutdown():
    if _shadow is not None:
        shutil.rmtree(_shadow, ignore_errors=True)
