"""Smoke tests of `python -m rl_scratch.train` and `python -m rl_scratch.play`, run as a user would:
in a subprocess, on tiny budgets (DQN on the 5x5 GridWorld, a few hundred steps)."""

from __future__ import annotations

import csv
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from rl_scratch import runs

# A few hundred DQN steps with early gradient updates, so losses and evaluations appear.
TINY = ["--env", "GridWorld", "--agent", "dqn", "--steps", "600", "--eval-every", "200", "--eval-episodes", "2",
        "--set", "learning_starts=100", "--set", "buffer_size=1000", "--hidden", "16"]


def cli(module: str, *args, cwd: Path, timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", module, *map(str, args)], cwd=cwd, capture_output=True, text=True,
                          timeout=timeout, env={**os.environ, "COLUMNS": "120"})


def train(*args, cwd: Path) -> subprocess.CompletedProcess:
    return cli("rl_scratch.train", *args, cwd=cwd)


def read_rows(path: Path) -> list[dict]:
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def without_wall_time(rows: list[dict]) -> list[dict]:
    return [{k: v for k, v in row.items() if k != "wall_time"} for row in rows]


@pytest.fixture(scope="module")
def workdir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("cli")


@pytest.fixture(scope="module")
def run_dir(workdir) -> Path:
    result = train(*TINY, "--seed", "3", "--out", "first", cwd=workdir)
    assert result.returncode == 0, result.stderr
    return workdir / "first"


def test_run_folder_has_every_artifact(run_dir):
    from PIL import Image
    from rl_scratch.agents.registry import load_agent

    config = json.loads((run_dir / "config.json").read_text())
    assert config["env"] == "rl_scratch/GridWorld-v0" and config["agent"] == "dqn" and config["seed"] == 3
    assert config["hyperparameters"]["learning_starts"] == 100 and config["hyperparameters"]["hidden"] == [16]
    assert config["command"].startswith("python -m rl_scratch.train") and "--seed 3" in config["command"]

    rows = read_rows(run_dir / "metrics.csv")
    assert tuple(rows[0]) == runs.METRIC_COLUMNS
    steps = [int(r["step"]) for r in rows]
    assert steps == sorted(steps) and 0 < steps[-1] <= 600
    assert [int(r["episode"]) for r in rows] == list(range(1, len(rows) + 1))
    assert any(r["loss"] for r in rows), "gradient updates start at step 100, so later episodes log a loss"
    assert all(0 <= float(r["epsilon"]) <= 1 for r in rows)

    evaluations = read_rows(run_dir / "evaluations.csv")
    eval_steps = [int(r["step"]) for r in evaluations]
    assert eval_steps == sorted(eval_steps) and len(eval_steps) >= 3  # ~200, ~400, and the final one at 600
    assert eval_steps[-1] == 600

    agent = load_agent(run_dir / "checkpoint.npz")
    assert agent.steps == 600
    assert load_agent(run_dir / "best.npz").steps <= 600

    png = run_dir / "learning_curve.png"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    with Image.open(png) as image:
        assert image.width > 300 and image.height > 200

    summary = json.loads((run_dir / "eval.json").read_text())
    for key in ("mean_return", "std_return", "eval_episodes", "optimum", "success_rate", "wall_time_s", "steps"):
        assert key in summary
    assert summary["steps"] == 600 and summary["eval_episodes"] == 2
    assert summary["optimum"] == pytest.approx(0.93)
    assert len(summary["returns"]) == 2 and summary["mean_return"] == pytest.approx(sum(summary["returns"]) / 2)


def test_default_gridworld_run_reaches_the_optimum_quickly_and_says_so(workdir):
    start = time.monotonic()
    result = train("--env", "GridWorld", "--out", "default", cwd=workdir)
    elapsed = time.monotonic() - start
    assert result.returncode == 0, result.stderr
    summary = json.loads((workdir / "default" / "eval.json").read_text())
    config = json.loads((workdir / "default" / "config.json").read_text())
    assert "policy" in config["hyperparameters"], "the default agent learns through a network, not a table"
    assert summary["reached_target"] is True and summary["mean_return"] == pytest.approx(0.93)
    assert summary["target_reached_after_s"] < 30 and elapsed < 60
    assert "Reached the optimal return 0.930 (value iteration)" in result.stdout


@pytest.mark.parametrize("agent", ["qlearning", "sarsa", "dqn", "reinforce", "a2c"])
def test_every_agent_one_flag_away_reaches_the_gridworld_optimum(workdir, agent):
    result = train("--env", "GridWorld", "--agent", agent, "--stop-at-target", "--out", f"grid-{agent}", cwd=workdir)
    assert result.returncode == 0, result.stderr
    summary = json.loads((workdir / f"grid-{agent}" / "eval.json").read_text())
    assert summary["target_reached_at_step"] is not None and summary["best_eval_return"] == pytest.approx(0.93)


