"""Train an agent on an environment and keep everything in a run folder.

    python -m rl_scratch.train --env GridWorld
    python -m rl_scratch.train --env CartPole-v1 --agent dqn --steps 50000 --lr 5e-4 --hidden 128,128
    python -m rl_scratch.train --env GridWorld --agent qlearning
    python -m rl_scratch.train --resume runs/GridWorld-dqn-20260101-120000 --steps 20000
    python -m rl_scratch.train --list

Defaults come from `rl_scratch.config` (dataclass defaults, then the env and tuned
tables, then --config FILE, then flags). The run folder layout is described in
`rl_scratch.runs`. Ctrl-C stops at the end of the current episode, saves, and
prints how to resume; a second Ctrl-C stops at once (still saving).
"""

from __future__ import annotations

import argparse
import collections
import ctypes
import dataclasses
import importlib.metadata
import math
import os
import shlex
import signal
import sys
import threading
import time
from pathlib import Path

import gymnasium
import numpy as np

from rl_scratch.agents import evaluation_report
from rl_scratch import config as cfg
from rl_scratch import runs
from rl_scratch.config import ConfigError
from rl_scratch.runs import RunFolderError

EXIT_USAGE = 2
EXIT_INTERRUPTED = 130
# An evaluation reaches the optimum within float rounding of summed rewards, or, when
# episodes differ (random starts, slippery moves), within this many standard errors:
# the optimum is an expected return, and a finite evaluation scatters around it.
TARGET_TOLERANCE = 1e-6
STANDARD_ERRORS = 2.0
EVAL_SEED_OFFSET = 1_000_003  # the evaluation env's seed: `--seed` plus this, apart from the agent's streams


class _Parser(argparse.ArgumentParser):
    """argparse that reports a bad flag as one `error: ...` line (exit code 2), no usage dump."""

    def error(self, message):
        sys.stderr.write(f"error: {message} (see --help)\n")
        sys.exit(EXIT_USAGE)


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(
        prog="python -m rl_scratch.train",
        description="Train an rl_scratch agent on a Gymnasium environment; results go to a run folder.",
        epilog="Lookup order: dataclass defaults < env/tuned tables < --config file < flags. "
               "NumPy's BLAS runs on one thread (faster for these small networks); set OPENBLAS_NUM_THREADS "
               "to choose. "
               "Examples: --env GridWorld | --env GridWorld --agent qlearning | "
               "--env CartPole-v1 --steps 50000 --set batch_size=128 | --resume runs/<run> --steps 20000",
    )
    what = p.add_argument_group("what to train")
    what.add_argument("--env", help="GridWorld, Iris, NextToken (any case), other short names from --list, "
                                    "or any Gymnasium id with Discrete actions (CartPole-v1, FrozenLake-v1)")
    what.add_argument("--agent", help="qlearning, sarsa, value_iteration, dqn, reinforce, a2c, ppo, supervised, ... "
                                      "(default: per env; --list shows all with their hyperparameters)")
    what.add_argument("--policy", help="network of a network agent: mlp, attention (GridWorld cells as tokens), "
                                       "or gpt (supervised on text); default: per env, see --list")
    what.add_argument("--env-kwarg", action="append", default=[], metavar="KEY=VALUE",
                      help="gymnasium.make option, repeatable (e.g. obs_mode=coords, slip_prob=0.1)")
    what.add_argument("--corpus", metavar="FILE",
                      help="NextToken: train on this UTF-8 text file instead of the bundled corpus")
    what.add_argument("--config", metavar="FILE", help="TOML or JSON file with the same keys as a run's "
                                                       "config.json (env, agent, steps, [hyperparameters], ...)")
    what.add_argument("--list", action="store_true", help="print envs, agents and their defaults, then exit")

    budget = p.add_argument_group("budget and hyperparameters")
    budget.add_argument("--steps", type=int, help="total env steps to train for (with --resume: the new total)")
    budget.add_argument("--episodes", type=int, help="total episodes to train for (instead of, or with, --steps)")
    budget.add_argument("--lr", type=float, help="learning rate")
    budget.add_argument("--gamma", type=float, help="discount factor")
    budget.add_argument("--hidden", metavar="SIZES", help="hidden layer sizes, e.g. 64,64")
    budget.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="any field of the agent's Config, repeatable (an unknown key lists the valid ones)")
    budget.add_argument("--seed", type=int, help="seeds the agent, its envs and action spaces, and the "
                                                 "evaluation env (default 0); same seed, same metrics.csv")

    ev = p.add_argument_group("evaluation and checkpoints")
    ev.add_argument("--eval-every", type=int, metavar="STEPS", help="env steps between deterministic evaluations "
                                                                    "on a separate seeded env (0: only at the end)")
    ev.add_argument("--eval-episodes", type=int, metavar="N", help="episodes per evaluation")
    ev.add_argument("--checkpoint-every", type=int, metavar="STEPS",
                    help="env steps between checkpoints (default: every tenth of the budget)")
    ev.add_argument("--stop-at-target", action=argparse.BooleanOptionalAction, default=None,
                    help="stop once an evaluation reaches the optimum or the env's reward threshold "
                         "(a resumed run that already reached it trains on, unless given again)")

    out = p.add_argument_group("output")
    out.add_argument("--out", metavar="DIR", help="run folder (default: runs/<env>-<agent>-<timestamp>)")
    out.add_argument("--resume", metavar="RUN_DIR", help="continue a run from its checkpoint.npz "
                                                         "(optimizer, schedules, counters, exploration restored)")
    out.add_argument("--render", action="store_true", help="show training episodes in a pygame window")
    out.add_argument("--render-every", type=int, default=10, metavar="N",
                     help="with --render: show every N-th training episode (default 10)")
    return p


