"""Resume is the same run, at the command line: a run stopped and resumed three times writes the same
metrics.csv (wall time aside) as the run left alone, for every learning agent.

The stops are `--episodes K` budgets, which end a run the way a first Ctrl-C does (the callback says
stop at the end of an episode, the final save follows); `--resume RUN --episodes K'` continues it.
The runs call `rl_scratch.train.main` in this process (the process-boundary cases are in
test_cli_signals.py).
"""

from __future__ import annotations

import pytest

from rl_scratch.train import main

from cli_support import assert_log_is_whole, counters, read_rows, without_wall_time

CASES = {
    "qlearning": ["--env", "GridWorld", "--agent", "qlearning", "--steps", "2000"],
    "sarsa": ["--env", "GridWorld", "--agent", "sarsa", "--steps", "2000"],
    "dqn": ["--env", "GridWorld", "--agent", "dqn", "--steps", "900", "--hidden", "16",
            "--set", "learning_starts=100", "--set", "train_freq=2"],
    "reinforce": ["--env", "GridWorld", "--agent", "reinforce", "--steps", "1500", "--set", "batch_episodes=4"],
    "a2c": ["--env", "GridWorld", "--agent", "a2c", "--steps", "1200"],
    "ppo": ["--env", "GridWorld", "--agent", "ppo", "--steps", "1536", "--set", "n_epochs=2"],
    "supervised": ["--env", "Iris", "--steps", "480", "--set", "batch_size=16"],
}
COMMON = ["--eval-every", "300", "--eval-episodes", "2", "--checkpoint-every", "250", "--seed", "7"]


def train_here(capsys, *args) -> int:
    code = main([str(a) for a in args])
    captured = capsys.readouterr()
    assert "Traceback" not in captured.err, captured.err
    return code


@pytest.mark.parametrize("agent", list(CASES))
def test_stopped_and_resumed_three_times_is_the_uninterrupted_run(tmp_path, monkeypatch, capsys, agent):
    monkeypatch.chdir(tmp_path)
    budget = int(CASES[agent][CASES[agent].index("--steps") + 1])
    assert train_here(capsys, *CASES[agent], *COMMON, "--out", "whole") == 0
    reference = read_rows(tmp_path / "whole" / "metrics.csv")
    assert len(reference) >= 8, "enough episodes to stop at three points"
    # Episode numbers the run passes through (the supervised agent numbers its batches by examples).
    stops = [int(reference[len(reference) * k // 4]["episode"]) for k in (1, 2, 3)]

    assert train_here(capsys, *CASES[agent], *COMMON, "--episodes", stops[0], "--out", "stopped") == 0
    for stop in stops[1:]:
        assert train_here(capsys, "--resume", "stopped", "--episodes", stop) == 0
    if counters(tmp_path / "stopped" / "checkpoint.npz")[0] < budget:  # else the last stop ended the budget
        assert train_here(capsys, "--resume", "stopped", "--episodes", 10**9) == 0

    resumed = read_rows(tmp_path / "stopped" / "metrics.csv")
    assert without_wall_time(resumed) == without_wall_time(reference)


@pytest.mark.parametrize("agent", ["a2c", "ppo"])
def test_a_stop_inside_a_rollout_logs_every_episode_the_checkpoint_counts(tmp_path, monkeypatch, capsys, agent):
    # A stop at episode K inside a rollout of 8 envs: the rollout's later episodes are logged too, and
    # the checkpoint counts exactly the logged ones. Some K must end inside a rollout.
    monkeypatch.chdir(tmp_path)
    inside = []
    for stop in range(1, 7):
        assert train_here(capsys, *CASES[agent], *COMMON, "--episodes", stop, "--out", f"run{stop}") == 0
        rows = assert_log_is_whole(tmp_path / f"run{stop}")
        if len(rows) > stop:
            inside.append(stop)
            break
    assert inside, "no stop fell inside a rollout"
