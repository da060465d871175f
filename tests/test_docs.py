"""The docs site builds with `mkdocs build --strict`: links, anchors, navigation, API names, code excerpts.

The tutorials are not run here (tests/test_tutorials.py runs each one); .ci/run's last step
builds the site with them run. Without the [docs] extra this skips, except where
RL_SCRATCH_REQUIRE_DOCS=1 (.ci/run sets it after installing the extra): there it fails instead.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

if os.environ.get("RL_SCRATCH_REQUIRE_DOCS") != "1":
    pytest.importorskip("mkdocs", reason="the docs build needs the [docs] extra (pip install -e '.[docs]')")
    pytest.importorskip("mkdocstrings", reason="the docs build needs the [docs] extra (pip install -e '.[docs]')")


def build(tmp_path: Path, config: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "RL_SCRATCH_DOCS_EXECUTE": "false", "NO_MKDOCS_2_WARNING": "1"}
    return subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "--config-file", str(config),
                           "--site-dir", str(tmp_path / "site")], cwd=tmp_path, env=env, capture_output=True,
                          text=True, timeout=900)


def test_the_site_builds_strictly_with_every_page(tmp_path):
    result = build(tmp_path, ROOT / "mkdocs.yml")
    assert result.returncode == 0, result.stderr[-4000:]
    site = tmp_path / "site"
    home = (site / "index.html").read_text(encoding="utf-8")
    assert "Quickstart" in home and 'src="gridworld.gif"' in home  # the README, its pictures found
    for name in ("q-learning", "planning", "dqn", "reinforce", "a2c", "ppo"):
        page = (site / "algorithms" / name / "index.html").read_text(encoding="utf-8")
        # Spinning Up's sections, and our code excerpts numbered from their lines in the source
        assert "Key equations" in page and "Pseudocode" in page and 'class="linenos"' in page
    for package in ("nets", "agents", "envs", "cli"):
        assert "doc-heading" in (site / "api" / package / "index.html").read_text(encoding="utf-8")
    for tutorial in sorted((ROOT / "tutorials").glob("[0-9][0-9]_*.py")):
        assert (site / "tutorials" / tutorial.stem / "index.html").is_file()


def test_a_code_excerpt_whose_function_is_gone_fails_the_build(tmp_path):
    """The algorithm pages name our functions; one renamed away must stop the build, naming it."""
    docs = tmp_path / "docs"
    (docs / "algorithms").mkdir(parents=True)
    (docs / "index.md").write_text("# x\n\n!code agents/ppo.py no_such_function\n", encoding="utf-8")
    config = tmp_path / "mkdocs.yml"
    config.write_text(f"site_name: x\ndocs_dir: {docs}\nhooks:\n  - {ROOT / 'docs/hooks/code.py'}\n", encoding="utf-8")
    result = build(tmp_path, config)
    assert result.returncode != 0
    assert "agents/ppo.py defines no no_such_function" in result.stderr