# -------------------------------------------------------------- listing
def print_list() -> None:
    from rl_scratch.agents.registry import AGENTS

    lines = ["Environments (short name, Gymnasium id: default agent, policy, steps, env options):"]
    for env_id, d in cfg.ENV_DEFAULTS.items():
        options = {**d.env_kwargs, **d.input_env_kwargs.get(d.policy or "tabular", {})}
        extra = f", options {options}" if options else ""
        extra += f", evaluated on {d.eval_env_kwargs}" if d.eval_env_kwargs else ""
        lines.append(f"  {cfg.display_name(env_id):<20} {env_id:<34} {d.agent}, {d.policy or 'agent default'}, "
                     f"{d.steps} steps{extra}")
    lines.append("  any other Gymnasium id with Discrete actions: qlearning on Discrete observations, "
                 "else dqn with an MLP; 50000 steps")
    lines.append("\nAgents (hyperparameter defaults; --set KEY=VALUE changes any of them):")
    for name, agent_cls in AGENTS.items():
        lines.append(f"  {name}: {cfg.describe_hyperparameters(agent_cls.Config())}")
        for env_id in dict.fromkeys([*cfg.ENV_DEFAULTS, *cfg.tuned_envs(name)]):
            tuned = cfg.tuned_hyperparameters(name, env_id)
            if tuned:
                lines.append(f"      tuned for {cfg.display_name(env_id)}: "
                             + " ".join(f"{k}={v}" for k, v in tuned.items()))
    _print("\n".join(lines))


# ------------------------------------------------------------ BLAS threads
_THREAD_VARIABLES = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")
_OPENBLAS_SETTERS = ("scipy_openblas_set_num_threads64_", "scipy_openblas_set_num_threads", "openblas_set_num_threads")


def limit_blas_threads(threads: int = 1) -> bool:
    """Run NumPy's OpenBLAS on `threads` threads unless the user chose (an *_NUM_THREADS variable).

    The networks here are small: a multithreaded BLAS spends more on waking and
    syncing threads than it saves, and on a busy 2-core machine it is far worse
    (PPO on CartPole: 186 steps/s with the default threads, 1590 with one).
    NumPy is already imported, so the variables are too late; this calls the
    loaded OpenBLAS's own setter (what threadpoolctl does). Returns whether it did.
    """
    if any(name in os.environ for name in _THREAD_VARIABLES):
        return False
    try:
        with open("/proc/self/maps") as maps:  # Linux: the shared libraries this process loaded
            libraries = {line.split()[-1] for line in maps if "openblas" in line.lower() and ".so" in line}
    except OSError:
        return False
    for path in sorted(libraries):
        try:
            library = ctypes.CDLL(path)
        except OSError:
            continue
        for symbol in _OPENBLAS_SETTERS:
            setter = getattr(library, symbol, None)
            if setter is not None:
                setter(threads)
                return True
    return False


