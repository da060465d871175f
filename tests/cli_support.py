"""Running `python -m rl_scratch.train` / `play` as real processes, and reading what they leave."""

from __future__ import annotations

import csv
import os
import subprocess
import sys
import time
from pathlib import Path

# Short DQN runs on the 5x5 GridWorld: a small network, updates from step 100.
DQN_GRID = ["--env", "GridWorld", "--agent", "dqn", "--hidden", "16", "--set", "learning_starts=100",
            "--set", "buffer_size=1000"]


def environment() -> dict:
    return {**os.environ, "COLUMNS": "120", "SDL_VIDEODRIVER": "dummy", "PYTHONWARNINGS": "ignore::DeprecationWarning"}


def run(module: str, *args, cwd: Path, timeout: float = 120, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", module, *map(str, args)], cwd=cwd, capture_output=True, text=True,
                          timeout=timeout, env=environment(), **kwargs)


def train(*args, cwd: Path, timeout: float = 120, **kwargs) -> subprocess.CompletedProcess:
    return run("rl_scratch.train", *args, cwd=cwd, timeout=timeout, **kwargs)


def start_train(*args, cwd: Path, **kwargs) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "rl_scratch.train", *map(str, args)], cwd=cwd,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=environment(), **kwargs)


def finish(process: subprocess.Popen, timeout: float = 120) -> tuple[str, str]:
    try:
        return process.communicate(timeout=timeout)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()


def wait_until(condition, process: subprocess.Popen, what: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if process.poll() is not None:
            out, err = process.communicate()
            raise AssertionError(f"the run ended (exit {process.returncode}) before {what}:\n{out[-2000:]}\n{err}")
        if time.monotonic() > deadline:
            process.kill()
            raise AssertionError(f"no {what} within {timeout} s")
        time.sleep(0.02)


def assert_one_error_line(result_or_stderr, *fragments: str, code: int = 2) -> str:
    """Exit code 2, stderr exactly one line starting `error: `, no traceback; returns the line."""
    if isinstance(result_or_stderr, subprocess.CompletedProcess):
        assert result_or_stderr.returncode == code, (result_or_stderr.returncode, result_or_stderr.stderr)
        stderr = result_or_stderr.stderr
    else:
        stderr = result_or_stderr
    lines = stderr.strip().splitlines()
    assert "Traceback" not in stderr, stderr
    assert len(lines) == 1 and lines[0].startswith("error: "), stderr
    for fragment in fragments:
        assert fragment in lines[0], (fragment, lines[0])
    return lines[0]


def read_rows(path: Path) -> list[dict]:
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def without_wall_time(rows: list[dict]) -> list[dict]:
    return [{k: v for k, v in row.items() if k != "wall_time"} for row in rows]


def data_rows_on_disk(path: Path) -> int:
    """Complete rows in a CSV log right now (0 while it does not exist)."""
    try:
        text = path.read_bytes().decode("utf-8", "replace")
    except FileNotFoundError:
        return 0
    return max(0, text.count("\n") - 1)


def counters(checkpoint: Path) -> tuple[int, int]:
    """(steps, episodes) a checkpoint holds."""
    from rl_scratch.agents.registry import load_agent

    agent = load_agent(checkpoint)
    return int(agent.steps), int(agent.episodes)


def assert_log_is_whole(folder: Path) -> list[dict]:
    """metrics.csv numbers its episodes 1..n with steps going forward, and checkpoint.npz is at its last row."""
    rows = read_rows(folder / "metrics.csv")
    assert [int(r["episode"]) for r in rows] == list(range(1, len(rows) + 1)), "an episode is missing or twice"
    steps = [int(r["step"]) for r in rows]
    assert steps == sorted(steps), "steps went backwards"
    steps_done, episodes_done = counters(folder / "checkpoint.npz")
    assert episodes_done == len(rows), f"checkpoint at episode {episodes_done}, metrics.csv has {len(rows)} rows"
    assert not rows or steps[-1] <= steps_done
    return rows


def play(*args, cwd: Path, timeout: float = 120, **kwargs) -> subprocess.CompletedProcess:
    return run("rl_scratch.play", *args, cwd=cwd, timeout=timeout, **kwargs)
