"""TensorBoard event files (the [tensorboard] extra), read back with TensorBoard's own event loader."""

from __future__ import annotations

import os
import subprocess
import sys

import gymnasium as gym
import numpy as np
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

import rl_scratch  # noqa: F401  (registers the rl_scratch/* envs)
from rl_scratch import runs
from rl_scratch.agents import QLearning
from rl_scratch.tensorboard import EVAL_TAGS, SPEED_TAG, TRAIN_TAGS, TensorBoardCallback, TensorBoardLog


def scalars(log_dir) -> dict[str, list]:
    """tag -> [(step, value), ...] as TensorBoard loads them."""
    events = EventAccumulator(str(log_dir), size_guidance={"scalars": 0})  # 0: keep every event
    events.Reload()
    return {tag: [(e.step, e.value) for e in events.Scalars(tag)] for tag in events.Tags()["scalars"]}


def test_rows_become_scalars_with_the_csv_column_names_and_steps(tmp_path):
    log = TensorBoardLog(tmp_path)
    for step in (10, 25, 40):
        log.episode({"step": step, "episode": step // 10, "return": step / 100, "length": 5, "loss": 0.5,
                     "epsilon": 0.1, "entropy": 1.25, "lr": 1e-3, "wall_time": step / 20})
    log.episode({"step": 55, "episode": 5, "return": 1.0, "length": 15, "loss": None, "epsilon": None,
                 "entropy": None, "lr": None, "wall_time": 2.75})
    log.evaluation({"step": 40, "episode": 4, "mean_return": 0.93, "std_return": 0.0, "success_rate": 1.0,
                    "wall_time": 2.0})
    log.close()
    found = scalars(tmp_path)
    assert set(found) == {*TRAIN_TAGS, SPEED_TAG, *EVAL_TAGS}
    assert set(TRAIN_TAGS) == {f"train/{c}" for c in ("return", "length", "loss", "epsilon", "entropy", "lr")}
    assert set(EVAL_TAGS) == {"eval/mean_return", "eval/std_return", "eval/success_rate"}
    assert [step for step, _ in found["train/return"]] == [10, 25, 40, 55]
    assert [step for step, _ in found["train/loss"]] == [10, 25, 40]  # empty cells are not zeros
    assert found["train/length"][-1] == (55, 15.0)
    assert found[SPEED_TAG] == [(10, 20.0), (25, 20.0), (40, 20.0), (55, 20.0)]
    assert found["eval/mean_return"] == [(40, 0.9300000071525574)]  # float32, as TensorBoard stores scalars


def test_callback_logs_every_episode_of_learn(tmp_path):
    make_env = lambda: gym.make("rl_scratch/GridWorld-v0")  # noqa: E731
    env = make_env()
    agent = QLearning(env.observation_space, env.action_space, QLearning.Config(), seed=0)
    episodes = []
    callback = TensorBoardCallback(tmp_path)
    agent.learn(make_env, total_steps=300, callback=lambda record: episodes.append(record) or callback(record))
    callback.close()
    found = scalars(tmp_path)
    assert [step for step, _ in found["train/return"]] == [record["step"] for record in episodes]
    assert [value for _, value in found["train/epsilon"]] == [float(np.float32(r["epsilon"])) for r in episodes]
    assert len(found[SPEED_TAG]) == len(episodes) > 3


def test_importing_the_writer_does_not_load_torch(tmp_path):
    code = ("import sys; from rl_scratch.tensorboard import TensorBoardLog; "
            f"TensorBoardLog({str(tmp_path)!r}).close(); print('torch' in sys.modules)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "False"


def test_train_flag_mirrors_both_csvs_step_for_step(tmp_path):
    args = ["--env", "GridWorld", "--agent", "dqn", "--steps", "400", "--eval-every", "200", "--eval-episodes", "2",
            "--set", "learning_starts=100", "--hidden", "8", "--out", "run", "--tensorboard", "tb"]
    result = subprocess.run([sys.executable, "-m", "rl_scratch.train", *args], cwd=tmp_path, capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "tensorboard --logdir tb" in result.stdout
    found = scalars(tmp_path / "tb")
    metrics = runs.read_csv(tmp_path / "run" / runs.METRICS_FILE)  # column -> values
    evaluations = runs.read_csv(tmp_path / "run" / runs.EVALUATIONS_FILE)
    assert [step for step, _ in found["train/return"]] == [int(step) for step in metrics["step"]]
    assert [v for _, v in found["train/return"]] == [float(np.float32(v)) for v in metrics["return"]]
    assert [step for step, _ in found["train/loss"]] == [int(step) for step, loss in zip(metrics["step"],
                                                                                       metrics["loss"])
                                                         if loss is not None]
    assert len(found[SPEED_TAG]) == len(metrics["step"])
    assert [step for step, _ in found["eval/mean_return"]] == [int(step) for step in evaluations["step"]]
    assert len(evaluations["step"]) >= 2 and {"train/epsilon", "train/lr", "eval/success_rate"} <= set(found)


def test_train_flag_without_the_extra_is_one_error_line_and_no_run_folder(tmp_path):
    code = ("import sys; sys.modules['tensorboardX'] = None; from rl_scratch.train import main; "
            "sys.exit(main(sys.argv[1:]))")
    result = subprocess.run([sys.executable, "-c", code, "--env", "GridWorld", "--steps", "100", "--out", "run",
                             "--tensorboard", "tb"], cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: --tensorboard needs the optional 'tensorboard' extra")
    assert "pip install -e '.[tensorboard]'" in lines[0]
    assert not (tmp_path / "run").exists() and not (tmp_path / "tb").exists()