_MALLOC_VARIABLES = ("MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_")
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3  # glibc's mallopt parameter numbers
_KEEP_BYTES = 1 << 30


def keep_freed_memory() -> bool:
    """Let glibc's malloc reuse freed memory instead of handing it back to the OS.

    A training step allocates and frees the same large temporaries every time;
    by default glibc maps big ones fresh (and trims the heap) on each step, so
    every step pays page faults again: a TinyGPT step on text took 20 ms instead
    of 11. Does nothing off glibc or when the user set a MALLOC_* variable.
    Returns whether it applied.
    """
    if any(name in os.environ for name in _MALLOC_VARIABLES):
        return False
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return False
    return bool(mallopt(_M_MMAP_THRESHOLD, _KEEP_BYTES)) and bool(mallopt(_M_TRIM_THRESHOLD, _KEEP_BYTES))


# ------------------------------------------------------------- planning
def planning_optimum(env) -> float | None:
    """The best expected undiscounted return from the start (value iteration on the env's model).

    None when the env has no transition model (GridWorld's transition_model() or
    a Toy Text env's P) or no known start distribution.
    """
    base = env.unwrapped
    if not (hasattr(base, "transition_model") or hasattr(base, "P")):
        return None
    from rl_scratch.agents.planning import (finite_horizon_value_iteration, get_transition_model, tabular_model,
                                            value_iteration)

    model = tabular_model(get_transition_model(env))
    horizon = env.spec.max_episode_steps if env.spec is not None else None
    if horizon:
        values = finite_horizon_value_iteration(model, horizon, gamma=1.0)[0]
    else:
        try:
            values = value_iteration(model, gamma=1.0)[0]
        except RuntimeError:  # no policy ends episodes surely: no finite optimum to show
            return None
    if hasattr(base, "start_state"):
        return float(values[base.start_state])
    if hasattr(base, "initial_state_distrib"):
        return float(np.asarray(base.initial_state_distrib) @ values)
    return None


# ------------------------------------------------------------- progress
def _print(text: str) -> None:
    """print, except that a closed stdout (`train ... | head`) silences the output instead of
    ending the run: the rest goes to /dev/null and training carries on."""
    try:
        print(text, flush=True)
    except BrokenPipeError:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())


class Progress:
    """A tqdm bar on a terminal; plain lines every tenth of the budget (or 30 s) otherwise."""

    def __init__(self, total_steps: int | None, start_step: int, interactive: bool | None = None):
        self.total = total_steps
        self.interactive = sys.stdout.isatty() if interactive is None else interactive
        self.start_time = time.perf_counter()
        self.start_step = start_step
        self.last_line_time = self.start_time
        self.next_fraction = 0.1
        self.last_postfix = 0.0
        self.bar = None
        self.last_eval: float | None = None
        if self.interactive:
            from tqdm import tqdm

            self.bar = tqdm(total=total_steps, initial=start_step, unit="step", file=sys.stdout,
                            dynamic_ncols=True, smoothing=0.05)

    def _summary(self, record: dict, recent: float) -> str:
        parts = [f"ep {record['episode']}", f"return {recent:.3f}"]
        if record.get("loss") is not None:
            parts.append(f"loss {record['loss']:.3g}")
        if record.get("epsilon") is not None:
            parts.append(f"eps {record['epsilon']:.2f}")
        if record.get("entropy") is not None:
            parts.append(f"entropy {record['entropy']:.3f}")
        if self.last_eval is not None:
            parts.append(f"eval {self.last_eval:.3f}")
        return " | ".join(parts)

    def update(self, record: dict, recent: float) -> None:
        now = time.perf_counter()
        step = record["step"]
        if self.bar is not None:
            self.bar.update(step - self.bar.n)
            if now - self.last_postfix > 0.25:
                self.bar.set_postfix_str(self._summary(record, recent), refresh=False)
                self.last_postfix = now
            return
        fraction = step / self.total if self.total else 0.0
        if fraction >= self.next_fraction or now - self.last_line_time >= 30:
            while self.next_fraction <= fraction:
                self.next_fraction += 0.1
            rate = (step - self.start_step) / max(now - self.start_time, 1e-9)
            where = f"step {step}/{self.total} ({100 * fraction:3.0f}%)" if self.total else f"step {step}"
            _print(f"{where} | {self._summary(record, recent)} | {rate:.0f} steps/s")
            self.last_line_time = now

    def message(self, text: str) -> None:
        if self.bar is not None:
            self.bar.write(text, file=sys.stdout)
        else:
            _print(text)

    def close(self, step: int) -> None:
        if self.bar is not None:
            self.bar.update(step - self.bar.n)  # steps after the last finished episode
            self.bar.close()


