"""A griffe extension (mkdocs.yml, mkdocstrings' `extensions`): doctest examples render as code.

Our docstrings hold plain doctest runs (`>>> expr` then its output, ended by a blank line),
which Markdown would read as prose (and `x["a"]["b"]` as a link). Each run becomes a fenced
`pycon` block; the docstrings themselves stay as `python -m doctest` and pytest read them.
"""

from __future__ import annotations

import griffe

FENCE = "```"


def fence_doctests(text: str) -> str:
    out: list[str] = []
    in_fence = in_doctest = False
    for line in text.splitlines():
        stripped = line.strip()
        if in_doctest and not stripped:
            out.append(f"{indent}{FENCE}")
            in_doctest = False
        elif not in_doctest and not in_fence and stripped.startswith(">>>"):
            indent = line[:len(line) - len(line.lstrip())]
            out.append(f"{indent}{FENCE}pycon")
            in_doctest = True
        elif not in_doctest and stripped.startswith(FENCE):
            in_fence = not in_fence
        out.append(line)
    if in_doctest:
        out.append(f"{indent}{FENCE}")
    return "\n".join(out)


class DoctestBlocks(griffe.Extension):
    def on_instance(self, *, obj, **kwargs) -> None:
        if obj.docstring is not None:
            obj.docstring.value = fence_doctests(obj.docstring.value)
