"""The training loop around an agent: per-episode logging, evaluations, checkpoints, the final save.

`Trainer.run()` hands `agent.learn` a callback that sees every finished episode;
the callback writes metrics.csv, evaluates and checkpoints on schedule, and says
when to stop (budget in episodes, target reached, a signal). SIGINT and SIGTERM
are routed by `rl_scratch.signals`: the first stops at the end of the episode, a
second at once; either way the final save is written whole.

A run that goes wrong stops with a `TrainingFault` (one line, exit code 2) and
keeps its last good checkpoint: a NaN/inf loss or gradient, weights that became
non-finite, or a write that failed (full disk, file-size limit).
"""

from __future__ import annotations

import collections
import dataclasses
import math
import os
import signal
import time
from pathlib import Path

import numpy as np

from rl_scratch import config as cfg
from rl_scratch import runs, stats
from rl_scratch.agents import evaluation_report
from rl_scratch.agents.common import EVAL_STEP_CAP, evaluate
from rl_scratch.console import Progress, final_report, say
from rl_scratch.nets import load_arrays
from rl_scratch.runs import DiskWriteError
from rl_scratch.signals import Interrupted, StopSignals, exit_code, signal_name
from rl_scratch.target import Target
from rl_scratch.window import RenderEvery

EVAL_SEED_OFFSET = 1_000_003  # the evaluation env's seed: `--seed` plus this, apart from the agent's streams
LAST_EVALUATIONS = 5  # eval.json's mean_last_evaluations: how steady the end of the run was


class TrainingFault(Exception):
    """Training cannot go on (diverged, or a run file cannot be written); the message is one line."""


class Diverged(Exception):
    """A loss, gradient or weight became NaN/inf."""


@dataclasses.dataclass
class TrainerState:
    """What a resumed run needs besides the agent (trainer_state.json)."""

    best_return: float | None = None
    best_step: int | None = None
    wall_time: float = 0.0
    target_step: int | None = None
    """first step at which an evaluation reached the target"""
    target_wall_time: float | None = None


def likely_culprit(config) -> str:
    """The hyperparameter most likely behind a divergence: the number furthest above its default
    (by ratio), else the learning rate."""
    values = dataclasses.asdict(config)
    defaults = dataclasses.asdict(type(config)())
    worst, worst_ratio = None, 10.0
    for key, value in values.items():
        default = defaults.get(key)
        if isinstance(value, float) and isinstance(default, float):
            ratio = abs(value) / (default if default > 0 else 1.0)  # coefficients off by default: scale 1
            if ratio > worst_ratio:
                worst, worst_ratio = key, ratio
    if worst is None and "lr" in values:
        worst = "lr"
    if worst is None:
        return "check the hyperparameters (--list shows the defaults)"
    hint = f"{worst}={values[worst]:g} is the likely cause: lower it (--set {worst}=...)"
    if "max_grad_norm" in values and not values["max_grad_norm"] > 0:
        hint += ", or clip gradients (--set max_grad_norm=0.5)"
    return hint