# -------------------------------------------------------------- training
class RenderEvery(gymnasium.Wrapper):
    """Shows every `every`-th episode of an rgb_array env in a pygame window."""

    def __init__(self, env, every: int, title: str):
        super().__init__(env)
        from rl_scratch.play import FrameWindow

        self.every = every
        self.window = FrameWindow(title, fps=env.metadata.get("render_fps", 30))
        self.episode = 0
        self.showing = False

    def reset(self, **kwargs):
        out = self.env.reset(**kwargs)
        self.episode += 1
        self.showing = (self.episode - 1) % self.every == 0 and not self.window.closed_by_user
        if self.showing:
            self.window.show(self.env.render())
        return out

    def step(self, action):
        out = self.env.step(action)
        if self.showing:
            self.window.show(self.env.render())
        return out

    def close(self):
        self.window.close()
        super().close()


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
    def __init__(self, folder: Path, agent, settings: cfg.TrainSettings, optimum: float | None,
                 threshold: float | None, state: TrainerState, render_every: int | None):
        self.folder, self.agent, self.settings = folder, agent, settings
        self.optimum, self.threshold = optimum, threshold
        self.target = optimum if optimum is not None else threshold
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
        if self.state.target_step is None and self.reaches_target(result):
            self.state.target_step, self.state.target_wall_time = step, self.elapsed()
            note += f" -- reached the {self.target_name()} at step {step} ({self.elapsed():.1f} s)"
        self.progress.last_eval = mean
        if note:  # other evaluations show up in the progress line and evaluations.csv
            self.progress.message(f"eval @ step {step}: mean return {mean:.3f} +- {result['std_return']:.3f} "
                                  f"over {self.settings.eval_episodes} episodes{note}")
        return result

    def reaches_target(self, result: dict) -> bool:
        """Mean return at the reward threshold, or at the optimum up to evaluation noise."""
        if self.target is None:
            return False
        margin = TARGET_TOLERANCE
        if self.optimum is not None:
            margin = max(margin, STANDARD_ERRORS * result["std_return"] / math.sqrt(len(result["returns"])))
        return result["mean_return"] >= self.target - margin

    def target_name(self) -> str:
        return "optimum" if self.optimum is not None else "reward threshold"

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
            self.agent.learn(self.make_env, total_steps, callback=self.on_episode)
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
        self.report(summary, interrupted)
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
            "optimum": self.optimum, "reward_threshold": self.threshold,
            "best_eval_return": self.state.best_return, "best_eval_step": self.state.best_step,
            "target_reached_at_step": self.state.target_step,
            "target_reached_after_s": None if self.state.target_wall_time is None
            else round(self.state.target_wall_time, 3),
        }
        if result is not None:
            summary.update(mean_return=result["mean_return"], std_return=result["std_return"],
                           success_rate=result.get("success_rate"), returns=result["returns"],
                           lengths=result["lengths"])
            if self.target is not None:
                summary["reached_target"] = self.reaches_target(result)
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
        if self.optimum is not None:
            label = f"optimum {self.optimum:.3f} (value iteration)"
        elif self.threshold is not None:
            label = f"reward threshold {self.threshold:g}"
        else:
            label = None
        runs.plot_learning_curve(self.folder / runs.CURVE_FILE, runs.read_csv(self.folder / runs.METRICS_FILE),
                                 runs.read_csv(self.folder / runs.EVALUATIONS_FILE),
                                 f"{s.agent} on {cfg.display_name(s.env)} (seed {s.seed})", self.target, label)

    def report(self, summary: dict, interrupted: bool) -> None:
        steps, wall = summary["steps"], summary["wall_time_s"]
        lines = [f"\n{'Stopped' if interrupted else 'Finished'}: {steps} steps, {summary['episodes']} episodes "
                 f"in {wall:.1f} s ({steps / max(wall, 1e-9):.0f} steps/s overall)"]
        if "mean_return" in summary:
            line = (f"Final evaluation ({summary['eval_episodes']} deterministic episodes): mean return "
                    f"{summary['mean_return']:.3f} +- {summary['std_return']:.3f}")
            if summary.get("success_rate") is not None:
                line += f", success rate {100 * summary['success_rate']:.0f}%"
            lines.append(line)
        if self.target is not None:
            what = (f"optimal return {self.optimum:.3f} (value iteration)" if self.optimum is not None
                    else f"reward threshold {self.threshold:g}")
            if summary.get("reached_target"):
                noisy = self.optimum is not None and summary["std_return"] > 0
                line = f"Reached the {what}" + (" (within evaluation noise)." if noisy else ".")
            else:
                line = f"Not at the {what} yet."
            if self.state.target_step is not None:
                line += f" First reached at step {self.state.target_step} ({self.state.target_wall_time:.1f} s)."
            else:
                line += " Train longer (--steps) or change hyperparameters (--set)."
            lines.append(line)
        if "report" in summary:
            lines.extend(_held_out_lines(summary["report"]))
        if self.state.best_return is not None:
            lines.append(f"Best evaluation: {self.state.best_return:.3f} at step {self.state.best_step} (best.npz)")
        lines.append(f"Run folder: {self.folder}")
        if interrupted:
            lines.append(f"Resume with: python -m rl_scratch.train --resume {shlex.quote(str(self.folder))}"
                         "  (add --steps N for a new total)")
        lines.append(f"Watch it:    python -m rl_scratch.play {shlex.quote(str(self.folder))}")
        _print("\n".join(lines))


