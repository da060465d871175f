"""What a new user meets first on the command line: names from other libraries, the --list format,
the command recorded in config.json, and the help for custom maps."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import sysconfig
from pathlib import Path

import numpy as np
import pytest

from rl_scratch import config as cfg
from rl_scratch.config import ConfigError

TINY = ["--env", "GridWorld", "--agent", "qlearning", "--steps", "50", "--eval-every", "0", "--eval-episodes", "1"]


def run(args, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([*map(str, args)], cwd=cwd, capture_output=True, text=True, timeout=120,
                          env={**os.environ, "COLUMNS": "120"})


@pytest.mark.parametrize("key, suggestion", [("learning_rate", "lr"), ("net_arch", "hidden"),
                                             ("discount", "gamma"), ("n_step", "n_steps")])
def test_a_foreign_or_mistyped_hyperparameter_gets_did_you_mean(key, suggestion):
    with pytest.raises(ConfigError, match=rf"no hyperparameter '{key}' \(did you mean {suggestion}\?\); valid: "):
        cfg.resolve({"env": "GridWorld", "agent": "ppo", "hyperparameters": {key: "1"}}, {})


def test_an_unknown_hyperparameter_with_no_near_name_lists_the_valid_ones():
    with pytest.raises(ConfigError) as error:
        cfg.resolve({"env": "GridWorld", "agent": "ppo", "hyperparameters": {"zzz": "1"}}, {})
    assert "did you mean" not in str(error.value) and "valid: " in str(error.value)


def test_list_writes_hidden_sizes_one_way(tmp_path):
    result = run([sys.executable, "-m", "rl_scratch.train", "--list"], cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    shown = re.findall(r"hidden=(\S+)", result.stdout)
    assert shown and all(re.fullmatch(r"\d+(,\d+)*", value) for value in shown), set(shown)
    assert "hidden=128,128" in result.stdout  # a tuned entry (DQN on CartPole), not hidden=(128, 128)


def test_config_json_and_the_printed_commands_name_the_command_as_typed(tmp_path):
    script = Path(sysconfig.get_path("scripts")) / "rl-scratch-train"
    assert script.exists(), f"the package's console script should be installed at {script}"
    result = run([script, *TINY, "--out", "via-script"], cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    command = json.loads((tmp_path / "via-script" / "config.json").read_text())["command"]
    assert command.startswith("rl-scratch-train --env GridWorld ")
    assert "Watch it:    rl-scratch-play via-script\n" in result.stdout
    result = run([script, "--env", "GridWorlt"], cwd=tmp_path)
    assert "(`rl-scratch-train --list` shows the envs)" in result.stderr
    assert run([script, "--help"], cwd=tmp_path).stdout.startswith("usage: rl-scratch-train ")

    result = run([sys.executable, "-m", "rl_scratch", "train", *TINY, "--out", "via-main"], cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    command = json.loads((tmp_path / "via-main" / "config.json").read_text())["command"]
    assert command.startswith("python -m rl_scratch train --env GridWorld ")
    assert "Watch it:    python -m rl_scratch play via-main\n" in result.stdout

    result = run([sys.executable, "-m", "rl_scratch.train", *TINY, "--out", "via-module"], cwd=tmp_path)
    assert "Watch it:    python -m rl_scratch.play via-module\n" in result.stdout


@pytest.mark.parametrize("started_as, train, play", [
    ("/venv/bin/rl-scratch-train", "rl-scratch-train", "rl-scratch-play"),
    ("/src/rl_scratch/__main__.py", "python -m rl_scratch train", "python -m rl_scratch play"),
    ("/src/rl_scratch/train.py", "python -m rl_scratch.train", "python -m rl_scratch.play"),
])
def test_the_resume_and_watch_lines_of_a_stopped_run_name_the_command_as_typed(monkeypatch, started_as, train, play):
    from types import SimpleNamespace

    from rl_scratch.console import final_report

    monkeypatch.setattr(sys, "argv", [started_as])
    summary = {"steps": 100, "episodes": 3, "wall_time_s": 1.0}
    text = final_report(summary, SimpleNamespace(value=None), SimpleNamespace(best_return=None), "runs/x", True)
    assert f"Resume with: {train} --resume runs/x  (add --steps N for a new total)" in text
    assert text.endswith(f"Watch it:    {play} runs/x")


def test_config_json_records_the_package_version(tmp_path):
    import rl_scratch

    result = run([sys.executable, "-m", "rl_scratch.train", *TINY, "--out", "run"], cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert json.loads((tmp_path / "run" / "config.json").read_text())["rl_scratch_version"] == rl_scratch.__version__


def test_a_prompt_with_unknown_characters_names_them():
    import gymnasium as gym

    from rl_scratch.play import generate_text

    env = gym.make("rl_scratch/NextToken-v0")
    chars = env.unwrapped.tokenizer.chars
    assert "Z" not in chars and "Q" not in chars  # the bundled corpus has neither
    with pytest.raises(ConfigError) as error:
        generate_text(None, env, "Zebra Quest", length=5, temperature=1.0, seed=0)
    message = str(error.value)
    assert message.startswith("--prompt: 2 characters not in the tokenizer's vocabulary: 'Z', 'Q'")
    assert "--corpus FILE" in message


def test_help_shows_the_custom_map_syntax(tmp_path):
    result = run([sys.executable, "-m", "rl_scratch.train", "--help"], cwd=tmp_path)
    assert result.returncode == 0
    example = re.search(r"--env-kwarg '(desc=\[.*?\])'", " ".join(result.stdout.split()))
    assert example, result.stdout
    text = example.group(1).replace(" ", "")
    trained = run([sys.executable, "-m", "rl_scratch.train", *TINY, "--env-kwarg", text, "--out", "custom"],
                  cwd=tmp_path)
    assert trained.returncode == 0, trained.stderr
    recorded = json.loads((tmp_path / "custom" / "config.json").read_text())["env_kwargs"]["desc"]
    assert recorded == json.loads(text.split("=", 1)[1])


def test_a_planner_reports_its_sweeps_and_plots_their_convergence(tmp_path):
    from PIL import Image

    result = run([sys.executable, "-m", "rl_scratch.train", "--env", "GridWorld", "--agent", "value_iteration",
                  "--out", "vi"], cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    sweeps = int(re.search(r"Planned in (\d+) sweeps of the env's model", result.stdout).group(1))
    assert 1 < sweeps < 100 and "for 10000 steps" not in result.stdout and "Finished: 0 steps" not in result.stdout
    assert json.loads((tmp_path / "vi" / "eval.json").read_text())["sweeps"] == sweeps
    with Image.open(tmp_path / "vi" / "learning_curve.png") as image:
        pixels = np.asarray(image.convert("RGB"))
    blue = (np.abs(pixels.astype(int) - (31, 119, 180)).sum(axis=2) < 60).sum()  # matplotlib's tab:blue
    assert blue > 500, "the convergence curve is drawn"


def test_value_iteration_records_each_sweeps_change():
    from rl_scratch.agents.planning import get_transition_model, tabular_model, value_iteration
    import gymnasium as gym

    model = tabular_model(get_transition_model(gym.make("rl_scratch/GridWorld-v0")))
    changes = []
    _, _, _, sweeps = value_iteration(model, 0.99, changes=changes)
    assert len(changes) == sweeps and changes[-1] == 0.0 and changes[0] > 0


@pytest.mark.parametrize("args, line", [
    (["--env", "GridWorld", "--agent", "a2c", "--steps", "333", "--set", "n_envs=8"],
     "Ran 336 steps for a budget of 333: a2c steps its 8 envs together and stops at a rollout boundary"),
    (["--env", "Iris", "--agent", "supervised", "--episodes", "23", "--set", "batch_size=32"],
     "Ran 32 episodes for a budget of 23: supervised takes its steps 32 examples at a time"),
    (["--env", "GridWorld", "--agent", "qlearning", "--steps", "333"], None),
])
def test_a_run_stops_at_its_budget_or_says_why_not(tmp_path, args, line):
    result = run([sys.executable, "-m", "rl_scratch.train", *args, "--eval-every", "0", "--no-stop-at-target",
                  "--out", "run"], cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    summary = json.loads((tmp_path / "run" / "eval.json").read_text())
    if line is None:
        assert summary["steps"] == 333 and summary["overshoot"] is None and "Ran " not in result.stdout
    else:
        assert line in result.stdout and summary["overshoot"].startswith(line)
