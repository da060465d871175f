"""The home page is the README, read at build time: one copy of the text.

The README's links point from the repository root (`docs/gridworld.gif`); the site's pages
live in docs/, so those links lose their `docs/` prefix. Every other link is left as written,
and the strict build checks that it leads to a page.
"""

from __future__ import annotations

import re
from pathlib import Path

from mkdocs.structure.files import File

ROOT = Path(__file__).resolve().parents[2]
DOCS_LINK = re.compile(r"\]\(docs/")


def on_files(files, config):
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    files.append(File.generated(config, "index.md", content=DOCS_LINK.sub("](", text)))
    return files
