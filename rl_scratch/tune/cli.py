"""`python -m rl_scratch.tune`: the command line, the workers and the progress lines.

Each of the `--jobs J` workers is a thread that asks Optuna for a trial and runs it as
trainer subprocesses (rl_scratch.tune.trial): the threads only wait and poll files, so the
GIL never serialises training (Optuna's own n_jobs runs the objective in threads; here the
work is in the subprocesses). Many tuner processes, on one machine or many, can share a
study: every limit (the --trials cap, the space, the env) is checked against the storage.
"""

from __future__ import annotations

import argparse
import os
import shlex
import subprocess
import sys
import threading
import time
from pathlib import Path

from rl_scratch import config as cfg
from rl_scratch.config import ConfigError
from rl_scratch import console

from . import report
from . import space as sp
from . import storage as st
from .trial import OverCap, Stopped, StudyPlan, TrialFailed, WorkerState, child_environment, objective

EXIT_USAGE = 2
EXIT_INTERRUPTED = 130
PROGRESS_SECONDS = 10.0
STUDY_ATTR = "rl_scratch"
DEFAULT_TRIALS = 20
DEFAULT_EVALUATIONS = 10  # periodic evaluations per run: the pruner's intermediate values


class _Parser(argparse.ArgumentParser):
    def error(self, message):
        sys.stderr.write(f"error: {st.mask(message)} (see --help)\n")
        sys.exit(EXIT_USAGE)


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(
        prog=console.command("tune"),
        description="Search an agent's hyperparameters with Optuna (TPE, median pruning); every trial is a real "
                    f"training run of `{console.command('train')}`. Needs the [tune] extra.",
        epilog="Examples: --env GridWorld --agent qlearning --trials 20 --jobs 2 | "
               "--env CartPole-v1 --agent ppo --trials 40 --steps 30000 --seeds 2 | "
               f"many machines: {st.STORAGE_VARIABLE}=postgresql://user@host/db {console.command('tune')} ... "
               "(the same command on each). Re-running a command resumes its study.",
    )
    p.add_argument("--env", help="env to tune on (short name or Gymnasium id, as for train)")
    p.add_argument("--agent", help="agent to tune (default: the env's default agent)")
    p.add_argument("--trials", type=int, help=f"total trials of the study, over all workers and machines "
                                              f"(default {DEFAULT_TRIALS}); a larger value extends a study")
    p.add_argument("--jobs", type=int, default=1, help="worker processes on this machine (default 1)")
    p.add_argument("--seeds", type=int, help="training seeds per trial; the objective is their mean (default 1)")
    p.add_argument("--seed", type=int, help="first training seed; trials use seed..seed+K-1 (default 0)")
    p.add_argument("--steps", type=int, help="training steps per seed and trial (default: the env's budget)")
    p.add_argument("--eval-every", type=int, metavar="STEPS",
                   help=f"steps between the evaluations the pruner sees (default: steps / {DEFAULT_EVALUATIONS})")
    p.add_argument("--eval-episodes", type=int, metavar="N", help="episodes per evaluation (default: the env's)")
    p.add_argument("--space", metavar="FILE", help="TOML file whose [space] table overrides the agent's ranges")
    p.add_argument("--storage", metavar="URL",
                   help=f"database shared by machines, e.g. postgresql://user@host/db (or set {st.STORAGE_VARIABLE}; "
                        "default: a journal file in the study folder)")
    p.add_argument("--study", metavar="NAME", help="study name (default: <env>-<agent>)")
    p.add_argument("--out", metavar="DIR", help="study folder (default: runs/tune/<study>)")
    p.add_argument("--timeout", type=float, metavar="SECONDS", help="start no new trial after this long")
    p.add_argument("--pruner", choices=("median", "none"), default="median",
                   help="stop trials whose evaluations fall below the median of earlier trials (default median)")
    p.add_argument("--startup-trials", type=int, default=5, metavar="N",
                   help="random trials before TPE takes over, and completed trials before pruning starts (default 5)")
    p.add_argument("--trial", type=int, metavar="N",
                   help="retrain trial N of the study with `train` (its config goes to the study folder) and exit")
    return p


def _say(text: str, lock=threading.Lock()) -> None:
    with lock:
        try:
            print(st.mask(text), flush=True)
        except BrokenPipeError:
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())


