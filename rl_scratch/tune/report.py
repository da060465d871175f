"""The study folder's summary, rebuilt from the storage after every tuner run.

    report.md        best value and hyperparameters, how to retrain, the space, every trial
    history.png      objective per trial and the best so far (pruned trials at their last evaluation)
    importance.png   parameter importances (Optuna's PED-ANOVA evaluator)
    best.toml        the best trial as a trainer config: `train --config best.toml` runs it as is

Everything written goes through `mask()`: a storage password never reaches a file.
"""

from __future__ import annotations

import os
import shlex
import warnings
from pathlib import Path

from rl_scratch.config import display_name
from rl_scratch.runs import save_png

from . import space as sp
from .storage import mask
from .trial import StudyPlan

REPORT_FILE, HISTORY_FILE, IMPORTANCE_FILE, BEST_FILE = "report.md", "history.png", "importance.png", "best.toml"


def _write(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(mask(text), encoding="utf-8")
    os.replace(tmp, path)


def shown_trials(study) -> list:
    """Every trial except those created past the --trials cap by a race between workers (never run)."""
    return [t for t in study.get_trials(deepcopy=False) if not t.user_attrs.get("over_cap")]


def best_trial(study):
    import optuna

    complete = [t for t in study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,))]
    return max(complete, key=lambda t: (t.value, -t.number)) if complete else None


def tune_command(plan: StudyPlan, study_name: str, storage_flag: str | None, extra: str = "",
                 out_flag: str | None = None, program: str = "python -m rl_scratch.tune") -> str:
    """The tune command of this study (report.md writes `python -m`; printed lines, the command as typed)."""
    parts = [program, "--env", shlex.quote(display_name(plan.env)), "--agent", plan.agent,
             "--study", shlex.quote(study_name)]
    if out_flag is not None:
        parts += ["--out", shlex.quote(out_flag)]
    if storage_flag is not None:
        parts += ["--storage", shlex.quote(mask(storage_flag))]
    return " ".join(parts) + extra


def trial_config_text(plan: StudyPlan, trial, header: str) -> str:
    return sp.config_toml(plan.settings(seed=plan.seeds[0]), plan.hyperparameters(trial.params), header)


def write_best(plan: StudyPlan, study, study_name: str) -> Path | None:
    trial = best_trial(study)
    path = plan.folder / BEST_FILE
    if trial is None:
        return None
    header = (f"Best trial {trial.number} of study {study_name}: final evaluation {trial.value:.6g} "
              f"(mean over seeds {', '.join(map(str, plan.seeds))}).\n"
              f"Train it:  python -m rl_scratch.train --config {path}\n"
              "Other seeds: add --seed S.")
    _write(path, trial_config_text(plan, trial, header))
    return path


def _duration(trial) -> str:
    seconds = trial.user_attrs.get("seconds")
    if seconds is None and trial.datetime_start is not None and trial.datetime_complete is not None:
        seconds = (trial.datetime_complete - trial.datetime_start).total_seconds()
    return f"{seconds:.1f}" if seconds is not None else ""


def params_text(plan: StudyPlan, trial) -> str:
    if not trial.params:
        return ""
    try:
        values = sp.hyperparameters_from_params(trial.params, plan.space_record, plan.steps)
    except (KeyError, ValueError):  # a trial stopped while sampling: show what it has
        values = dict(trial.params)
    return " ".join(f"{k}={sp.choice_label(v) if isinstance(v, tuple) else (f'{v:.3g}' if isinstance(v, float) else v)}"
                    for k, v in values.items())


def _note(trial) -> str:
    attrs = trial.user_attrs
    if "invalid" in attrs:
        return "invalid: " + attrs["invalid"]
    if "pruned_at" in attrs:
        p = attrs["pruned_at"]
        return f"pruned at step {p['step']} (seed {p['seed']}, eval {p['eval']:.3g})"
    if "error" in attrs:
        return attrs["error"]
    if "scores" in attrs and len(attrs["scores"]) > 1:
        return "seeds: " + ", ".join(f"{s:.3g}" for s in attrs["scores"])
    return ""


