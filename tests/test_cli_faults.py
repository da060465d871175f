"""Faults in the middle of a run, against real processes: a loss that becomes NaN/inf, a full disk,
a file-size limit. Each ends with exit code 2, one `error:` line and no traceback, and the last good
checkpoint stays loadable."""

from __future__ import annotations

import contextlib
import json
import os
import resource
import subprocess
import uuid

import numpy as np
import pytest

from cli_support import DQN_GRID, assert_one_error_line, counters, read_rows, train


def assert_checkpoint_is_good(folder) -> None:
    from rl_scratch.nets import load_arrays

    for name, array in load_arrays(folder / "checkpoint.npz").items():
        assert array.dtype.kind not in "fc" or np.all(np.isfinite(array)), name
    steps, episodes = counters(folder / "checkpoint.npz")
    rows = read_rows(folder / "metrics.csv")
    assert len(rows) >= episodes and all(int(r["episode"]) == i + 1 for i, r in enumerate(rows))


@pytest.mark.parametrize("flags, culprit", [
    (["--agent", "dqn", "--lr", "1e30", "--set", "learning_starts=300"], "lr=1e+30"),
    (["--agent", "ppo", "--set", "ent_coef=1e30"], "ent_coef=1e+30"),
    (["--agent", "a2c", "--set", "vf_coef=1e35"], "vf_coef=1e+35"),
], ids=["dqn-lr", "ppo-ent_coef", "a2c-vf_coef"])
def test_a_diverging_loss_stops_with_one_line_naming_the_hyperparameter(tmp_path, flags, culprit):
    out = tmp_path / "run"
    result = train("--env", "GridWorld", *flags, "--steps", 20_000, "--checkpoint-every", 100, "--eval-every", 0,
                   "--out", out, cwd=tmp_path)
    line = assert_one_error_line(result, "training diverged", culprit)
    assert not (out / "eval.json").exists(), "a diverged run writes no final results"
    if (out / "checkpoint.npz").exists():
        assert "is kept" in line
        assert_checkpoint_is_good(out)
        steps, _ = counters(out / "checkpoint.npz")
        assert f"step {steps}" in line
    else:
        assert "restarts from step 0" in line


@contextlib.contextmanager
def tiny_disk(tmp_path, size: str):
    """A tmpfs of `size` (we are root), unmounted afterwards."""
    mount_point = tmp_path / f"disk-{uuid.uuid4().hex[:6]}"
    mount_point.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(mount_point)], check=True,
                   capture_output=True)
    try:
        yield mount_point
    finally:
        subprocess.run(["umount", "-l", str(mount_point)], capture_output=True)


def _can_mount_tmpfs(tmp_path) -> bool:
    if os.geteuid() != 0:
        return False
    try:
        with tiny_disk(tmp_path, "64k"):
            return True
    except (subprocess.CalledProcessError, FileNotFoundError):
        return False


# A replay buffer that grows with every step makes each checkpoint larger than the last.
GROWING = [*DQN_GRID[:-2], "--set", "buffer_size=20000", "--steps", 10**7, "--checkpoint-every", 300,
           "--eval-every", 0]


def test_a_full_disk_stops_with_the_path_and_keeps_the_last_checkpoint(tmp_path):
    if not _can_mount_tmpfs(tmp_path):
        # Not root (or no mount rights): the same fault through the file-size limit instead.
        return test_a_file_size_limit_stops_with_the_path_and_keeps_the_last_checkpoint(tmp_path)
    with tiny_disk(tmp_path, "900k") as disk:
        out = disk / "run"
        result = train(*GROWING, "--out", out, cwd=tmp_path, timeout=180)
        line = assert_one_error_line(result, "No space left on device", str(out))
        assert (out / "checkpoint.npz").exists() and "is kept" in line
        assert_checkpoint_is_good(out)
        assert not [p.name for p in out.iterdir() if p.name.startswith((".tmp-", ".new-"))], "no temporary left"


def _limit_file_size(limit: int):
    def apply():
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
    return apply


def test_a_file_size_limit_stops_with_the_path_and_keeps_the_last_checkpoint(tmp_path):
    out = tmp_path / "run"
    result = train(*GROWING, "--out", out, cwd=tmp_path, timeout=180, preexec_fn=_limit_file_size(300_000))
    line = assert_one_error_line(result, "File too large", "ulimit -f", str(out / "checkpoint.npz"))
    assert "is kept" in line
    assert_checkpoint_is_good(out)
    config = json.loads((out / "config.json").read_text())
    assert config["agent"] == "dqn"


def test_an_evaluation_in_an_env_without_time_limit_is_cut_and_says_so(tmp_path):
    # CliffWalking-v1 has no time limit; an untrained DQN's greedy policy walks in circles.
    out = tmp_path / "run"
    result = train("--env", "CliffWalking-v1", "--agent", "dqn", "--hidden", "8", "--steps", 50,
                   "--set", "learning_starts=1000", "--eval-episodes", 2, "--eval-every", 0, "--out", out,
                   cwd=tmp_path, timeout=180)
    assert result.returncode == 0, result.stderr
    summary = json.loads((out / "eval.json").read_text())
    assert summary["capped_episodes"] == 2 and summary["lengths"] == [10_000, 10_000]
    assert "cut 2 episode(s) at 10000 steps" in result.stdout and "2 of them cut at 10000 steps" in result.stdout
