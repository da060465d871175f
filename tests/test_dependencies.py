"""What the package needs of its dependencies, checked against the installed versions.

CI also runs the whole suite on the declared minimum versions (`.ci/run`), so each of
these tests pins part of a floor in pyproject.toml: the env ids our tables name must be
registered (gymnasium), and the progress bar must draw (tqdm).
"""

import io
import sys

import gymnasium

import rl_scratch
from rl_scratch import config as cfg
from rl_scratch.agents.tuned import TUNED
from rl_scratch.console import Progress


def test_every_env_id_in_our_tables_is_registered():
    ids = set(cfg.ENV_DEFAULTS) | {key[1] for key in TUNED} | set(cfg.SHORT_NAMES.values())  # (agent, env id, ...)
    missing = sorted(env_id for env_id in ids if env_id not in gymnasium.registry)
    assert not missing, f"gymnasium {gymnasium.__version__} lacks {missing}: raise its floor in pyproject.toml"


def test_progress_bar_draws_steps_summary_and_messages(monkeypatch):
    out = io.StringIO()
    monkeypatch.setattr(sys, "stdout", out)
    progress = Progress(total_steps=100, start_step=0, interactive=True)
    progress.update({"step": 40, "episode": 3, "loss": 0.5, "epsilon": 0.25, "entropy": None}, recent=1.5)
    progress.message("evaluation at step 40: 1.000")
    progress.close(100)
    text = out.getvalue()
    assert "evaluation at step 40: 1.000" in text
    assert "100/100" in text and "ep 3 | return 1.500 | loss 0.5 | eps 0.25" in text


def test_version_is_the_installed_distributions():
    import importlib.metadata

    assert rl_scratch.__version__ == importlib.metadata.version("rl-scratch")