def test_iris_run_reports_held_out_accuracy_and_confusion_matrix(workdir):
    result = train("--env", "Iris", "--out", "iris", cwd=workdir)
    assert result.returncode == 0, result.stderr
    report = json.loads((workdir / "iris" / "eval.json").read_text())["report"]
    confusion = np.array(report["confusion_matrix"])
    assert report["split"] == "test" and report["examples"] == 30 and confusion.sum() == 30
    assert report["accuracy"] == pytest.approx(np.trace(confusion) / 30) and report["accuracy"] > 0.8
    assert "confusion matrix" in result.stdout and "versicolor" in result.stdout


def test_corpus_flag_trains_on_a_given_text_file(workdir):
    corpus = workdir / "letters.txt"
    corpus.write_text("abcabcabc xyz " * 40, encoding="utf-8")
    result = train("--env", "NextToken", "--corpus", corpus, "--steps", "64", "--out", "letters", cwd=workdir)
    assert result.returncode == 0, result.stderr
    config = json.loads((workdir / "letters" / "config.json").read_text())
    assert config["env_kwargs"]["corpus_path"] == str(corpus.resolve())
    report = json.loads((workdir / "letters" / "eval.json").read_text())["report"]
    assert set(report["sample"]) <= set("abcxyz "), "the model's vocabulary is the given file's"


def test_output_without_terminal_is_plain_lines(workdir):
    result = train(*TINY, "--seed", "3", "--out", "again", cwd=workdir)
    assert result.returncode == 0, result.stderr
    assert "\r" not in result.stdout  # no progress-bar redraws in logs
    progress = [line for line in result.stdout.splitlines() if line.startswith("step ")]
    assert len(progress) >= 3 and "steps/s" in progress[-1]
    assert "optimal return (value iteration on the env's model): 0.930" in result.stdout


def test_same_seed_same_metrics(run_dir, workdir):
    # `again` is test_output_without_terminal_is_plain_lines's run with the same flags and seed.
    again = workdir / "again"
    if not again.exists():
        assert train(*TINY, "--seed", "3", "--out", "again", cwd=workdir).returncode == 0
    first, second = read_rows(run_dir / "metrics.csv"), read_rows(again / "metrics.csv")
    assert len(first) > 5
    assert without_wall_time(first) == without_wall_time(second)
    assert read_rows(run_dir / "evaluations.csv")[0]["mean_return"] == read_rows(again / "evaluations.csv")[0][
        "mean_return"]

    other = train(*TINY, "--seed", "4", "--out", "other_seed", cwd=workdir)
    assert other.returncode == 0, other.stderr
    assert without_wall_time(read_rows(workdir / "other_seed" / "metrics.csv")) != without_wall_time(first)


def test_resume_continues_the_step_count(run_dir, workdir):
    from rl_scratch.agents.registry import load_agent

    resumed = workdir / "resumed"
    shutil.copytree(run_dir, resumed)
    before = read_rows(resumed / "metrics.csv")
    result = train("--resume", resumed, "--steps", 900, cwd=workdir)
    assert result.returncode == 0, result.stderr
    rows = read_rows(resumed / "metrics.csv")
    assert rows[: len(before)] == before, "metrics.csv is appended to, not rewritten"
    added = rows[len(before):]
    assert added and int(added[0]["step"]) > int(before[-1]["step"])
    assert int(added[0]["episode"]) == int(before[-1]["episode"]) + 1
    assert float(added[0]["wall_time"]) >= float(before[-1]["wall_time"])
    assert load_agent(resumed / "checkpoint.npz").steps == 900
    config = json.loads((resumed / "config.json").read_text())
    assert config["steps"] == 900 and len(config["resumed_with"]) == 1
    assert json.loads((resumed / "eval.json").read_text())["steps"] == 900


