"""The training loop around an agent: per-episode logging, evaluations, checkpoints, the final save.

`Trainer.run()` hands `agent.learn` a callback that sees every finished episode;
the callback writes metrics.csv, evaluates and checkpoints on schedule, and says
when to stop (budget in episodes, target reached, Ctrl-C).
"""

from __future__ import annotations

import collections
import dataclasses
import math
import signal
import threading
import time
from pathlib import Path

import numpy as np

from rl_scratch import config as cfg
from rl_scratch import runs, stats
from rl_scratch.agents import evaluation_report
from rl_scratch.console import Progress, final_report, say
from rl_scratch.target import Target
from rl_scratch.window import RenderEvery

EXIT_INTERRUPTED = 130
EVAL_SEED_OFFSET = 1_000_003  # the evaluation env's seed: `--seed` plus this, apart from the agent's streams
LAST_EVALUATIONS = 5  # eval.json's mean_last_evaluations: how steady the end of the run was


@dataclasses.dataclass
class TrainerState:
    """What a resumed run needs besides the agent (trainer_state.json)."""

    best_return: float | None = None
    best_step: int | None = None
    wall_time: float = 0.0
    target_step: int | None = None
    """first step at which an evaluation reached the target"""
    target_wall_time: float | None = None


class Trainer:
    def __init__(self, folder: Path, agent, settings: cfg.TrainSettings, target: Target, state: TrainerState,
                 render_every: int | None):
        self.folder, self.agent, self.settings = folder, agent, settings
        self.target = target
        self.state = state
        self.render_every = render_every
        self.eval_env = cfg.make_env(settings.env, {**settings.env_kwargs, **settings.eval_env_kwargs})
        self.eval_seed = settings.seed + EVAL_SEED_OFFSET
        self.metrics = runs.CsvLog(folder / runs.METRICS_FILE, runs.METRIC_COLUMNS)
        self.evaluations = runs.CsvLog(folder / runs.EVALUATIONS_FILE, runs.EVAL_COLUMNS)
        self.recent = collections.deque(maxlen=20)
        self.stop_requested = False
        self.last_eval: tuple[int, dict] | None = None
        self.envs_made = 0
        steps = agent.steps
        self.next_eval = self._next_multiple(steps, settings.eval_every)
        self.checkpoint_every = settings.checkpoint_every or max(1, (settings.steps or 10_000) // 10)
        self.next_checkpoint = self._next_multiple(steps, self.checkpoint_every)

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
            env = cfg.make_env(s.env, s.env_kwargs, render_mode="rgb_array")
            return RenderEvery(env, self.render_every, f"rl-scratch: training {s.agent} on {s.env}")
        return cfg.make_env(s.env, s.env_kwargs)

    # ---------------------------------------------------------- callback
    def on_episode(self, record: dict):
        self.metrics.write({**record, "wall_time": round(self.elapsed(), 3)})
        self.recent.append(record["return"])
        self.progress.update(record, float(np.mean(self.recent)))
        step = record["step"]
        if step >= self.next_eval:
            self.next_eval = self._next_multiple(step, self.settings.eval_every)
            self.evaluate_and_log(record["episode"])
        if step >= self.next_checkpoint:
            self.next_checkpoint = self._next_multiple(step, self.checkpoint_every)
            self.save_checkpoint()
        s = self.settings
        if self.stop_requested or (s.episodes is not None and record["episode"] >= s.episodes):
            return False
        if s.stop_at_target and self.state.target_step is not None:
            return False
        return True

    def evaluate_and_log(self, episode: int) -> dict:
        from rl_scratch.agents.registry import evaluate

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
            self.agent.save(self.folder / runs.BEST_FILE)
            note = " (new best, saved best.npz)"
        if self.state.target_step is None and self.target.reached_by(result):
            self.state.target_step, self.state.target_wall_time = step, self.elapsed()
            note += f" -- reached the {self.target.name} at step {step} ({self.elapsed():.1f} s)"
        self.progress.last_eval = mean
        if note:  # other evaluations show up in the progress line and evaluations.csv
            self.progress.message(f"eval @ step {step}: mean return {mean:.3f} +- {result['std_return']:.3f} "
                                  f"over {self.settings.eval_episodes} episodes{note}")
        return result

    def save_checkpoint(self) -> None:
        self.metrics.flush()
        self.agent.save(self.folder / runs.CHECKPOINT_FILE)
        self.state.wall_time = self.elapsed()
        self.start_time = time.perf_counter()
        runs.atomic_write_json(self.folder / runs.STATE_FILE, dataclasses.asdict(self.state))

    # -------------------------------------------------------------- run
    def _on_sigint(self, signum, frame):
        if self.stop_requested:
            raise KeyboardInterrupt
        self.stop_requested = True
        self.progress.message("Ctrl-C: stopping at the end of this episode and saving "
                              "(press Ctrl-C again to stop at once)")

    def run(self) -> int:
        s = self.settings
        total_steps = s.steps if s.steps is not None else 2**62
        self.start_time = time.perf_counter()
        first_step = self.agent.steps
        self.progress = Progress(s.steps, first_step)
        # Signal handlers can only be set from the main thread (main() may be called from another).
        handles_sigint = threading.current_thread() is threading.main_thread()
        previous_handler = signal.signal(signal.SIGINT, self._on_sigint) if handles_sigint else None
        interrupted = False
        try:
            # learn() counts steps from where the agent is (a resumed agent continues its run)
            self.agent.learn(self.make_env, max(total_steps - self.agent.steps, 0), callback=self.on_episode)
        except KeyboardInterrupt:
            interrupted = True
        finally:
            self.progress.close(self.agent.steps)
            if handles_sigint:
                signal.signal(signal.SIGINT, previous_handler)
        interrupted = interrupted or self.stop_requested
        self.save_checkpoint()
        summary = self.finish(interrupted, first_step)
        self.metrics.close()
        self.evaluations.close()
        self.eval_env.close()
        say(final_report(summary, self.target, self.state, self.folder, interrupted))
        return EXIT_INTERRUPTED if interrupted else 0

    def finish(self, interrupted: bool, first_step: int) -> dict:
        """Final evaluation, eval.json and the learning curve."""
        s = self.settings
        try:
            if self.last_eval is not None and self.last_eval[0] == self.agent.steps:
                result = self.last_eval[1]
            else:
                result = self.evaluate_and_log(self.agent.episodes)
        except KeyboardInterrupt:
            result = None
        wall = self.elapsed()
        self.state.wall_time = wall
        runs.atomic_write_json(self.folder / runs.STATE_FILE, dataclasses.asdict(self.state))
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
            recent = [v for v in runs.read_csv(self.folder / runs.EVALUATIONS_FILE).get("mean_return", [])
                      if v is not None][-LAST_EVALUATIONS:]
            summary.update(mean_last_evaluations=float(np.mean(recent)) if recent else None,
                           last_evaluations=len(recent))
            if self.target.value is not None:
                summary["target_verdict"] = self.target.verdict(result)
                summary["reached_target"] = self.target.reached_by(result)
        try:
            held_out = evaluation_report(
                self.agent, lambda: cfg.make_env(s.env, {**s.env_kwargs, **s.eval_env_kwargs}))
        except KeyboardInterrupt:
            held_out = None
        if held_out is not None:
            summary["report"] = held_out
        runs.atomic_write_json(self.folder / runs.SUMMARY_FILE, summary)
        self.plot()
        return summary

    def plot(self) -> None:
        self.metrics.flush()
        s = self.settings
        runs.plot_learning_curve(self.folder / runs.CURVE_FILE, runs.read_csv(self.folder / runs.METRICS_FILE),
                                 runs.read_csv(self.folder / runs.EVALUATIONS_FILE),
                                 f"{s.agent} on {cfg.display_name(s.env)} (seed {s.seed})", self.target.value,
                                 self.target.curve_label())
