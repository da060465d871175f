"""Ctrl-C (SIGINT), SIGTERM and SIGKILL against real `python -m rl_scratch.train` processes.

Whatever moment a signal lands, the run ends without a traceback, exits 130 (SIGINT)
or 143 (SIGTERM), and leaves either no folder or a folder that `--resume` continues:
every finished episode in metrics.csv once, and a checkpoint at its last row.
"""

from __future__ import annotations

import json
import os
import signal
import threading
import time
from pathlib import Path

import pytest

from cli_support import (DQN_GRID, assert_log_is_whole, counters, data_rows_on_disk, finish, read_rows,
                         start_train, train, wait_until)

EXIT = {signal.SIGINT: 130, signal.SIGTERM: 143}
BOTH = pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])


def assert_clean_stop(process, stdout: str, stderr: str, signum) -> None:
    assert process.returncode == EXIT[signum], (process.returncode, stderr)
    assert "Traceback" not in stderr and "Traceback" not in stdout, stderr


@BOTH
def test_signal_at_start_up_leaves_no_run_folder(tmp_path, signum):
    # The config file is a FIFO: the trainer blocks reading it, inside start-up, until the test writes.
    fifo = tmp_path / "config.json"
    os.mkfifo(fifo)
    process = start_train("--config", fifo, "--out", "run", cwd=tmp_path)
    opened = threading.Event()

    def writer():
        try:
            with open(fifo, "w") as f:  # returns once the trainer has opened the FIFO for reading
                opened.set()
                time.sleep(5)  # hold it open while the test stops the run
                f.write("{}")
        except OSError:  # the reader went away first
            pass

    threading.Thread(target=writer, daemon=True).start()
    wait_until(opened.is_set, process, "the trainer reading its config file", timeout=60)
    time.sleep(0.2)
    process.send_signal(signum)
    stdout, stderr = finish(process, timeout=30)
    assert_clean_stop(process, stdout, stderr, signum)
    assert stderr.strip().splitlines() == [stderr.strip()] and "during start-up" in stderr
    assert not (tmp_path / "run").exists() and not (tmp_path / "runs").exists()


@BOTH
def test_signal_mid_training_saves_every_episode_and_resumes(tmp_path, signum):
    out = tmp_path / "run"
    process = start_train(*DQN_GRID, "--steps", 10**7, "--checkpoint-every", 200, "--eval-every", 0, "--out", out,
                          cwd=tmp_path)
    wait_until(lambda: (out / "checkpoint.npz").exists(), process, "a checkpoint")
    process.send_signal(signum)
    stdout, stderr = finish(process)
    assert_clean_stop(process, stdout, stderr, signum)
    assert f"--resume {out}" in stdout and "stopping at the end of this episode" in stdout
    rows = assert_log_is_whole(out)
    summary = json.loads((out / "eval.json").read_text())
    assert summary["interrupted"] is True and summary["episodes"] == len(rows)
    assert (out / "learning_curve.png").stat().st_size > 0

    if signum == signal.SIGTERM:
        return  # the folder a SIGTERM leaves is the same as a SIGINT's, resumed below
    steps_done, _ = counters(out / "checkpoint.npz")
    resumed = train("--resume", out, "--steps", steps_done + 300, cwd=tmp_path)
    assert resumed.returncode == 0, resumed.stderr
    after = assert_log_is_whole(out)
    assert len(after) > len(rows) and after[: len(rows)] == rows


def test_signal_before_the_first_checkpoint_leaves_a_run_that_resumes(tmp_path):
    out = tmp_path / "run"
    process = start_train(*DQN_GRID, "--steps", 10**7, "--checkpoint-every", 10**7, "--eval-every", 0,
                          "--out", out, cwd=tmp_path)
    wait_until(lambda: data_rows_on_disk(out / "metrics.csv") >= 1, process, "a first episode")
    process.send_signal(signal.SIGINT)
    stdout, stderr = finish(process)
    assert_clean_stop(process, stdout, stderr, signal.SIGINT)
    rows = assert_log_is_whole(out)  # the final save wrote the first checkpoint
    resumed = train("--resume", out, "--steps", counters(out / "checkpoint.npz")[0] + 200, cwd=tmp_path)
    assert resumed.returncode == 0, resumed.stderr
    assert len(assert_log_is_whole(out)) > len(rows)


def test_sigkill_before_the_first_checkpoint_restarts_from_step_zero(tmp_path):
    out = tmp_path / "run"
    process = start_train(*DQN_GRID, "--steps", 10**7, "--checkpoint-every", 10**7, "--eval-every", 0,
                          "--out", out, cwd=tmp_path)
    wait_until(lambda: data_rows_on_disk(out / "metrics.csv") >= 3, process, "three episodes")
    process.kill()
    finish(process)
    assert not (out / "checkpoint.npz").exists() and read_rows(out / "metrics.csv")
    again = train("--out", out, "--env", "GridWorld", cwd=tmp_path)
    assert again.returncode == 2 and f"--resume {out}" in again.stderr
    resumed = train("--resume", out, "--steps", 400, cwd=tmp_path)
    assert resumed.returncode == 0, resumed.stderr
    assert "from step 0" in resumed.stdout
    rows = assert_log_is_whole(out)
    assert int(rows[0]["episode"]) == 1 and int(rows[-1]["step"]) <= 400