def write_report(plan: StudyPlan, study, study_name: str, where: str, storage_flag: str | None,
                 out_flag: str | None = None) -> Path:
    import optuna

    trials = shown_trials(study)
    states = {}
    for t in trials:
        states[t.state.name.lower()] = states.get(t.state.name.lower(), 0) + 1
    best = best_trial(study)
    lines = [f"# Study {study_name}: {plan.agent} on {display_name(plan.env)}", "",
             f"- storage: {where}",
             f"- each trial: {plan.steps} training steps per seed, seeds {', '.join(map(str, plan.seeds))}, "
             f"evaluated every {plan.eval_every} steps on {plan.eval_episodes} deterministic episodes",
             "- objective: the final evaluation's mean return, averaged over the seeds (maximized); "
             "TPE sampler, median pruner on the periodic evaluations",
             f"- trials: {len(trials)} (" + ", ".join(f"{n} {s}" for s, n in sorted(states.items())) + ")", ""]
    if best is None:
        lines += ["No trial has completed yet.", ""]
    else:
        hyper = plan.hyperparameters(best.params)
        lines += [f"## Best: trial {best.number}, final evaluation {best.value:.6g}", "",
                  "| hyperparameter | value |", "|---|---|"]
        lines += [f"| {k} | {sp.choice_label(v) if isinstance(v, tuple) else v} |" for k, v in hyper.items()]
        targets = best.user_attrs.get("target_steps")
        if targets:
            lines += ["", "First evaluation at the target (per seed, steps): "
                      + ", ".join("never" if s is None else str(s) for s in targets)]
        lines += ["", "Train with it (the same seed gives the same score):", "",
                  f"    python -m rl_scratch.train --config {plan.folder / BEST_FILE}", "",
                  "Retrain any trial N from the study:", "",
                  "    " + tune_command(plan, study_name, storage_flag, f" --trial {best.number}", out_flag), ""]
    lines += ["## Search space", ""] + [f"- {line}" for line in plan.space_lines] + [""]
    lines += [f"![optimization history]({HISTORY_FILE})", "", f"![parameter importances]({IMPORTANCE_FILE})", ""]
    lines += ["## Trials", "", "| trial | state | value | seconds | hyperparameters | note |",
              "|---|---|---|---|---|---|"]
    for t in trials:
        value = f"{t.value:.4g}" if t.state == optuna.trial.TrialState.COMPLETE else ""
        lines.append(f"| {t.number} | {t.state.name.lower()} | {value} | {_duration(t)} | {params_text(plan, t)} "
                     f"| {_note(t).replace('|', '/')} |")
    path = plan.folder / REPORT_FILE
    _write(path, "\n".join(lines) + "\n")
    return path


def plot_history(plan: StudyPlan, study, study_name: str) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import optuna

    trials = shown_trials(study)
    complete = [t for t in trials if t.state == optuna.trial.TrialState.COMPLETE]
    pruned = [t for t in trials if t.state == optuna.trial.TrialState.PRUNED and t.intermediate_values]
    fig, ax = plt.subplots(figsize=(7, 4), dpi=100)
    if complete:
        ax.scatter([t.number for t in complete], [t.value for t in complete], label="final evaluation", zorder=3)
        best, xs, ys = -float("inf"), [], []
        for t in sorted(complete, key=lambda t: t.number):
            best = max(best, t.value)
            xs.append(t.number)
            ys.append(best)
        ax.step(xs, ys, where="post", color="C1", label="best so far")
    if pruned:
        ax.scatter([t.number for t in pruned], [t.intermediate_values[max(t.intermediate_values)] for t in pruned],
                   marker="x", color="0.5", label="pruned (last evaluation)")
    if not complete and not pruned:
        ax.text(0.5, 0.5, "no finished trials yet", ha="center", va="center", transform=ax.transAxes)
    ax.set_xlabel("trial")
    ax.set_ylabel("mean return")
    ax.set_title(f"{study_name}: optimization history")
    if complete or pruned:
        ax.legend(loc="lower right")
    fig.tight_layout()
    path = plan.folder / HISTORY_FILE
    save_png(fig, path)
    return path


def plot_importance(plan: StudyPlan, study, study_name: str) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import optuna

    importances, why = {}, ""
    complete = study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,))
    if len(complete) < 2:
        why = "needs at least 2 completed trials"
    else:
        try:
            # PED-ANOVA: NumPy only (fANOVA would need scikit-learn) and deterministic
            evaluator = optuna.importance.PedAnovaImportanceEvaluator()
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # "too few trials" notes: the plot title says how many
                importances = optuna.importance.get_param_importances(study, evaluator=evaluator)
        except (ValueError, RuntimeError, ZeroDivisionError) as error:  # e.g. all trials with the same parameters
            why = f"not computable yet ({error})"
    fig, ax = plt.subplots(figsize=(7, max(2.5, 0.4 * len(importances) + 1)), dpi=100)
    if importances:
        names = list(importances)[::-1]
        ax.barh(names, [importances[n] for n in names])
        ax.set_xlabel("importance (PED-ANOVA)")
    else:
        ax.text(0.5, 0.5, why, ha="center", va="center", transform=ax.transAxes)
        ax.set_axis_off()
    ax.set_title(f"{study_name}: parameter importances ({len(complete)} completed trials)")
    fig.tight_layout()
    path = plan.folder / IMPORTANCE_FILE
    save_png(fig, path)
    return path


def write_all(plan: StudyPlan, study, study_name: str, where: str, storage_flag: str | None,
              out_flag: str | None = None) -> list[Path]:
    paths = [write_report(plan, study, study_name, where, storage_flag, out_flag),
             plot_history(plan, study, study_name), plot_importance(plan, study, study_name)]
    best = write_best(plan, study, study_name)
    return paths + ([best] if best else [])
