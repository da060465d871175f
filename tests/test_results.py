"""Results judged by the final policy: the statistics, the target verdict and its wording,
random maps fixed per run, the per-(agent, env) budgets, and the benchmark command."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from rl_scratch import config as cfg
from rl_scratch import stats
from rl_scratch.console import target_line
from rl_scratch.target import Target
from rl_scratch.trainer import TrainerState


def cli(module: str, *args, cwd: Path, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", module, *map(str, args)], cwd=cwd, capture_output=True, text=True,
                          timeout=timeout, env={**os.environ, "COLUMNS": "120"})


# ------------------------------------------------------------------ stats
def test_bootstrap_interval_holds_the_mean_and_shrinks_with_more_episodes():
    rng = np.random.default_rng(0)
    few, many = rng.binomial(1, 0.7, size=50), rng.binomial(1, 0.7, size=2000)
    low, high = stats.bootstrap_ci(few)
    assert low < few.mean() < high
    low_many, high_many = stats.bootstrap_ci(many)
    assert high_many - low_many < (high - low) / 3
    assert stats.bootstrap_ci([0.93] * 5) == (0.93, 0.93)
    assert stats.bootstrap_ci(few) == (low, high)  # fixed generator: same numbers, same interval


def test_interquartile_mean_ignores_one_wild_seed():
    assert stats.iqm([0.0, 1.0, 2.0, 3.0, 1000.0]) == pytest.approx(2.0)
    assert stats.iqm([5.0]) == 5.0
    summary = stats.summarize([1.0, 3.0])
    assert summary["mean"] == 2.0 and summary["n"] == 2 and summary["ci_low"] <= 2.0 <= summary["ci_high"]


# --------------------------------------------------------------- verdict
def evaluation(returns) -> dict:
    returns = [float(r) for r in returns]
    return {"returns": returns, "mean_return": float(np.mean(returns)), "std_return": float(np.std(returns))}


def test_verdict_uses_the_interval_of_the_final_policy():
    frozen = Target(optimum=0.744, threshold=0.70)
    rng = np.random.default_rng(1)
    assert frozen.verdict(evaluation([1.0] * 744 + [0.0] * 256)) == "at"
    near = evaluation(rng.permutation([1.0] * 735 + [0.0] * 265))  # an optimal policy's unlucky 1000 episodes
    assert frozen.verdict(near) == "within noise" and frozen.reached_by(near)
    # 0.68 over 1000 episodes is below: the 2-standard-error rule over 100 episodes called it reached.
    low = evaluation([1.0] * 680 + [0.0] * 320)
    assert frozen.verdict(low) == "below" and not frozen.reached_by(low)
    cartpole = Target(optimum=None, threshold=475.0)
    assert cartpole.verdict(evaluation([500.0] * 10)) == "at"
    assert cartpole.verdict(evaluation([300.0, 310.0, 290.0])) == "below"
    assert Target(None, None).verdict(evaluation([1.0])) is None


def summary_of(target: Target, returns) -> dict:
    result = evaluation(returns)
    return {**result, "final": stats.summarize(result["returns"]), "target_verdict": target.verdict(result)}


def test_a_run_that_ends_below_its_target_never_says_reached():
    target = Target(optimum=0.87, threshold=None)
    forgot = TrainerState(best_return=0.87, best_step=9000, target_step=9000, target_wall_time=1.5)
    line = target_line(summary_of(target, [-2.0] * 5), target, forgot)
    assert "Reached" not in line and "reached" in line  # "An evaluation first reached it at step 9000"
    assert "did not keep it" in line and "below the optimal return 0.870" in line
    never = target_line(summary_of(target, [-2.0] * 5), target, TrainerState())
    assert "Reached" not in never and "Train longer" in never
    assert target_line(summary_of(target, [0.87] * 5), target, forgot).startswith("Reached the optimal return 0.870")


def test_cli_run_ending_below_target_reports_the_final_policy(tmp_path):
    result = cli("rl_scratch.train", "--env", "GridWorld-8x8", "--agent", "qlearning", "--steps", "1500",
                 "--eval-every", "500", "--out", "short", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    summary = json.loads((tmp_path / "short" / "eval.json").read_text())
    assert summary["reached_target"] is False and summary["target_verdict"] == "below"
    final = summary["final"]
    assert final["n"] == 5 and final["ci_low"] <= final["mean"] == summary["mean_return"] <= final["ci_high"]
    assert summary["last_evaluations"] == 3 and summary["mean_last_evaluations"] is not None
    assert "Reached" not in result.stdout
    assert "Final policy (5 deterministic episodes)" in result.stdout and "95% CI" in result.stdout


# ----------------------------------------------------------- random maps
def test_random_map_gets_a_map_seed_from_the_run_seed():
    def env_kwargs(seed, **extra):
        flags = {"env": "GridWorld", "seed": seed, "env_kwargs": {"map_name": "random", **extra}}
        return cfg.resolve(flags, {}).settings.env_kwargs

    assert env_kwargs(3)["map_seed"] == env_kwargs(3)["map_seed"] == cfg.random_map_seed(3)
    assert env_kwargs(3)["map_seed"] != env_kwargs(4)["map_seed"]
    assert env_kwargs(3, map_seed=7)["map_seed"] == 7  # a given map seed is kept
    assert "map_seed" not in cfg.resolve({"env": "GridWorld"}, {}).settings.env_kwargs


def test_random_map_run_is_the_same_map_everywhere(tmp_path):
    for name in ("a", "b"):
        result = cli("rl_scratch.train", "--env", "GridWorld", "--agent", "qlearning", "--env-kwarg",
                     "map_name=random", "--seed", "5", "--steps", "1500", "--out", name, cwd=tmp_path)
        assert result.returncode == 0, result.stderr
    config = json.loads((tmp_path / "a" / "config.json").read_text())
    assert config["env_kwargs"]["map_seed"] == cfg.random_map_seed(5)

    def rows(name):
        with open(tmp_path / name / "metrics.csv", newline="") as f:
            return [row[:-1] for row in csv.reader(f)]  # all but wall_time

    assert rows("a") == rows("b")
    # The optimum was computed on the map recorded in config.json (the one play rebuilds).
    env = cfg.make_env(config["env"], config["env_kwargs"])
    from rl_scratch.target import planning_optimum

    assert planning_optimum(env) == pytest.approx(config["optimum"])
    env.close()


# --------------------------------------------------------------- budgets
def test_budget_and_default_agent_come_from_the_tables():
    from rl_scratch.agents.tuned import BUDGETS

    resolved = cfg.resolve({"env": "GridWorld-8x8"}, {})
    assert resolved.settings.agent == "qlearning"
    assert resolved.settings.steps == BUDGETS[("qlearning", "rl_scratch/GridWorld-8x8-v0")]
    # An agent without its own budget gets the env's; --steps wins over both.
    ppo = cfg.resolve({"env": "GridWorld-8x8", "agent": "ppo"}, {}).settings
    assert ppo.steps == cfg.ENV_DEFAULTS["rl_scratch/GridWorld-8x8-v0"].steps
    assert cfg.resolve({"env": "GridWorld-8x8", "steps": 123}, {}).settings.steps == 123


# ------------------------------------------------------------- benchmark
def test_benchmark_tiny_matrix_writes_tables_curves_and_csvs(tmp_path):
    result = cli("rl_scratch.benchmark", "--envs", "GridWorld,GridWorld-8x8", "--agents", "qlearning,sarsa",
                 "--seeds", "1-2", "--jobs", "2", "--steps", "2000", "--out", "report", cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    out = tmp_path / "report"
    assert "[8/8]" in result.stdout  # progress over the whole matrix
    report = (out / "report.md").read_text()
    for env in ("GridWorld", "GridWorld-8x8"):
        assert f"### {env} (target" in report
        assert (out / "curves" / f"{env}.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        with open(out / "curves" / f"{env}.csv", newline="") as f:
            curve = list(csv.DictReader(f))
        assert {(row["agent"], row["seed"]) for row in curve} == {(a, s) for a in ("qlearning", "sarsa")
                                                                   for s in ("1", "2")}
    with open(out / "results.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 8
    for row in rows:
        summary = json.loads((tmp_path / row["folder"] / "eval.json").read_text())
        assert float(row["final_mean"]) == pytest.approx(summary["mean_return"])
        assert row["command"].startswith("python -m rl_scratch.train --env ")
        assert row["command"] in report
    # 5x5 in 2000 steps: Q-learning with exact backups is optimal on both seeds; the table counts it.
    grid_line = next(line for line in report.splitlines() if line.startswith("| qlearning |")
                     and "2/2" in line)
    assert "0.93 [0.93, 0.93]" in grid_line
    # The same command again reuses every finished cell instead of training it again.
    stamps = {row["folder"]: (tmp_path / row["folder"] / "eval.json").stat().st_mtime_ns for row in rows}
    again = cli("rl_scratch.benchmark", "--envs", "GridWorld,GridWorld-8x8", "--agents", "qlearning,sarsa",
                "--seeds", "1-2", "--jobs", "2", "--steps", "2000", "--out", "report", cwd=tmp_path)
    assert again.returncode == 0, again.stderr
    assert stamps == {f: (tmp_path / f / "eval.json").stat().st_mtime_ns for f in stamps}


def test_benchmark_runs_a_finished_cell_again_when_its_tuned_entry_changed(tmp_path, capsys, monkeypatch):
    """A report must not show a run made with settings the command no longer trains with."""
    from rl_scratch import benchmark
    from rl_scratch.agents import tuned

    monkeypatch.chdir(tmp_path)
    args = ["--envs", "GridWorld", "--agents", "qlearning", "--seeds", "1", "--steps", "300", "--jobs", "1",
            "--out", "report"]
    summary = tmp_path / "report" / "runs" / "GridWorld-qlearning-s1" / "eval.json"

    def run() -> tuple[str, int]:
        assert benchmark.main(args) == 0
        return capsys.readouterr().out, summary.stat().st_mtime_ns

    _, first = run()
    out, same = run()
    assert same == first and "run again" not in out  # unchanged: reused
    key = ("qlearning", "rl_scratch/GridWorld-v0")
    monkeypatch.setitem(tuned.TUNED, key, {**tuned.TUNED[key], "lr": 0.5})
    out, changed = run()
    assert changed != first  # trained again with the new entry ...
    assert "run again: its earlier run had other settings, lr: 1.0 -> 0.5" in out  # ... and says why
    config = json.loads((summary.parent / "config.json").read_text())
    assert config["hyperparameters"]["lr"] == 0.5
    out, last = run()
    assert last == changed and "run again" not in out


def test_benchmark_with_sb3_runs_the_same_cells_side_by_side(tmp_path):
    """--with-sb3: an sb3-<agent> row beside ours, on the same env, budget and evaluation schedule.
    Skips without stable-baselines3, except where RL_SCRATCH_REQUIRE_SB3=1 (CI installs it)."""
    if os.environ.get("RL_SCRATCH_REQUIRE_SB3") != "1":
        pytest.importorskip("stable_baselines3", reason="--with-sb3 needs pip install -e '.[bench]'")
    result = cli("rl_scratch.benchmark", "--envs", "CartPole-v1", "--agents", "ppo", "--seeds", "1",
                 "--steps", "1024", "--with-sb3", "--jobs", "2", "--out", "report", cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "[2/2]" in result.stdout
    report = (tmp_path / "report" / "report.md").read_text()
    table = [line for line in report.splitlines() if line.startswith("| ppo |") or line.startswith("| sb3-ppo |")]
    assert [line.split("|")[1].strip() for line in table] == ["ppo", "sb3-ppo"]
    assert "python -m rl_scratch.benchmark_sb3 --env CartPole-v1 --agent ppo --seed 1" in report
    with open(tmp_path / "report" / "results.csv", newline="") as f:
        rows = {row["agent"]: row for row in csv.DictReader(f)}
    assert set(rows) == {"ppo", "sb3-ppo"}
    for row in rows.values():  # both trained the same 1024-step budget (PPO rounds up to whole rollouts)
        assert 1024 <= int(row["steps"]) < 2048 and 8 <= float(row["final_mean"]) <= 500
    with open(tmp_path / "report" / "curves" / "CartPole-v1.csv", newline="") as f:
        assert {row["agent"] for row in csv.DictReader(f)} == {"ppo", "sb3-ppo"}


def test_benchmark_bad_input_is_one_error_line(tmp_path, capsys, monkeypatch):
    from rl_scratch import benchmark

    monkeypatch.chdir(tmp_path)
    for args, words in ((["--envs", "GridWrld"], "did you mean"), (["--envs", "GridWorld", "--agents", "ppp"],
                                                                    "unknown agent"),
                        (["--envs", "GridWorld", "--seeds", "a-b"], "--seeds"), ([], "say what to run"),
                        (["--envs", "GridWorld", "--jobs", "0"], "--jobs")):
        assert benchmark.main([*args, "--out", "bad"]) == 2
        err = capsys.readouterr().err
        assert err.startswith("error: ") and words in err and len(err.strip().splitlines()) == 1
        assert not (tmp_path / "bad").exists()


# ------------------------------------------------------------ fallbacks
def test_untuned_ids_fall_back_to_planning_tables_or_dqn():
    frozen = cfg.resolve({"env": "FrozenLake8x8-v1"}, {})
    assert frozen.settings.agent == "value_iteration" and frozen.settings.final_eval_episodes == 1000
    assert cfg.resolve({"env": "MountainCar-v0"}, {}).settings.agent == "dqn"


# ------------------------------------------------------ final policies
def test_default_agent_ends_at_the_optimum_of_the_largest_map(tmp_path):
    """GridWorld-Large with no flags but a seed (seed 5 settled on a two-steps-longer path, 0.65,
    before Q-learning's table started optimistic)."""
    result = cli("rl_scratch.train", "--env", "GridWorld-Large", "--seed", "5", "--out", "run", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    summary = json.loads((tmp_path / "run" / "eval.json").read_text())
    assert summary["agent"] == "qlearning" and summary["optimum"] == pytest.approx(0.67)
    assert summary["mean_return"] == pytest.approx(summary["optimum"])
    assert "Reached the optimal return" in result.stdout


# Test-sized budgets (a fifth to a third of the default 100k), seed 0, judged by the final policy.
# The bounds leave room for float-level changes:
# - PPO, 20k: seed 0 ends at 500 (seeds 1 and 2 at 134 and 124: at a fifth of the budget rl-zoo's
#   values are still learning; at the default 100k the final policy is 500 on seeds 1-5, agents/tuned.py).
# - REINFORCE, 25k: seed 0 ends at 417 (seeds 1 and 2: 390 and 373).
# - A2C, 30k: its greedy return swings between ~50 and 500 on the way (agents/tuned.py), so this
#   checks learning, not the threshold: seed 0 ends at 500 (seeds 1 and 2: 498 and 303); a random
#   policy scores ~22.
@pytest.mark.parametrize("name, steps, at_least", [("ppo", 20_000, 300), ("reinforce", 25_000, 300),
                                                   ("a2c", 30_000, 150)])
def test_tuned_final_policy_learns_cartpole(name, steps, at_least):
    """The policy the agent's tuned CartPole entry ends with, not its best evaluation."""
    import gymnasium as gym

    from rl_scratch.agents import AGENTS, evaluate
    from rl_scratch.agents.tuned import TUNED

    agent_cls = AGENTS[name]
    env = gym.make("CartPole-v1")
    agent = agent_cls(env.observation_space, env.action_space, agent_cls.Config(**TUNED[(name, "CartPole-v1")]),
                      seed=0)
    agent.learn(lambda: gym.make("CartPole-v1"), steps)
    assert evaluate(agent, env, episodes=5, seed=0)["mean_return"] >= at_least
