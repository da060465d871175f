"""The tutorials run end to end on a small budget, each as its own process, and their exercise checks pass.

Each tutorial is a jupytext percent-format script (tutorials/README.md says why); quick mode
(RL_SCRATCH_TUTORIAL_QUICK=1) shrinks the training budgets. A tutorial computes with the
package's public API only: it reaches no private name of ours.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

ROOT = Path(__file__).resolve().parent.parent
TUTORIALS = ROOT / "tutorials"
EXPECTED = ["01_neuron_and_chain_rule.py", "02_mlp_on_iris.py", "03_softmax_temperature_cross_entropy.py",
            "04_attention_and_tiny_gpt.py", "05_rl_on_gridworld.py"]
EXERCISE_PASSED = "exercise: correct"


def tutorial_files() -> list[Path]:
    return sorted(TUTORIALS.glob("[0-9][0-9]_*.py"))


def test_the_path_is_numbered_and_complete():
    names = [p.name for p in tutorial_files()]
    assert names == EXPECTED
    assert [int(n[:2]) for n in names] == list(range(1, len(names) + 1))


@pytest.mark.parametrize("path", tutorial_files(), ids=lambda p: p.stem)
def test_tutorial_is_a_percent_notebook_that_uses_only_public_names(path):
    text = path.read_text(encoding="utf-8")
    assert "format_name: percent" in text
    assert text.count("# %% [markdown]") >= 3 and text.count("\n# %%\n") >= 3
    private = re.findall(r"\.(_[A-Za-z]\w*)|import (_\w+)|from rl_scratch\S*\._", text)
    assert not private, f"{path.name} reaches private names of the package: {private}"
    assert EXERCISE_PASSED in text


@pytest.mark.parametrize("path", tutorial_files(), ids=lambda p: p.stem)
def test_tutorial_runs_in_quick_mode_and_its_exercise_passes(path, tmp_path):
    env = {**os.environ, "RL_SCRATCH_TUTORIAL_QUICK": "1", "RL_SCRATCH_TUTORIAL_OUT": str(tmp_path),
           "MPLBACKEND": "Agg", "SDL_VIDEODRIVER": "dummy", "PYGAME_HIDE_SUPPORT_PROMPT": "1"}
    result = subprocess.run([sys.executable, str(path)], cwd=tmp_path, env=env, capture_output=True, text=True,
                            timeout=600)
    assert result.returncode == 0, f"{path.name} failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    assert result.stdout.rstrip().endswith(EXERCISE_PASSED), result.stdout[-2000:]
    pngs = sorted(tmp_path.glob("*.png"))
    assert pngs, f"{path.name} saved no picture"
    for png in pngs:
        with Image.open(png) as image:
            assert image.format == "PNG" and min(image.size) >= 100