# ------------------------------------------------------------------ setup
class Setup:
    """Everything a run of the tuner needs, checked before any trial starts."""

    def __init__(self, args):
        import optuna

        self.optuna = optuna
        optuna.logging.set_verbosity(optuna.logging.ERROR)  # our own progress lines say what happens
        for name, lowest in (("trials", 1), ("jobs", 1), ("seeds", 1), ("steps", 1), ("eval_episodes", 1),
                             ("eval_every", 1), ("startup_trials", 0), ("seed", 0), ("trial", 0)):
            value = getattr(args, name)
            if value is not None and value < lowest:
                raise ConfigError(f"--{name.replace('_', '-')} must be an integer >= {lowest}, got {value}")
        if args.timeout is not None and not args.timeout > 0:
            raise ConfigError(f"--timeout must be a positive number of seconds, got {args.timeout}")
        if not args.env:
            raise ConfigError("--env is required, e.g. --env GridWorld --agent qlearning")
        env_id = cfg.resolve_env_id(args.env)
        base = cfg.resolve({"env": env_id, "agent": args.agent, "hyperparameters": {}, "env_kwargs": {}}, {})
        agent = base.settings.agent
        space, fixed = sp.load_space(agent, base.agent_cls, args.space)
        self.study_name = args.study or f"{cfg.display_name(env_id)}-{agent}"
        folder = Path(args.out) if args.out else Path("runs") / "tune" / _safe(self.study_name)
        self.storage_flag = args.storage
        self.out_flag = args.out
        self.url = st.storage_url(args.storage)
        self.where = st.describe(self.url, folder)
        if self.url is not None:  # a bad URL leaves no folder behind
            self.storage = st.open_storage(self.url, folder)
        _make_folder(folder)
        if self.url is None:
            self.storage = st.open_storage(None, folder)
        stored = self._stored_record()

        steps = args.steps or (stored or {}).get("steps") or base.settings.steps
        if steps is None:
            raise ConfigError("--steps is required for an env whose budget is in episodes")
        eval_every = args.eval_every or (stored or {}).get("eval_every") or max(1, steps // DEFAULT_EVALUATIONS)
        first = args.seed if args.seed is not None else ((stored or {}).get("seeds") or [0])[0]
        count = args.seeds or len((stored or {}).get("seeds") or [0])
        self.plan = StudyPlan(
            env=env_id, agent=agent, steps=steps, seeds=list(range(first, first + count)), eval_every=eval_every,
            eval_episodes=args.eval_episodes or (stored or {}).get("eval_episodes") or base.settings.eval_episodes,
            space=space, fixed=fixed, space_lines=sp.describe_space(space, fixed),
            space_record=sp.space_record(space), folder=folder)
        if stored is not None:
            self._check_same(stored)
        self.trials_cap = args.trials or DEFAULT_TRIALS
        self.jobs = args.jobs
        self.timeout = args.timeout
        self.prune = args.pruner == "median"
        startup = args.startup_trials
        warmup = (steps // eval_every) // 3  # zoo: no pruning in the first third of the first run
        self.sampler = optuna.samplers.TPESampler(n_startup_trials=startup, constant_liar=True)
        self.pruner = (optuna.pruners.MedianPruner(n_startup_trials=startup, n_warmup_steps=warmup)
                       if self.prune else optuna.pruners.NopPruner())

    def _stored_record(self) -> dict | None:
        try:
            study_id = self.storage.get_study_id_from_name(self.study_name)
        except KeyError:
            return None
        record = self.storage.get_study_user_attrs(study_id).get(STUDY_ATTR)
        if record is None:
            raise ConfigError(f"study {self.study_name!r} in {self.where} was not made by rl_scratch.tune; "
                              "choose another --study")
        return record

    def _check_same(self, stored: dict) -> None:
        plan = self.plan.record()
        if (stored["env"], stored["agent"]) != (plan["env"], plan["agent"]):
            raise ConfigError(f"study {self.study_name!r} in {self.where} was created for --env "
                              f"{cfg.display_name(stored['env'])} --agent {stored['agent']}, not "
                              f"{cfg.display_name(plan['env'])} {plan['agent']}; run with those, or choose "
                              "another --study")
        for key in ("steps", "seeds", "eval_every", "eval_episodes", "fixed", "space_lines"):
            if _jsonish(stored[key]) != _jsonish(plan[key]):
                what = "search space" if key in ("fixed", "space_lines") else f"--{key.replace('_', '-')}"
                raise ConfigError(f"study {self.study_name!r} was created with another {what} "
                                  f"({stored[key]!r}, now {plan[key]!r}); its trials must stay comparable: "
                                  "leave the flag out to continue it, or choose another --study")

    def study(self):
        """Create the study (or load it: several machines may race to create it; both get the same one)."""
        study = self.optuna.create_study(study_name=self.study_name, storage=self.storage, direction="maximize",
                                         sampler=self.sampler, pruner=self.pruner, load_if_exists=True)
        if STUDY_ATTR not in study.user_attrs:
            study.set_user_attr(STUDY_ATTR, _jsonish(self.plan.record()))
        return study


def _make_folder(folder: Path) -> None:
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise ConfigError(f"cannot create study folder {folder}: {error.strerror or error}") from None
    if not os.access(folder, os.W_OK):
        raise ConfigError(f"cannot write to study folder {folder}")


def _safe(name: str) -> str:
    return "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in name)


def _jsonish(value):
    """Tuples as lists, as they come back from the storage's JSON."""
    import json

    return json.loads(json.dumps(value))


# --------------------------------------------------------------- workers
class Workers:
    def __init__(self, setup: Setup, study):
        self.setup, self.study = setup, study
        self.plan = setup.plan
        self.stop = threading.Event()
        self.started = time.perf_counter()
        self.states = [WorkerState(f"w{i + 1}") for i in range(setup.jobs)]
        TrialState = setup.optuna.trial.TrialState
        self.TrialState = TrialState
        self.counted = (TrialState.COMPLETE, TrialState.PRUNED, TrialState.RUNNING, TrialState.WAITING)
        self.study_id = setup.storage.get_study_id_from_name(setup.study_name)

    def fail_dead_workers(self) -> None:
        """RUNNING trials whose worker process on this host is gone (SIGKILL, power cut): mark them failed."""
        storage = self.setup.storage
        for t in self.study.get_trials(deepcopy=False, states=(self.TrialState.RUNNING,)):
            worker = t.user_attrs.get("worker")
            if st.is_dead(worker):
                trial_id = storage.get_trial_id_from_study_id_trial_number(self.study_id, t.number)
                try:
                    storage.set_trial_user_attr(trial_id, "error", f"its worker (pid {worker['pid']}) died")
                    storage.set_trial_state_values(trial_id, state=self.TrialState.FAIL)
                    _say(f"trial {t.number}: its worker (pid {worker['pid']}) is gone; marked failed")
                except (self.setup.optuna.exceptions.UpdateFinishedTrialError, RuntimeError):
                    pass  # another worker got there first

    def counted_trials(self) -> int:
        """Trials that ran or are running (enqueued WAITING ones are what the next workers will run)."""
        return len(self.study.get_trials(deepcopy=False, states=self.counted[:3]))

    def _objective(self, worker: WorkerState):
        def run(trial):
            try:
                return objective(trial, self.plan, worker, self.stop, self.setup.trials_cap, self.setup.prune,
                                 self.counted)
            except (TrialFailed, Stopped) as error:
                trial.set_user_attr("error", st.mask(str(error)))
                raise
            except OverCap:
                worker.over_cap = True
                raise
        return run

    def _finished(self, study, trial) -> None:
        state = trial.state.name.lower()
        if trial.user_attrs.get("over_cap"):
            return
        seconds = trial.user_attrs.get("seconds", 0.0)
        if trial.state == self.TrialState.COMPLETE:
            text = f"{trial.value:.4g} in {seconds:.1f} s"
        else:
            text = (trial.user_attrs.get("invalid") or _pruned_text(trial.user_attrs.get("pruned_at"))
                    or trial.user_attrs.get("error", "")) + f" ({seconds:.1f} s)"
        _say(f"trial {trial.number} {state}: {text} | {report.params_text(self.plan, trial)}")

    def work(self, worker: WorkerState) -> None:
        while not self.stop.is_set():
            if self.setup.timeout is not None and time.perf_counter() - self.started > self.setup.timeout:
                break
            self.fail_dead_workers()
            if self.counted_trials() >= self.setup.trials_cap:
                break
            self.study.optimize(self._objective(worker), n_trials=1, catch=(TrialFailed, Stopped, OverCap),
                                callbacks=[self._finished])
            if worker.over_cap:
                break

    def progress_line(self) -> str:
        trials = report.shown_trials(self.study)
        count = {s: sum(t.state == s for t in trials) for s in self.TrialState}
        done = count[self.TrialState.COMPLETE] + count[self.TrialState.PRUNED]
        best = report.best_trial(self.study)
        elapsed = time.perf_counter() - self.started
        parts = [f"[{int(elapsed // 60):02d}:{int(elapsed % 60):02d}] {done}/{self.setup.trials_cap} trials done "
                 f"({count[self.TrialState.COMPLETE]} complete, {count[self.TrialState.PRUNED]} pruned, "
                 f"{count[self.TrialState.FAIL]} failed, {count[self.TrialState.RUNNING]} running)",
                 f"best {best.value:.4g} (trial {best.number})" if best else "best -"]
        parts += [w.describe(self.plan.steps) for w in self.states]
        return " | ".join(parts)

    def run(self) -> bool:
        """Run until the cap, the timeout or Ctrl-C; returns whether it was interrupted."""
        threads = [threading.Thread(target=self.work, args=(w,), name=w.name, daemon=True) for w in self.states]
        for thread in threads:
            thread.start()
        last_line = time.perf_counter()
        try:
            while any(thread.is_alive() for thread in threads):
                for thread in threads:
                    thread.join(timeout=0.2)
                if time.perf_counter() - last_line >= PROGRESS_SECONDS:
                    _say(self.progress_line())
                    last_line = time.perf_counter()
        except KeyboardInterrupt:
            _say("Ctrl-C: stopping the workers; their running trials are marked failed (Ctrl-C again: at once)")
            self.stop.set()
            try:
                for thread in threads:
                    thread.join()
            except KeyboardInterrupt:
                for worker in self.states:
                    if worker.pid is not None:
                        os.kill(worker.pid, 9)
                raise
            return True
        return False


def _pruned_text(pruned_at: dict | None) -> str:
    if not pruned_at:
        return ""
    return f"pruned at step {pruned_at['step']} (seed {pruned_at['seed']}, eval {pruned_at['eval']:.3g})"


# ------------------------------------------------------------------- main
def retrain(setup: Setup, number: int, seed: int | None) -> int:
    """Write trial N's config next to the study and train it in a fresh run folder."""
    study = setup.study()
    trials = [t for t in study.get_trials(deepcopy=False) if t.number == number]
    if not trials or not trials[0].params:
        known = [t.number for t in study.get_trials(deepcopy=False) if t.params]
        raise ConfigError(f"study {setup.study_name!r} has no trial {number} with hyperparameters "
                          f"(trials: {_ranges(known) or 'none'})")
    trial = trials[0]
    path = setup.plan.folder / f"trial-{number}.toml"
    value = f"final evaluation {trial.value:.6g}" if trial.value is not None else trial.state.name.lower()
    text = report.trial_config_text(setup.plan, trial, f"Trial {number} of study {setup.study_name}: {value}")
    path.write_text(st.mask(text), encoding="utf-8")
    command = [sys.executable, "-m", "rl_scratch.train", "--config", str(path)]
    if seed is not None:
        command += ["--seed", str(seed)]
    _say(f"Retraining trial {number} ({value}) from {path}:\n  {console.command('train')} --config "
         f"{shlex.quote(str(path))}" + (f" --seed {seed}" if seed is not None else ""))
    return subprocess.call(command, env=child_environment())


def _ranges(numbers: list[int]) -> str:
    return ", ".join(map(str, numbers[:20])) + (" ..." if len(numbers) > 20 else "")


def run_study(setup: Setup) -> int:
    study = setup.study()
    plan = setup.plan
    workers = Workers(setup, study)
    workers.fail_dead_workers()
    already = workers.counted_trials()
    _say(f"Tuning {plan.agent} on {cfg.display_name(plan.env)}: study {setup.study_name} in {setup.where}\n"
         f"  {setup.trials_cap} trials in total ({already} already there), {setup.jobs} worker(s) here, "
         f"{plan.steps} steps x seeds {', '.join(map(str, plan.seeds))} per trial, pruner "
         f"{'median' if setup.prune else 'none'}\n  study folder: {plan.folder}")
    interrupted = workers.run()
    workers.fail_dead_workers()
    _say(workers.progress_line())
    report.write_all(plan, study, setup.study_name, setup.where, setup.storage_flag, setup.out_flag)
    best = report.best_trial(study)
    lines = [f"Report: {plan.folder / report.REPORT_FILE}"]
    if best is not None:
        best_toml = shlex.quote(str(plan.folder / report.BEST_FILE))
        retrain_any = report.tune_command(plan, setup.study_name, setup.storage_flag, " --trial N", setup.out_flag,
                                          program=console.command("tune"))
        lines += [f"Best: trial {best.number}, final evaluation {best.value:.6g}: {report.params_text(plan, best)}",
                  f"Train with it: {console.command('train')} --config {best_toml}",
                  f"Retrain a trial: {retrain_any}"]
    if interrupted:
        lines.append("Stopped; run the same command again to resume the study.")
    _say("\n".join(lines))
    return EXIT_INTERRUPTED if interrupted else 0


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    args = build_parser().parse_args(argv)
    try:
        try:
            import optuna  # noqa: F401
        except ImportError:
            raise ConfigError("the tuner needs Optuna: pip install -e '.[tune]'") from None
        setup = Setup(args)
        if args.trial is not None:
            return retrain(setup, args.trial, args.seed)
        return run_study(setup)
    except ConfigError as error:
        sys.stderr.write(f"error: {st.mask(str(error))}\n")
        return EXIT_USAGE
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED
