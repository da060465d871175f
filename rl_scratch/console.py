"""What the commands print: one-line errors, the progress display, and the final report."""

from __future__ import annotations

import argparse
import os
import shlex
import sys
import time
from pathlib import Path

EXIT_USAGE = 2


def command(name: str) -> str:
    """How to type command `name` ("train", "play", "tune") the way this process was started.

    Through a console script (`rl-scratch-train`) its sibling script, through the package
    (`python -m rl_scratch train`) the same form where the package has that command, else
    `python -m rl_scratch.<name>`: every printed suggestion and config.json's `command` use it.

        started as                      command("play")
        rl-scratch-train ...            rl-scratch-play
        python -m rl_scratch train ...  python -m rl_scratch play
        python -m rl_scratch.train ...  python -m rl_scratch.play
    """
    started_as = Path(sys.argv[0])
    if started_as.name.startswith("rl-scratch-"):
        return f"rl-scratch-{name}"
    if started_as.name == "__main__.py" and started_as.parent.name == "rl_scratch" and name in ("train", "play"):
        return f"python -m rl_scratch {name}"
    return f"python -m rl_scratch.{name}"


def say(text: str) -> None:
    """print, except that a closed stdout (`train ... | head`) silences the output instead of
    ending the run: the rest goes to /dev/null and training carries on."""
    try:
        print(text, flush=True)
    except BrokenPipeError:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())


def error_line(message: str) -> None:
    """The one line a bad input gets on stderr (the caller exits with EXIT_USAGE)."""
    sys.stderr.write(f"error: {message}\n")
    sys.stderr.flush()


class Parser(argparse.ArgumentParser):
    """argparse that reports a bad flag as one `error: ...` line (exit code 2), no usage dump."""

    def error(self, message):
        error_line(f"{message} (see --help)")
        sys.exit(EXIT_USAGE)


# -------------------------------------------------------------- progress
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
            say(f"{where} | {self._summary(record, recent)} | {rate:.0f} steps/s")
            self.last_line_time = now

    def message(self, text: str) -> None:
        if self.bar is not None:
            self.bar.write(text, file=sys.stdout)
        else:
            say(text)

    def close(self, step: int) -> None:
        if self.bar is not None:
            self.bar.update(step - self.bar.n)  # steps after the last finished episode
            self.bar.close()
            self.bar = None


# ---------------------------------------------------------------- report
def final_report(summary: dict, target, state, folder, interrupted: bool) -> str:
    """The lines printed when a run ends: steps, final evaluation, target, held-out report, next commands.

    target: a `rl_scratch.target.Target`; state: the run's TrainerState (best and target steps).
    """
    steps, wall = summary["steps"], summary["wall_time_s"]
    if summary.get("sweeps") is not None:  # a planner solves the env's model and takes no env steps
        lines = [f"\nPlanned in {summary['sweeps']} sweeps of the env's model in {wall:.2f} s (no env steps)"]
    else:
        lines = [f"\n{'Stopped' if interrupted else 'Finished'}: {steps} steps, {summary['episodes']} episodes "
                 f"in {wall:.1f} s ({steps / max(wall, 1e-9):.0f} steps/s overall)"]
        if summary.get("overshoot") and not interrupted:
            lines.append(summary["overshoot"])
    final = summary.get("final")
    if final is not None:
        line = (f"Final policy ({final['n']} deterministic episodes): mean return {final['mean']:.3f} "
                f"+- {final['std']:.3f}, 95% CI [{final['ci_low']:.3f}, {final['ci_high']:.3f}]")
        if summary.get("success_rate") is not None:
            line += f", success rate {100 * summary['success_rate']:.0f}%"
        lines.append(line)
        if summary.get("capped_episodes"):
            lines.append(f"  {summary['capped_episodes']} of them cut at {summary['episode_step_cap']} steps: the env "
                         "has no time limit of its own and the policy did not end them")
        if summary.get("last_evaluations", 0) > 1:
            lines.append(f"Mean of the last {summary['last_evaluations']} evaluations: "
                         f"{summary['mean_last_evaluations']:.3f}")
    if target.value is not None:
        lines.append(target_line(summary, target, state))
    if "report" in summary:
        lines.extend(held_out_lines(summary["report"]))
    if state.best_return is not None:
        lines.append(f"Best evaluation: {state.best_return:.3f} at step {state.best_step} (best.npz)")
    lines.append(f"Run folder: {folder}")
    if interrupted:
        lines.append(f"Resume with: {command('train')} --resume {shlex.quote(str(folder))}"
                     "  (add --steps N for a new total)")
    lines.append(f"Watch it:    {command('play')} {shlex.quote(str(folder))}")
    return "\n".join(lines)


def target_line(summary: dict, target, state) -> str:
    """The verdict on the final policy: says "Reached" only when its 95% interval reaches the target."""
    what = target.describe()
    verdict = summary.get("target_verdict")
    if verdict == "at":
        line = f"Reached the {what} with the final policy."
    elif verdict == "within noise":
        line = (f"The final policy is within evaluation noise of the {what}: its mean "
                f"{summary['final']['mean']:.3f} is below, its 95% interval reaches it.")
    else:
        line = f"The final policy is below the {what}."
    if state.target_step is not None:
        kept = "" if verdict in ("at", "within noise") else ", and did not keep it"
        line += (f" An evaluation first reached it at step {state.target_step} "
                 f"({state.target_wall_time:.1f} s){kept}.")
    if verdict not in ("at", "within noise"):
        line += " Train longer (--steps) or change hyperparameters (--set)."
    return line


def held_out_lines(report: dict) -> list:
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
