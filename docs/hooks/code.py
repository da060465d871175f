"""Excerpts of our code on the algorithm pages, found by name so that they cannot go stale.

A line of the form

    !code agents/ppo.py clipped_surrogate_loss
    !code agents/ppo.py PPO.update from "for epoch" to "clip_grad_norm"

becomes the source of that function or class (or of its lines from the first one containing
the `from` text to the next one containing the `to` text), with its file and line numbers.
A file, name or text that is not there stops the build, naming it.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

from mkdocs.exceptions import PluginError

ROOT = Path(__file__).resolve().parents[2]
DIRECTIVE = re.compile(r'^!code (?P<path>\S+) (?P<name>[\w.]+)(?: from "(?P<start>[^"]+)" to "(?P<end>[^"]+)")?$',
                       flags=re.M)


def definition(tree: ast.Module, qualname: str):
    """The def or class node named `qualname` ("PPO.update"), or None."""
    node = tree
    for part in qualname.split("."):
        node = next((child for child in getattr(node, "body", [])
                     if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))
                     and child.name == part), None)
        if node is None:
            return None
    return node


def excerpt(match: re.Match, page: str) -> str:
    path, name, start, end = match["path"], match["name"], match["start"], match["end"]
    where = f"{page}: !code {path} {name}"
    source = ROOT / path
    if not source.is_file():
        raise PluginError(f"{where}: no file {path}")
    lines = source.read_text(encoding="utf-8").splitlines()
    node = definition(ast.parse("\n".join(lines)), name)
    if node is None:
        raise PluginError(f"{where}: {path} defines no {name}")
    first = min([node.lineno, *(d.lineno for d in node.decorator_list)])
    last = node.end_lineno
    if start is not None:
        hits = [i for i in range(first, last + 1) if start in lines[i - 1]]
        if not hits:
            raise PluginError(f'{where}: no line of {name} contains "{start}"')
        ends = [i for i in range(hits[0], last + 1) if end in lines[i - 1]]
        if not ends:
            raise PluginError(f'{where}: no line of {name} after "{start}" contains "{end}"')
        first, last = hits[0], ends[0]
    body = "\n".join(lines[first - 1:last])
    indent = min(len(line) - len(line.lstrip()) for line in lines[first - 1:last] if line.strip())
    body = "\n".join(line[indent:] for line in body.splitlines())
    return (f"`{path}`, `{name}`, lines {first}-{last}:\n\n"
            f'```python linenums="{first}"\n{body}\n```')


def on_page_markdown(markdown, page, config, files):
    for line in markdown.splitlines():
        if line.startswith("!code") and not DIRECTIVE.fullmatch(line):
            raise PluginError(f'{page.file.src_uri}: "{line}" is not `!code PATH NAME [from "TEXT" to "TEXT"]`')
    return DIRECTIVE.sub(lambda match: excerpt(match, page.file.src_uri), markdown)