def test_interrupt_saves_a_loadable_checkpoint_and_says_how_to_resume(workdir):
    from rl_scratch.agents.registry import load_agent

    out = workdir / "interrupted"
    process = subprocess.Popen(
        [sys.executable, "-m", "rl_scratch.train", *TINY[:4], "--steps", "1000000", "--checkpoint-every", "100",
         "--eval-every", "0", "--out", str(out)],
        cwd=workdir, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        while not (out / "checkpoint.npz").exists():
            assert process.poll() is None, process.communicate()[1]
            assert time.monotonic() < deadline, "no checkpoint within 60 s"
            time.sleep(0.05)
        process.send_signal(signal.SIGINT)
        stdout, stderr = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode in (0, 130), stderr
    assert "Traceback" not in stderr
    assert f"--resume {out}" in stdout
    agent = load_agent(out / "checkpoint.npz")
    assert 100 <= agent.steps < 1_000_000
    summary = json.loads((out / "eval.json").read_text())
    assert summary["interrupted"] is True and summary["steps"] == agent.steps
    assert (out / "learning_curve.png").exists()


def _file_in_the_way(workdir: Path) -> str:
    blocker = workdir / "not_a_folder"
    blocker.write_text("a file where the run folder's parent should be")
    return str(blocker / "run")


def _corrupt_run(workdir: Path) -> str:
    folder = workdir / "corrupt"
    folder.mkdir(exist_ok=True)
    (folder / "config.json").write_text(json.dumps({"env": "rl_scratch/GridWorld-v0", "agent": "dqn", "steps": 10}))
    (folder / "checkpoint.npz").write_bytes(b"PK\x03\x04 truncated")
    return str(folder)


@pytest.mark.parametrize("make_args, message", [
    (lambda d: ["--env", "GridWrld"], "did you mean GridWorld"),
    (lambda d: ["--env", "GridWorld", "--agent", "dqm"], "did you mean dqn"),
    (lambda d: ["--env", "GridWorld", "--steps", "-5"], "--steps must be a positive integer"),
    (lambda d: ["--env", "Pendulum-v1", "--agent", "dqn"], "Discrete action spaces"),
    (lambda d: ["--env", "GridWorld", "--out", _file_in_the_way(d)], "cannot write to output folder"),
    (lambda d: ["--resume", _corrupt_run(d)], "corrupt or truncated"),
    (lambda d: ["--env", "GridWorld", "--set", "learning_rate=0.1"],
     "no hyperparameter 'learning_rate' (did you mean lr?); valid: "),
], ids=["unknown-env", "unknown-agent", "negative-steps", "box-actions", "unwritable-out", "corrupt-resume",
        "unknown-hyperparameter"])
def test_bad_input_is_one_error_line_and_exit_code_2(workdir, make_args, message):
    result = train(*make_args(workdir), cwd=workdir)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    assert message in lines[0]


def test_play_records_a_gif_without_a_display(run_dir, workdir):
    from PIL import Image

    gif = workdir / "episodes.gif"
    result = cli("rl_scratch.play", run_dir, "--record", gif, "--episodes", 2, cwd=workdir)
    assert result.returncode == 0, result.stderr
    assert result.stdout.count("episode ") == 2 and "Recorded" in result.stdout
    with Image.open(gif) as image:
        assert image.format == "GIF" and image.n_frames > 2
        assert image.size == (320, 320)  # the 5x5 map at 64-pixel cells


def test_play_refuses_an_unknown_video_type(run_dir, workdir):
    result = cli("rl_scratch.play", run_dir, "--record", workdir / "x.avi", cwd=workdir)
    assert result.returncode == 2 and "use .gif" in result.stderr


def _numpy_loaded_openblas() -> bool:
    try:
        with open("/proc/self/maps") as maps:
            return any("openblas" in line.lower() for line in maps)
    except OSError:
        return False


@pytest.mark.skipif(not _numpy_loaded_openblas(), reason="NumPy here is not linked to OpenBLAS (or not on Linux)")
def test_blas_threads_are_limited_on_every_supported_numpy_unless_the_user_chose(monkeypatch):
    """The trainer and the tests run NumPy's BLAS on one thread: NumPy 2's scipy-openblas and NumPy 1.x's
    ILP64 OpenBLAS name their setter differently (the floors job once ran multithreaded, and PPO
    there learned a different, worse policy for the same seed)."""
    from rl_scratch.runtime import _THREAD_VARIABLES, limit_blas_threads

    for name in _THREAD_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    assert limit_blas_threads() is True
    monkeypatch.setenv("OPENBLAS_NUM_THREADS", "2")
    assert limit_blas_threads() is False


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="mallopt is glibc's")
def test_keep_freed_memory_applies_unless_the_user_set_malloc_variables(monkeypatch):
    from rl_scratch.runtime import keep_freed_memory

    monkeypatch.setenv("MALLOC_TRIM_THRESHOLD_", "131072")
    assert keep_freed_memory() is False
    monkeypatch.delenv("MALLOC_TRIM_THRESHOLD_")
    monkeypatch.delenv("MALLOC_MMAP_THRESHOLD_", raising=False)
    assert keep_freed_memory() is True