def _held_out_lines(report: dict) -> list:
    """Accuracy, loss and confusion matrix of a labelled task; for text also the baselines and a sample."""
    line = f"Held-out {report['split']} set ({report['examples']} examples): accuracy {report['accuracy']:.3f}"
    if "loss" in report:
        line += f", loss {report['loss']:.3f} nats"
    lines = [line]
    for baseline in ("unigram", "bigram"):
        if baseline in report:
            lines.append(f"  {baseline} baseline: accuracy {report[baseline]['accuracy']:.3f}, "
                         f"loss {report[baseline]['loss']:.3f} nats")
    if "confusion_matrix" in report:
        names = report.get("class_names") or [str(i) for i in range(len(report["confusion_matrix"]))]
        width = max(len(n) for n in names) + 2
        lines.append("  confusion matrix (rows: true class, columns: predicted):")
        lines.append(" " * (width + 2) + "".join(f"{n[:width - 1]:>{width}}" for n in names))
        for name, row in zip(names, report["confusion_matrix"]):
            lines.append(f"  {name:<{width}}" + "".join(f"{count:>{width}}" for count in row))
    if "sample" in report:
        lines.append(f"  sample: {report['sample']!r}")
    return lines


# ----------------------------------------------------------------- setup
def _version() -> str | None:
    try:
        return importlib.metadata.version("rl-scratch")
    except importlib.metadata.PackageNotFoundError:  # running from a source tree that is not installed
        return None


