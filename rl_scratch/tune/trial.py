"""One trial: real training runs of the trainer, one per seed, watched through their run folders.

The tuner talks to the trainer only through its command line and its run folder:

    python -m rl_scratch.train --config trial.toml --seed S --out trials/0007/seed-S

It reads `evaluations.csv` as it grows (each periodic evaluation is an intermediate value
for the median pruner) and `eval.json` at the end (the final evaluation: the objective).
A subprocess per run gives each worker its own interpreter (no GIL between workers),
single-threaded BLAS, and a clean kill when the trial is pruned or the tuner stops.
"""

from __future__ import annotations

import csv
import ctypes
import json
import math
import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from rl_scratch import config as cfg
from rl_scratch.config import ConfigError

from . import space as sp
from .storage import STORAGE_VARIABLE, mask, worker_identity

POLL_SECONDS = 0.1
# The trainer's BLAS on one thread, so J workers on J cores do not fight (train.py does the same
# when none of these is set; setting them covers any BLAS NumPy was built with).
SINGLE_THREAD = {"OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}


class TrialFailed(Exception):
    """The trainer exited with an error or was killed; the message says how (masked)."""


class Stopped(Exception):
    """The tuner is stopping (Ctrl-C): the trial is marked failed and will be run again on resume."""


class OverCap(Exception):
    """Another worker took the last trial of the study's --trials cap first."""


@dataclass
class StudyPlan:
    """What every trial of a study trains; kept in the study's user attributes so any machine agrees."""

    env: str
    agent: str
    steps: int
    seeds: list[int]
    eval_every: int
    eval_episodes: int
    space: dict = field(repr=False)
    fixed: dict
    space_lines: list[str]
    space_record: dict
    folder: Path = field(repr=False)

    RECORD_KEYS = ("env", "agent", "steps", "seeds", "eval_every", "eval_episodes", "fixed", "space_lines",
                   "space_record")

    def record(self) -> dict:
        return {key: getattr(self, key) for key in self.RECORD_KEYS}

    def settings(self, seed: int | None = None) -> dict:
        """The trainer settings of a trial's config file (the seed is a flag, except in best.toml)."""
        settings = {"env": self.env, "agent": self.agent, "steps": self.steps, "eval_every": self.eval_every,
                    "eval_episodes": self.eval_episodes, "stop_at_target": False}
        if seed is not None:
            settings["seed"] = seed
        return settings

    def hyperparameters(self, params: dict) -> dict:
        return {**self.fixed, **sp.hyperparameters_from_params(params, self.space_record, self.steps)}

    def step_key(self, seed_index: int, step: int) -> int:
        """The pruner compares trials at equal keys: (seed index, which eval_every multiple)."""
        per_seed = self.steps // max(self.eval_every, 1) + 2
        return seed_index * per_seed + step // max(self.eval_every, 1)


@dataclass
class WorkerState:
    """What one worker is doing, for the progress lines."""

    name: str
    trial: int | None = None
    seed: int | None = None
    step: int = 0
    last_eval: float | None = None
    pid: int | None = None
    """the trainer process of the current seed"""
    over_cap: bool = False
    """another worker took the study's last trial: this one stops"""

    def describe(self, steps: int) -> str:
        if self.trial is None:
            return f"{self.name} idle"
        text = f"{self.name} trial {self.trial} seed {self.seed} step {self.step}/{steps}"
        return text + (f" eval {self.last_eval:.3g}" if self.last_eval is not None else "")


def _die_with_parent() -> None:
    """In the child before exec: get SIGKILL when the worker thread that started us dies (Linux)."""
    try:
        ctypes.CDLL(None).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def child_environment() -> dict:
    env = {k: v for k, v in os.environ.items() if k != STORAGE_VARIABLE}
    env.update(SINGLE_THREAD)
    return env


def trial_folder(plan: StudyPlan, number: int) -> Path:
    return plan.folder / "trials" / f"{number:04d}"


def write_trial_config(plan: StudyPlan, number: int, hyperparameters: dict) -> Path:
    folder = trial_folder(plan, number)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "trial.toml"
    tmp = path.with_suffix(".toml.tmp")
    tmp.write_text(sp.config_toml(plan.settings(), hyperparameters, f"trial {number}: the seed is a flag"),
                   encoding="utf-8")
    os.replace(tmp, path)
    return path


def check_config(path: Path) -> None:
    """Resolve the config as the trainer will; an invalid combination raises ConfigError."""
    cfg.resolve({"hyperparameters": {}, "env_kwargs": {}}, cfg.load_config_file(str(path)), file_name=str(path))


def _read_evaluations(path: Path, seen: int) -> list[dict]:
    """Rows of evaluations.csv after the first `seen` (a partly written last line is left for later)."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return []
    complete = text[: text.rfind("\n") + 1]
    rows = list(csv.DictReader(complete.splitlines()))
    return rows[seen:]


def _stop(process: subprocess.Popen) -> None:
    """SIGKILL: a pruned or stopped trial's run is abandoned, so the trainer's graceful stop on
    SIGTERM (final evaluation, checkpoint) would only cost time; its folder is never read again."""
    if process.poll() is None:
        process.kill()
    process.wait()


def _last_line(log: Path) -> str:
    try:
        lines = [line for line in log.read_text(encoding="utf-8", errors="replace").splitlines() if line.strip()]
    except OSError:
        return ""
    return lines[-1].strip() if lines else ""


def run_seed(trial, plan: StudyPlan, config_path: Path, seed_index: int, seed: int, worker: WorkerState,
             stop: threading.Event, prune: bool) -> dict:
    """Train one seed of a trial; returns its eval.json. Raises TrialPruned, Stopped or TrialFailed."""
    import optuna

    out = trial_folder(plan, trial.number) / f"seed-{seed}"
    if out.exists():  # a trial number is never reused, but a crashed earlier attempt may have left a folder
        import shutil

        shutil.rmtree(out)
    log = trial_folder(plan, trial.number) / f"seed-{seed}.log"
    command = [sys.executable, "-m", "rl_scratch.train", "--config", str(config_path), "--seed", str(seed),
               "--out", str(out)]
    worker.seed, worker.step, worker.last_eval = seed, 0, None
    with open(log, "wb") as log_file:
        process = subprocess.Popen(command, stdout=log_file, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                   env=child_environment(), start_new_session=True, preexec_fn=_die_with_parent)
    worker.pid = process.pid
    seen = 0
    try:
        while True:
            finished = process.poll() is not None
            for row in _read_evaluations(out / "evaluations.csv", seen):
                seen += 1
                step, value = int(row["step"]), float(row["mean_return"])
                worker.step, worker.last_eval = step, value
                trial.report(value, plan.step_key(seed_index, step))
                if prune and trial.should_prune():
                    _stop(process)
                    trial.set_user_attr("pruned_at", {"seed": seed, "step": step, "eval": value})
                    raise optuna.TrialPruned(f"eval {value:.3g} at step {step} (seed {seed}) below the median")
            if finished:
                break
            if stop.is_set():
                _stop(process)
                raise Stopped("the tuner was stopped")
            time.sleep(POLL_SECONDS)
    finally:
        _stop(process)
        worker.pid = None
    if process.returncode != 0:
        how = (f"killed by signal {-process.returncode}" if process.returncode < 0
               else f"exited with code {process.returncode}")
        raise TrialFailed(mask(f"training seed {seed} {how}: {_last_line(log)} (log: {log})"))
    try:
        return json.loads((out / "eval.json").read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise TrialFailed(f"training seed {seed} wrote no readable eval.json ({error})") from None


def objective(trial, plan: StudyPlan, worker: WorkerState, stop: threading.Event, cap: int, prune: bool,
              counted_states) -> float:
    """Optuna's objective: the final evaluation's mean return, averaged over the plan's seeds."""
    import optuna

    earlier = [t for t in trial.study.get_trials(deepcopy=False, states=counted_states) if t.number < trial.number]
    if len(earlier) >= cap:
        trial.set_user_attr("over_cap", True)
        raise OverCap(f"the study already has its {cap} trials")
    trial.set_user_attr("worker", worker_identity())
    worker.trial = trial.number
    started = time.perf_counter()
    try:
        hyperparameters = {**plan.fixed, **sp.suggest(trial, plan.space, plan.steps)}
        config_path = write_trial_config(plan, trial.number, hyperparameters)
        try:
            check_config(config_path)
        except ConfigError as error:  # e.g. a PPO batch larger than its rollout: the region is infeasible
            trial.set_user_attr("invalid", str(error))
            raise optuna.TrialPruned(f"invalid combination: {error}") from None
        scores, targets = [], []
        for index, seed in enumerate(plan.seeds):
            summary = run_seed(trial, plan, config_path, index, seed, worker, stop, prune)
            scores.append(float(summary["mean_return"]))
            targets.append(summary.get("target_reached_at_step"))
            trial.set_user_attr("scores", scores)
            trial.set_user_attr("target_steps", targets)
        value = sum(scores) / len(scores)
        if not math.isfinite(value):
            raise TrialFailed(f"final evaluation is {value}")
        return value
    finally:
        trial.set_user_attr("seconds", round(time.perf_counter() - started, 2))
        worker.trial = worker.seed = None