@pytest.mark.parametrize("agent", ["dqn", "ppo"])
def test_sigkill_then_resume_cuts_the_rows_after_the_checkpoint(tmp_path, agent):
    from rl_scratch.agents.registry import load_agent
    from rl_scratch.checkpoints import logged_episodes

    out = tmp_path / "run"
    flags = DQN_GRID if agent == "dqn" else ["--env", "GridWorld", "--agent", "ppo"]
    process = start_train(*flags, "--steps", 10**7, "--checkpoint-every", 300, "--eval-every", 300,
                          "--eval-episodes", 2, "--out", out, cwd=tmp_path)
    wait_until(lambda: (out / "checkpoint.npz").exists(), process, "a checkpoint")
    # Freeze the run until metrics.csv holds episodes the checkpoint had not logged, then kill it there.
    # PPO: wait for a checkpoint taken half-way through handing over a rollout's episodes, which the
    # checkpoint counts already and hands over again on resume.
    deadline = time.monotonic() + 60
    while True:
        process.send_signal(signal.SIGSTOP)
        saved = load_agent(out / "checkpoint.npz")
        steps_done, episodes_done = int(saved.steps), logged_episodes(saved)
        rows = read_rows(out / "metrics.csv")
        mid_rollout = agent == "dqn" or episodes_done < saved.episodes
        if rows and int(rows[-1]["episode"]) > episodes_done and mid_rollout:
            break
        assert time.monotonic() < deadline, "no episodes past a checkpoint within 60 s"
        process.send_signal(signal.SIGCONT)
        time.sleep(0.05)
    process.kill()
    finish(process)
    later = [r for r in rows if int(r["episode"]) > episodes_done]
    assert later, "metrics.csv holds rows past the checkpoint, which the resumed run plays again"

    resumed = train("--resume", out, "--steps", steps_done + 600, cwd=tmp_path)
    assert resumed.returncode == 0, resumed.stderr
    assert "cut" in resumed.stdout
    rows_after = assert_log_is_whole(out)
    assert rows_after[:episodes_done] == rows[:episodes_done]
    evaluations = [int(r["step"]) for r in read_rows(out / "evaluations.csv")]
    assert evaluations == sorted(evaluations) and len(set(evaluations)) == len(evaluations)


def test_double_ctrl_c_during_evaluations_stops_cleanly(tmp_path):
    # Evaluations take most of this run's time (300 greedy episodes every 20 steps), so the signals
    # land inside one; wherever they land, the outcome must be the same.
    out = tmp_path / "run"
    process = start_train("--env", "GridWorld", "--agent", "qlearning", "--steps", 10**7, "--eval-every", 20,
                          "--eval-episodes", 300, "--checkpoint-every", 100, "--out", out, cwd=tmp_path)
    wait_until(lambda: data_rows_on_disk(out / "evaluations.csv") >= 2, process, "two evaluations")
    process.send_signal(signal.SIGINT)
    time.sleep(0.05)
    process.send_signal(signal.SIGINT)
    stdout, stderr = finish(process)
    assert_clean_stop(process, stdout, stderr, signal.SIGINT)
    assert_log_is_whole(out)
    assert json.loads((out / "eval.json").read_text())["interrupted"] is True


@BOTH
def test_second_signal_during_the_final_save_finishes_it(tmp_path, signum):
    # No checkpoint before the stop, and a long final evaluation (20,000 episodes): the checkpoint
    # appearing means the final save has begun, and the second signal lands inside it.
    out = tmp_path / "run"
    process = start_train(*DQN_GRID, "--steps", 10**7, "--checkpoint-every", 10**7, "--eval-every", 0,
                          "--eval-episodes", 20_000, "--out", out, cwd=tmp_path)
    wait_until(lambda: data_rows_on_disk(out / "metrics.csv") >= 2, process, "two episodes")
    process.send_signal(signum)
    wait_until(lambda: (out / "checkpoint.npz").exists(), process, "the final checkpoint")
    process.send_signal(signum)
    stdout, stderr = finish(process)
    assert_clean_stop(process, stdout, stderr, signum)
    assert_log_is_whole(out)
    summary = json.loads((out / "eval.json").read_text())
    assert summary["interrupted"] is True and "mean_return" not in summary, "the evaluation was cut short"
    assert (out / "learning_curve.png").stat().st_size > 0 and (out / "trainer_state.json").exists()


def test_a_burst_of_signals_never_gives_a_traceback(tmp_path):
    out = tmp_path / "run"
    process = start_train(*DQN_GRID, "--steps", 10**7, "--checkpoint-every", 150, "--eval-every", 150,
                          "--eval-episodes", 3, "--out", out, cwd=tmp_path)
    wait_until(lambda: (out / "checkpoint.npz").exists(), process, "a checkpoint")
    for _ in range(40):
        if process.poll() is not None:
            break
        process.send_signal(signal.SIGINT)
        time.sleep(0.01)
    stdout, stderr = finish(process)
    assert_clean_stop(process, stdout, stderr, signal.SIGINT)
    assert_log_is_whole(out)
    json.loads((out / "eval.json").read_text())