def _command_line(argv: list[str]) -> str:
    return "python -m rl_scratch.train " + " ".join(shlex.quote(a) for a in argv)


def _flags(args) -> dict:
    """The command-line values that were given, in resolve()'s shape."""
    flags = {key: getattr(args, key) for key in ("env", "agent", "steps", "episodes", "seed", "eval_every",
                                                 "eval_episodes", "checkpoint_every", "stop_at_target")
             if getattr(args, key) is not None}
    hyper = cfg.parse_assignments(args.set, "--set")
    for key in ("lr", "gamma", "hidden", "policy"):
        value = getattr(args, key)
        if value is not None:
            hyper[key] = str(value)
    flags["hyperparameters"] = hyper
    flags["env_kwargs"] = cfg.parse_env_kwargs(cfg.parse_assignments(args.env_kwarg, "--env-kwarg"))
    if args.corpus is not None:
        # absolute, so that play can rebuild the env from config.json in any folder
        flags["env_kwargs"]["corpus_path"] = os.path.abspath(args.corpus)
    return flags


def _build_agent(resolved: cfg.ResolvedConfig, env):
    s = resolved.settings
    try:
        return resolved.agent_cls(env.observation_space, env.action_space, resolved.agent_config, seed=s.seed)
    except (ValueError, NotImplementedError) as error:
        raise ConfigError(f"{s.agent} cannot train on {s.env}: {error}") from None


def start_new_run(args, argv) -> tuple[Trainer, str]:
    file_values = cfg.load_config_file(args.config) if args.config else {}
    resolved = cfg.resolve(_flags(args), file_values, file_name=args.config or "config file")
    s = resolved.settings
    env = cfg.make_env(s.env, s.env_kwargs)
    try:
        agent = _build_agent(resolved, env)
        optimum = planning_optimum(env)
        threshold = env.spec.reward_threshold if env.spec is not None else None
    finally:
        env.close()
    folder = runs.create_run_folder(args.out, cfg.display_name(s.env), s.agent)
    record = {**resolved.to_json(), "command": _command_line(argv), "optimum": optimum,
              "reward_threshold": threshold, "rl_scratch_version": _version()}
    runs.atomic_write_json(folder / runs.CONFIG_FILE, record)
    trainer = Trainer(folder, agent, s, optimum, threshold, TrainerState(), args.render_every if args.render else None)
    budget = f"{s.steps} steps" if s.steps is not None else f"{s.episodes} episodes"
    if s.steps is not None and s.episodes is not None:
        budget += f" or {s.episodes} episodes"
    header = (f"Training {s.agent} on {s.env}" + (f" {s.env_kwargs}" if s.env_kwargs else "")
              + f" for {budget}, seed {s.seed}\n"
              f"  hyperparameters: {cfg.describe_hyperparameters(resolved.agent_config)}\n"
              + "".join(f"    set by {source}: {', '.join(keys)}\n" for source, keys in _by_source(resolved).items())
              + f"  run folder: {folder}")
    if optimum is not None:
        header += f"\n  optimal return (value iteration on the env's model): {optimum:.3f}"
    elif threshold is not None:
        header += f"\n  reward threshold: {threshold:g}"
    return trainer, header


def _by_source(resolved: cfg.ResolvedConfig) -> dict[str, list[str]]:
    """Layer -> the hyperparameters it set (those not listed are the agent's dataclass defaults)."""
    grouped: dict[str, list[str]] = {}
    for key, source in resolved.hyperparameter_sources.items():
        grouped.setdefault(source, []).append(key)
    return grouped


# Flags that would change what a resumed run is; the checkpoint fixes them.
_FIXED_ON_RESUME = ("env", "agent", "policy", "lr", "gamma", "hidden", "seed", "config", "out")


def resume_run(args, argv) -> tuple[Trainer, str]:
    from rl_scratch.agents.checkpoint import ensure_compatible
    from rl_scratch.agents.registry import load_agent

    for key in _FIXED_ON_RESUME:
        if getattr(args, key) is not None:
            raise ConfigError(f"--{key} cannot be combined with --resume: the run's settings and hyperparameters "
                              "are fixed by its checkpoint; start a new run to change them")
    if args.set or args.env_kwarg:
        raise ConfigError("--set/--env-kwarg cannot be combined with --resume; start a new run to change them")
    folder = Path(args.resume)
    if not folder.is_dir():
        raise ConfigError(f"cannot resume: {folder} is not a run folder (no such directory)")
    try:
        record = runs.read_json(folder / runs.CONFIG_FILE)
    except RunFolderError as error:
        raise ConfigError(f"cannot resume {folder}: {error}") from None
    try:
        settings = cfg.TrainSettings(**{k: record[k] for k in cfg.TRAIN_KEYS if k in record})
    except TypeError as error:
        raise ConfigError(f"cannot resume {folder}: config.json is damaged ({error})") from None
    checkpoint = folder / runs.CHECKPOINT_FILE
    try:
        agent = load_agent(checkpoint)
    except (OSError, ValueError, KeyError) as error:
        raise ConfigError(f"cannot resume from {checkpoint}: {error}") from None
    for key in ("steps", "episodes", "eval_every", "eval_episodes", "checkpoint_every", "stop_at_target"):
        value = getattr(args, key)
        if value is not None:
            setattr(settings, key, value)
    cfg.validate_settings(settings)
    for unit, done in (("steps", agent.steps), ("episodes", agent.episodes)):
        total = getattr(settings, unit)
        if total is not None and done >= total:
            if getattr(args, unit) is not None:
                raise ConfigError(f"--{unit} is the new total and must exceed the {done} {unit} already done")
            raise ConfigError(f"{folder} already trained its {total} {unit}; pass --{unit} with a larger total "
                              f"(e.g. --{unit} {2 * total}) to continue")
    env = cfg.make_env(settings.env, settings.env_kwargs)
    try:
        ensure_compatible(agent, env)
        optimum = planning_optimum(env)
        threshold = env.spec.reward_threshold if env.spec is not None else None
    except ValueError as error:
        raise ConfigError(f"cannot resume {folder}: {error}") from None
    finally:
        env.close()
    state_path = folder / runs.STATE_FILE
    state = TrainerState()
    if state_path.exists():
        try:
            state = TrainerState(**runs.read_json(state_path))
        except (RunFolderError, TypeError) as error:
            raise ConfigError(f"cannot resume {folder}: {runs.STATE_FILE} is damaged ({error})") from None
    if args.stop_at_target is None and state.target_step is not None:
        settings.stop_at_target = False  # resuming past the target means training on
    record.update(steps=settings.steps, episodes=settings.episodes, eval_every=settings.eval_every,
                  eval_episodes=settings.eval_episodes, checkpoint_every=settings.checkpoint_every,
                  stop_at_target=settings.stop_at_target)
    record["resumed_with"] = [*record.get("resumed_with", []), _command_line(argv)]
    try:
        runs.atomic_write_json(folder / runs.CONFIG_FILE, record)
    except OSError as error:
        raise ConfigError(f"cannot write to run folder {folder}: {error.strerror or error}") from None
    trainer = Trainer(folder, agent, settings, optimum, threshold, state, args.render_every if args.render else None)
    header = (f"Resuming {settings.agent} on {settings.env} from step {agent.steps} (episode {agent.episodes}) "
              f"to {settings.steps if settings.steps is not None else str(settings.episodes) + ' episodes'}\n"
              f"  run folder: {folder}")
    return trainer, header


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    args = build_parser().parse_args(argv)
    try:
        if args.render_every < 1:
            raise ConfigError(f"--render-every must be a positive integer, got {args.render_every}")
        if args.list:
            print_list()
            return 0
        trainer, header = resume_run(args, argv) if args.resume else start_new_run(args, argv)
    except (ConfigError, RunFolderError) as error:
        sys.stderr.write(f"error: {error}\n")
        return EXIT_USAGE
    _print(header)
    limit_blas_threads()
    keep_freed_memory()
    return trainer.run()


if __name__ == "__main__":
    sys.exit(main())
