"""The tutorials (tutorials/NN_*.py, jupytext percent format) as pages, each executed at build time.

They stay in tutorials/ at the root, where a learner opens them; this hook adds them (and
tutorials/README.md, the section's first page) to the site's files before mkdocs-jupyter picks
its notebooks (so it runs first: priority 100), and lists them under "Tutorials" in the
navigation, in their numbered order.

They run in their quick mode (small budgets, as in the tests) unless RL_SCRATCH_TUTORIAL_QUICK
is set otherwise (`RL_SCRATCH_TUTORIAL_QUICK=0 mkdocs build` for the full-length runs); the
pictures they save go to a temporary folder, not into the checkout.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from pathlib import Path

from mkdocs.exceptions import PluginError
from mkdocs.plugins import event_priority
from mkdocs.structure.files import File

ROOT = Path(__file__).resolve().parents[2]
FOLDER = ROOT / "tutorials"
NAV_TITLE = "Tutorials"

_out: str | None = None


def pages() -> list[Path]:
    """tutorials/README.md (when there is one), then the tutorials in their numbered order."""
    return sorted(FOLDER.glob("README.md")) + sorted(FOLDER.glob("[0-9][0-9]_*.py"))


def on_config(config):
    global _out
    on_shutdown()  # `mkdocs serve` configures each rebuild afresh: the last one's folder goes
    # The kernels mkdocs-jupyter starts inherit these.
    os.environ.setdefault("RL_SCRATCH_TUTORIAL_QUICK", "1")
    _out = tempfile.mkdtemp(prefix="rl-scratch-tutorials-")
    os.environ["RL_SCRATCH_TUTORIAL_OUT"] = os.path.join(_out, "pictures")
    os.makedirs(os.environ["RL_SCRATCH_TUTORIAL_OUT"])
    # A cell whose value is a Figure shows as a picture only once the kernel runs matplotlib's
    # inline backend, which it activates when pyplot is imported, and rl_scratch.pictures builds
    # its figures without pyplot: otherwise the page shows "<Figure size ...>". So each kernel
    # starts with `%matplotlib inline`, from a startup file of its own IPython profile.
    os.environ["MPLBACKEND"] = "module://matplotlib_inline.backend_inline"
    os.environ["IPYTHONDIR"] = os.path.join(_out, "ipython")
    startup = Path(os.environ["IPYTHONDIR"], "profile_default", "startup")
    startup.mkdir(parents=True)
    (startup / "00-inline.py").write_text('get_ipython().run_line_magic("matplotlib", "inline")\n', encoding="utf-8")
    os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
    if sys.prefix != sys.base_prefix:
        # A venv made with --system-site-packages sees the system's nbconvert but not the
        # templates it installed under the system prefix's share/jupyter.
        shared = os.path.join(sys.base_prefix, "share", "jupyter")
        os.environ["JUPYTER_PATH"] = os.pathsep.join(filter(None, [os.environ.get("JUPYTER_PATH"), shared]))
    entries = [f"tutorials/{path.name}" for path in pages()]
    for item in config.nav or []:
        if isinstance(item, dict) and NAV_TITLE in item:
            item[NAV_TITLE] = [*item[NAV_TITLE], *entries]
    if FOLDER.is_dir():
        config.watch.append(str(FOLDER))  # `mkdocs serve` rebuilds on an edited tutorial
    return config


@event_priority(100)
def on_files(files, config):
    for path in pages():
        files.append(File(f"tutorials/{path.name}", str(ROOT), config.site_dir, config.use_directory_urls))
    return files


def on_page_content(html, page, config, files):
    if page.file.src_uri.startswith("tutorials/") and "&lt;Figure size" in html:
        raise PluginError(f"{page.file.src_uri} shows a figure as text (<Figure size ...>), not as a picture: "
                          "the kernel did not run matplotlib's inline backend")
    return html


def on_shutdown():
    if _out is not None:
        shutil.rmtree(_out, ignore_errors=True)