class Trainer:
    def __init__(self, folder: Path, agent, settings: cfg.TrainSettings, target: Target, state: TrainerState,
                 render_every: int | None, eval_env):
        self.folder, self.agent, self.settings = folder, agent, settings
        self.target = target
        self.state = state
        self.render_every = render_every
        self.history = cfg.agent_history(agent.config)
        self.eval_env = eval_env
        self.eval_seed = settings.seed + EVAL_SEED_OFFSET
        self.metrics = runs.CsvLog(folder / runs.METRICS_FILE, runs.METRIC_COLUMNS)
        self.evaluations = runs.CsvLog(folder / runs.EVALUATIONS_FILE, runs.EVAL_COLUMNS)
        self.recent = collections.deque(maxlen=20)
        self.signals = StopSignals()  # replaced by run()'s
        self.progress: Progress | None = None
        self.last_eval: tuple[int, dict] | None = None
        self.envs_made = 0
        self.checkpoint_step: int | None = None
        steps = agent.steps
        self.next_eval = self._next_multiple(steps, settings.eval_every)
        self.checkpoint_every = settings.checkpoint_every or max(1, (settings.steps or 10_000) // 10)
        self.next_checkpoint = self._next_multiple(steps, self.checkpoint_every)
        self.start_time = time.perf_counter()

    @staticmethod
    def _next_multiple(step: int, every: int) -> float:
        return (step // every + 1) * every if every else math.inf

    def elapsed(self) -> float:
        return self.state.wall_time + time.perf_counter() - self.start_time

    def make_env(self):
        """The training env for agent.learn; with --render the first one made is shown every N episodes."""
        self.envs_made += 1
        s = self.settings
        if self.render_every and self.envs_made == 1:
            env = cfg.make_env(s.env, s.env_kwargs, render_mode="rgb_array", history=self.history)
            return RenderEvery(env, self.render_every, f"rl-scratch: training {s.agent} on {s.env}")
        return cfg.make_env(s.env, s.env_kwargs, history=self.history)

    # ---------------------------------------------------------- callback
    def on_episode(self, record: dict):
        loss = record.get("loss")
        if isinstance(loss, float) and not math.isfinite(loss):
            raise Diverged(f"the loss became {loss}")
        self.metrics.write({**record, "wall_time": round(self.elapsed(), 3)})
        self.recent.append(record["return"])
        self.progress.update(record, float(np.mean(self.recent)))
        step = record["step"]
        if step >= self.next_eval:
            self.next_eval = self._next_multiple(step, self.settings.eval_every)
            self.evaluate_and_log(record["episode"])
        if step >= self.next_checkpoint:
            self.next_checkpoint = self._next_multiple(step, self.checkpoint_every)
            with self.signals.phase("defer"):
                self.save_checkpoint()
        s = self.settings
        if self.signals.stop_requested or (s.episodes is not None and record["episode"] >= s.episodes):
            return False
        if s.stop_at_target and self.state.target_step is not None:
            return False
        return True

    def evaluate_and_log(self, episode: int) -> dict:
        result = evaluate(self.agent, self.eval_env, self.settings.eval_episodes, seed=self.eval_seed)
        step, mean = self.agent.steps, result["mean_return"]
        self.last_eval = (step, result)
        self.evaluations.write({"step": step, "episode": episode, "mean_return": mean,
                                "std_return": result["std_return"], "success_rate": result.get("success_rate"),
                                "wall_time": round(self.elapsed(), 3)})
        self.evaluations.flush()
        note = ""
        if self.state.best_return is None or mean > self.state.best_return:
            self.state.best_return, self.state.best_step = mean, step
            self.save_agent(self.folder / runs.BEST_FILE)
            note = " (new best, saved best.npz)"
        if self.state.target_step is None and self.target.reached_by(result):
            self.state.target_step, self.state.target_wall_time = step, self.elapsed()
            note += f" -- reached the {self.target.name} at step {step} ({self.elapsed():.1f} s)"
        self.progress.last_eval = mean
        if result.get("capped_episodes"):
            note += (f" -- cut {result['capped_episodes']} episode(s) at {EVAL_STEP_CAP} steps (the env has no "
                     "time limit of its own)")
        if note:  # other evaluations show up in the progress line and evaluations.csv
            self.progress.message(f"eval @ step {step}: mean return {mean:.3f} +- {result['std_return']:.3f} "
                                  f"over {self.settings.eval_episodes} episodes{note}")
        return result

    def save_agent(self, path: Path) -> None:
        """agent.save, made safe: written beside `path`, checked for NaN/inf weights, then moved over it.

        A full disk or a diverged agent leaves the previous file as it was.
        """
        fresh = path.with_name(f".new-{path.name}")
        try:
            self.agent.save(fresh)
            arrays = load_arrays(fresh)
            for name, array in arrays.items():
                if array.dtype.kind in "fc" and not np.all(np.isfinite(array)):
                    raise Diverged(f"the saved state {name!r} holds NaN/inf")
            os.replace(fresh, path)
        except OSError as error:
            raise DiskWriteError(path, error) from None
        finally:
            if fresh.exists():
                fresh.unlink()

    def save_checkpoint(self) -> None:
        self.metrics.flush()
        self.save_agent(self.folder / runs.CHECKPOINT_FILE)
        self.checkpoint_step = self.agent.steps
        self.state.wall_time = self.elapsed()
        self.start_time = time.perf_counter()
        self.write_state()

    def write_state(self) -> None:
        path = self.folder / runs.STATE_FILE
        try:
            runs.atomic_write_json(path, dataclasses.asdict(self.state))
        except OSError as error:
            raise DiskWriteError(path, error) from None

    # -------------------------------------------------------------- run
    def _announce_stop(self, signum: int) -> None:
        again = "press Ctrl-C" if signum == signal.SIGINT else f"send {signal_name(signum)}"
        (self.progress.message if self.progress is not None else say)(f"{signal_name(signum)}: stopping at the end of this episode and saving "
                              f"({again} again to stop at once)")

    def run(self, signals: StopSignals | None = None) -> int:
        """Train, then save; returns the exit code (0, or 130/143 after SIGINT/SIGTERM).

        Raises TrainingFault when training diverged or a file could not be written.
        """
        self.signals = signals = signals or StopSignals().install()
        signals.on_stop_requested = self._announce_stop
        s = self.settings
        total_steps = s.steps if s.steps is not None else 2**62
        first_step = self.agent.steps
        self.start_time = time.perf_counter()
        self.progress = Progress(s.steps, first_step)
        fault = None
        try:
            # A diverging network overflows long before it is NaN: NumPy's warnings would bury the one
            # line that says so (on_episode and save_agent detect NaN/inf themselves).
            with signals.phase("graceful"), np.errstate(over="ignore", invalid="ignore", divide="ignore"):
                # learn() counts steps from where the agent is (a resumed agent continues its run)
                self.agent.learn(self.make_env, max(total_steps - self.agent.steps, 0), callback=self.on_episode)
        except Interrupted:
            pass
        except (Diverged, FloatingPointError) as error:
            fault = self._diverged_message(error)
        except DiskWriteError as error:
            fault = self._disk_message(error)
        finally:
            self.progress.close(self.agent.steps)
        if fault is None:
            fault = self._log_undelivered()
        interrupted = signals.first is not None
        with signals.phase("final"), np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            if fault is None:
                try:
                    self.save_checkpoint()
                    summary = self.finish(interrupted)
                except Diverged as error:
                    fault = self._diverged_message(error)
                except DiskWriteError as error:
                    fault = self._disk_message(error)
            self.close()
            if fault is not None:
                raise TrainingFault(fault)
            say(final_report(summary, self.target, self.state, self.folder, interrupted))
        return exit_code(signals.first) if interrupted else 0

    def _log_undelivered(self) -> str | None:
        """Log the episodes the agent finished but has not handed to the callback yet.

        A stop in the middle of a rollout (PPO, A2C) leaves the rollout's later
        episodes waiting for the next learn(); a learn() of zero steps hands them
        over, so metrics.csv holds every episode the checkpoint counts. Returns a
        fault message, or None.
        """
        def log_only(record):
            self.metrics.write({**record, "wall_time": round(self.elapsed(), 3)})
        try:
            with self.signals.phase("final"), np.errstate(over="ignore", invalid="ignore", divide="ignore"):
                self.agent.learn(self.make_env, 0, callback=log_only)
        except DiskWriteError as error:
            return self._disk_message(error)
        return None

    def close(self) -> None:
        self.metrics.close()
        self.evaluations.close()
        self.eval_env.close()

    def _kept(self) -> str:
        checkpoint = self.folder / runs.CHECKPOINT_FILE
        if self.checkpoint_step is not None or checkpoint.exists():
            step = self.checkpoint_step
            where = f" (step {step})" if step is not None else ""
            return f"the last good checkpoint {checkpoint}{where} is kept: resume with --resume {self.folder}"
        return f"no checkpoint was written yet; {self.folder} restarts from step 0 with --resume"

    def _diverged_message(self, error: Exception) -> str:
        return (f"training diverged at step {self.agent.steps}: {str(error).split(':')[0]}; "
                f"{likely_culprit(self.agent.config)}; {self._kept()}")

    def _disk_message(self, error: DiskWriteError) -> str:
        return f"{error}; {self._kept()}"

    def finish(self, interrupted: bool) -> dict:
        """Final evaluation, eval.json and the learning curve (a signal skips the evaluation only)."""
        s = self.settings
        try:
            with self.signals.phase("abort"):
                if self.last_eval is not None and self.last_eval[0] == self.agent.steps:
                    result = self.last_eval[1]
                else:
                    result = self.evaluate_and_log(self.agent.episodes)
        except Interrupted:
            result = None
        wall = self.elapsed()
        self.state.wall_time = wall
        self.write_state()
        summary = {
            "env": s.env, "agent": s.agent, "steps": int(self.agent.steps), "episodes": int(self.agent.episodes),
            "wall_time_s": round(wall, 3), "interrupted": interrupted, "deterministic": True,
            "eval_episodes": s.eval_episodes, "eval_seed": self.eval_seed,
            "optimum": self.target.optimum, "reward_threshold": self.target.threshold,
            "best_eval_return": self.state.best_return, "best_eval_step": self.state.best_step,
            "target_reached_at_step": self.state.target_step,
            "target_reached_after_s": None if self.state.target_wall_time is None
            else round(self.state.target_wall_time, 3),
        }
        if result is not None:
            # The result of the run is the policy it ends with: its mean, std and the 95% interval
            # of its mean over the evaluation episodes, beside the best and first-reached figures.
            summary.update(mean_return=result["mean_return"], std_return=result["std_return"],
                           success_rate=result.get("success_rate"), returns=result["returns"],
                           lengths=result["lengths"], final=stats.summarize(result["returns"]))
            if result.get("capped_episodes"):
                summary.update(capped_episodes=result["capped_episodes"], episode_step_cap=EVAL_STEP_CAP)
            recent = [v for v in runs.read_csv(self.folder / runs.EVALUATIONS_FILE).get("mean_return", [])
                      if v is not None][-LAST_EVALUATIONS:]
            summary.update(mean_last_evaluations=float(np.mean(recent)) if recent else None,
                           last_evaluations=len(recent))
            if self.target.value is not None:
                summary["target_verdict"] = self.target.verdict(result)
                summary["reached_target"] = self.target.reached_by(result)
        try:
            with self.signals.phase("abort"):
                held_out = evaluation_report(
                    self.agent, lambda: cfg.make_env(s.env, {**s.env_kwargs, **s.eval_env_kwargs},
                                                     history=self.history))
        except Interrupted:
            held_out = None
        if held_out is not None:
            summary["report"] = held_out
        try:
            runs.atomic_write_json(self.folder / runs.SUMMARY_FILE, summary)
            self.plot()
        except OSError as error:
            raise DiskWriteError(getattr(error, "filename", None) or self.folder / runs.SUMMARY_FILE, error) from None
        return summary

    def plot(self) -> None:
        self.metrics.flush()
        s = self.settings
        runs.plot_learning_curve(self.folder / runs.CURVE_FILE, runs.read_csv(self.folder / runs.METRICS_FILE),
                                 runs.read_csv(self.folder / runs.EVALUATIONS_FILE),
                                 f"{s.agent} on {cfg.display_name(s.env)} (seed {s.seed})", self.target.value,
                                 self.target.curve_label())
