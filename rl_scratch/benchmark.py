"""Run a matrix of envs x agents x seeds and write a report you can read and re-run.

    python -m rl_scratch.benchmark --envs GridWorld,CartPole-v1 --agents default,dqn --seeds 1-5 --jobs 2
    python -m rl_scratch.benchmark --preset readme --jobs 2 --out docs/benchmark --readme README.md

Every cell is one `python -m rl_scratch.train` run (the same `main`, in a fresh worker
process forked from this one: `--jobs` at a time, NumPy's BLAS on one thread each
unless an *_NUM_THREADS variable says otherwise, so N workers use N cores), with the
env's and agent's own defaults and budget unless `--steps`/`--set` say otherwise.
Results are judged by the *final* policy: a seed succeeds when the 95% interval of
its final evaluation reaches the env's optimum or reward threshold.

The report folder holds

    report.md            a table per env (final score over seeds: mean, 95% bootstrap
                         interval, interquartile mean, successes, steps and wall time to
                         the target), the learning curves, and the command of every cell
    results.csv          one row per cell (env, agent, seed) with its final numbers
    curves/<env>.png     evaluation return vs env steps, mean and 95% band per agent
    curves/<env>.csv     those curves, per seed
    runs/<cell>/         each cell's run folder (config.json, metrics.csv, evaluations.csv, eval.json, ...)

A cell whose run folder already holds a finished run of the same command, trained with
the settings and hyperparameters that command resolves to now, is not run again, so an
interrupted matrix continues where it stopped; a run made before a tuned entry or a
default changed is run again (the progress line says what changed).
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import dataclasses
import datetime
import importlib
import json
import multiprocessing
import os
import shlex
import shutil
import sys
import time
from pathlib import Path

import numpy as np

from rl_scratch import config as cfg
from rl_scratch import runs
from rl_scratch import stats
from rl_scratch.config import ConfigError
from rl_scratch.runtime import configure_for_small_networks

EXIT_USAGE = 2
CELL_FILE = "cell.json"  # in each run folder: the command that made it, to know whether to run it again
LOG_FILE = "train.log"
GRID_POINTS = 100
# --readme rewrites the lines between these markers, named by the preset (or "tables").
README_BEGIN = "<!-- benchmark:{} begin -->"
README_END = "<!-- benchmark:{} end -->"

_GRID_MAPS = ("GridWorld", "GridWorld-Slippery", "GridWorld-8x8", "GridWorld-FourRooms", "GridWorld-Cliff",
              "GridWorld-Maze", "GridWorld-Large")
# (env, agent) pairs of a preset; "default" is the env's default agent. Seeds 1-5 unless --seeds.
PRESETS: dict[str, list[tuple[str, str]]] = {
    # The README's agent tables: the deep agents on the two control tasks, Q-learning on the
    # toy-text tasks, each listed GridWorld map with its default agent, and the memory task
    # with its default (PPO, attention over the last 6 observations).
    "readme": [*((env, agent) for env in ("CartPole-v1", "Acrobot-v1") for agent in ("dqn", "ppo", "a2c", "reinforce")),
               ("FrozenLake-v1", "qlearning"), ("Taxi-v4", "qlearning"),
               *((grid, "default") for grid in _GRID_MAPS), ("CueCorridor", "default")],
    # Its two halves: the control tasks (minutes per run) and the tabular tasks (seconds).
    "control": [(env, agent) for env in ("CartPole-v1", "Acrobot-v1") for agent in ("dqn", "ppo", "a2c", "reinforce")],
    "tabular": [("FrozenLake-v1", "qlearning"), ("Taxi-v4", "qlearning"), *((grid, "default") for grid in _GRID_MAPS)],
}


class _Parser(argparse.ArgumentParser):
    def error(self, message):
        sys.stderr.write(f"error: {message} (see --help)\n")
        sys.exit(EXIT_USAGE)


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="python -m rl_scratch.benchmark",
                description="Train every (env, agent, seed) of a matrix in worker processes and write a report "
                            "judged by the final policies.")
    p.add_argument("--envs", help="comma-separated envs (short names or Gymnasium ids)")
    p.add_argument("--agents", default="default",
                   help="comma-separated agents; 'default' is each env's default agent (default: default)")
    p.add_argument("--preset", choices=sorted(PRESETS), help="a named list of (env, agent) cells instead of "
                                                             "--envs x --agents")
    p.add_argument("--seeds", default="1-5", help="seeds: 1-5, or 1,2,7 (default 1-5)")
    p.add_argument("--jobs", type=int, default=1, help="worker processes at once (default 1)")
    p.add_argument("--steps", type=int, help="budget of every cell (default: each (agent, env)'s own)")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="passed to every cell's train command (an agent hyperparameter)")
    p.add_argument("--out", help="report folder (default: benchmarks/<date>-<time>)")
    p.add_argument("--readme", metavar="FILE", help="also rewrite the lines between FILE's (README.md's) "
                                                    "'<!-- benchmark:PRESET begin -->' and '... end -->' markers "
                                                    "(PRESET: the --preset, else 'tables') with the report's tables")
    p.add_argument("--with-sb3", action="store_true", help="also run Stable-Baselines3's PPO, A2C or DQN on the "
                                                           "same cells (needs stable-baselines3)")
    return p


# ------------------------------------------------------------------ cells
@dataclasses.dataclass(frozen=True)
class Cell:
    env_id: str
    agent: str
    """our agent's name, or sb3-<name> for a Stable-Baselines3 reference run"""
    seed: int
    argv: tuple[str, ...]
    """the module and flags that run it: ("rl_scratch.train", "--env", ...)"""
    folder: Path
    config: str | None = None
    """for our agents: the JSON of what the command trains with now (settings and hyperparameters)"""

    @property
    def command(self) -> str:
        return "python -m " + " ".join(shlex.quote(a) for a in self.argv)


def parse_seeds(text: str) -> list[int]:
    seeds = []
    try:
        for part in text.split(","):
            part = part.strip()
            if "-" in part:
                low, high = (int(x) for x in part.split("-", 1))
                seeds.extend(range(low, high + 1))
            elif part:
                seeds.append(int(part))
    except ValueError:
        raise ConfigError(f"--seeds {text!r}: expected a range like 1-5 or a list like 1,2,7") from None
    if not seeds or any(s < 0 for s in seeds):
        raise ConfigError(f"--seeds {text!r}: expected non-negative seeds, e.g. 1-5")
    return list(dict.fromkeys(seeds))


def default_agent(env_id: str) -> str:
    """The agent `train` picks for this env without --agent."""
    table = cfg.ENV_DEFAULTS.get(env_id)
    if table is not None:
        return table.agent
    probe = cfg.make_env(env_id, {})
    try:
        return cfg.env_defaults(env_id, probe).agent
    finally:
        probe.close()


def plan_cells(pairs: list[tuple[str, str]], seeds: list[int], out: Path, steps: int | None,
               assignments: list[str], with_sb3: bool) -> list[Cell]:
    """The matrix as cells, checking every env and agent name before anything runs."""
    cells = []
    for env_name, agent_name in pairs:
        env_id = cfg.resolve_env_id(env_name)
        agent = default_agent(env_id) if agent_name.lower() == "default" else cfg.agent_class(agent_name).name
        agents = [agent]
        if with_sb3 and agent in SB3_AGENTS:
            agents.append("sb3-" + agent)
        for name in agents:
            for seed in seeds:
                folder = out / "runs" / f"{cfg.display_name(env_id).replace('/', '_')}-{name}-s{seed}"
                if name.startswith("sb3-"):
                    argv = ["rl_scratch.benchmark_sb3", "--env", env_id, "--agent", agent, "--seed", str(seed),
                            "--out", str(folder)]
                else:
                    argv = ["rl_scratch.train", "--env", env_id, "--agent", name, "--seed", str(seed),
                            "--out", str(folder)]
                    for item in assignments:
                        argv += ["--set", item]
                if steps is not None:
                    argv += ["--steps", str(steps)]
                config = None
                if argv[0] == "rl_scratch.train":
                    from rl_scratch.train import resolve_command

                    config = json.dumps(resolve_command(argv[1:]).to_json(), default=runs.json_default,
                                        sort_keys=True)
                cells.append(Cell(env_id, name, seed, tuple(argv), folder, config))
    return cells


SB3_AGENTS = ("ppo", "a2c", "dqn")


def changed_settings(cell: Cell) -> list[str]:
    """What the cell's command trains with now that its finished run did not ("lr: 0.001 -> 0.003")."""
    if cell.config is None:
        return []
    try:
        before = runs.read_json(cell.folder / runs.CONFIG_FILE)
    except runs.RunFolderError:
        return ["no config.json"]
    now = json.loads(cell.config)
    flat_before = {**before, **before.get("hyperparameters", {})}
    flat_now = {key: value for key, value in {**now, **now["hyperparameters"]}.items() if key != "hyperparameters"}
    return [f"{key}: {_short(flat_before.get(key, 'unset'))} -> {_short(value)}"
            for key, value in flat_now.items() if flat_before.get(key, "unset") != value]


def _short(value) -> str:
    text = json.dumps(value)
    return text if len(text) <= 40 else text[:37] + "..."


def finished_command(cell: Cell) -> bool:
    """Whether the cell's folder holds a finished run of exactly this command (its settings: changed_settings)."""
    try:
        return (runs.read_json(cell.folder / CELL_FILE).get("argv") == list(cell.argv)
                and (cell.folder / runs.SUMMARY_FILE).exists())
    except runs.RunFolderError:
        return False


def run_cell(cell: Cell) -> dict:
    """Runs one cell in this (worker) process, its output in a log file; returns its result row.

    The worker is forked from the benchmark, so it starts with the package already imported
    and BLAS on one thread; the run is exactly what `cell.command` does in a shell.
    """
    # Reused when it finished this command with the settings the command resolves to now.
    changed = changed_settings(cell) if (cell.folder / runs.SUMMARY_FILE).exists() else []
    reused = finished_command(cell) and not changed
    if not reused:
        shutil.rmtree(cell.folder, ignore_errors=True)  # a run cut short: start it again
        cell.folder.parent.mkdir(parents=True, exist_ok=True)
        log_path = cell.folder.parent / f"{cell.folder.name}.log"
        module = importlib.import_module(cell.argv[0])
        with open(log_path, "w", encoding="utf-8") as log, contextlib.redirect_stdout(log), \
                contextlib.redirect_stderr(log):
            try:
                code = module.main(list(cell.argv[1:]))
            except SystemExit as stop:  # argparse
                code = stop.code
            except Exception as error:  # a crash in one cell must not end the matrix
                code = f"{type(error).__name__}: {error}"
        if code != 0 or not (cell.folder / runs.SUMMARY_FILE).exists():
            tail = log_path.read_text(encoding="utf-8", errors="replace").strip().splitlines()[-3:]
            return {"cell": cell, "error": f"exit {code}: " + " | ".join(tail)}
        shutil.move(str(log_path), cell.folder / LOG_FILE)
        runs.atomic_write_json(cell.folder / CELL_FILE, {"argv": list(cell.argv)})
    return {"cell": cell, "reused": reused, "changed": changed, **read_cell_outcome(cell.folder)}


def read_cell_outcome(folder: Path) -> dict:
    """The final numbers of one run folder."""
    summary = runs.read_json(folder / runs.SUMMARY_FILE)
    final = summary.get("final") or {}
    evaluations = runs.read_csv(folder / runs.EVALUATIONS_FILE)
    return {
        "final_mean": summary.get("mean_return"),
        "final_ci_low": final.get("ci_low"), "final_ci_high": final.get("ci_high"),
        "last_evals_mean": summary.get("mean_last_evaluations"),
        "best_eval": summary.get("best_eval_return"),
        "reached": bool(summary.get("reached_target")),
        "target": summary["optimum"] if summary.get("optimum") is not None else summary.get("reward_threshold"),
        "first_target_step": summary.get("target_reached_at_step"),
        "first_target_s": summary.get("target_reached_after_s"),
        "steps": summary.get("steps"), "wall_time_s": summary.get("wall_time_s"),
        "curve": (evaluations.get("step", []), evaluations.get("mean_return", [])),
    }


# ----------------------------------------------------------------- report
RESULT_COLUMNS = ("env", "agent", "seed", "final_mean", "final_ci_low", "final_ci_high", "last_evals_mean",
                  "best_eval", "target", "reached", "first_target_step", "first_target_s", "steps", "wall_time_s",
                  "folder", "command")


def _fmt(value, digits: int = 3) -> str:
    if value is None:
        return "-"
    if abs(value) >= 1000:
        return f"{value:,.0f}"
    return f"{value:.{digits}f}".rstrip("0").rstrip(".") or "0"


def _median(values):
    values = [v for v in values if v is not None]
    return float(np.median(values)) if values else None


def env_table(env_id: str, rows: list[dict]) -> list[str]:
    """The Markdown table of one env: one line per agent, final scores over seeds."""
    target = next((r["target"] for r in rows if r.get("target") is not None), None)
    lines = [f"### {cfg.display_name(env_id)}" + (f" (target {_fmt(target)})" if target is not None else ""), "",
             "| agent | seeds | final return: mean [95% CI] | IQM | per seed | successes | "
             "env steps to target | wall time to target | budget | wall time per run |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for agent in dict.fromkeys(r["agent"] for r in rows):
        group = [r for r in rows if r["agent"] == agent and "error" not in r]
        failed = len([r for r in rows if r["agent"] == agent]) - len(group)
        if not group:
            lines.append(f"| {agent} | 0 | {failed} failed | | | | | | | |")
            continue
        finals = [r["final_mean"] for r in group]
        summary = stats.summarize(finals)
        reached = [r for r in group if r["reached"]]
        first = [r["first_target_step"] for r in group]
        first_s = [r["first_target_s"] for r in group]
        hit = sum(step is not None for step in first)
        steps_text = f"{_median(first):,.0f} (median of {hit})" if hit else "never"
        time_text = f"{_fmt(_median(first_s), 3)} s" if hit else "-"
        lines.append(
            f"| {agent} | {len(group)}{f' (+{failed} failed)' if failed else ''} | "
            f"{_fmt(summary['mean'])} [{_fmt(summary['ci_low'])}, {_fmt(summary['ci_high'])}] | "
            f"{_fmt(stats.iqm(finals))} | {', '.join(_fmt(v) for v in finals)} | {len(reached)}/{len(group)} | "
            f"{steps_text} | {time_text} | {_median([r['steps'] for r in group]):,.0f} | "
            f"{_fmt(_median([r['wall_time_s'] for r in group]), 3)} s |")
    return lines


def curve_grid(rows: list[dict]):
    """Each seed's evaluation curve on a shared step grid (from 0 to the shortest run's last evaluation)."""
    curves = [r["curve"] for r in rows if "error" not in r and len(r["curve"][0]) >= 1]
    if not curves:
        return None, None
    end = min(steps[-1] for steps, _ in curves)
    grid = np.linspace(min(steps[0] for steps, _ in curves), end, GRID_POINTS) if end > 0 else np.zeros(1)
    values = np.array([np.interp(grid, steps, returns) for steps, returns in curves])
    return grid, values


def write_curves(env_id: str, rows: list[dict], folder: Path) -> Path | None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    name = cfg.display_name(env_id).replace("/", "_")
    fig, ax = plt.subplots(figsize=(8, 4.5), dpi=100)
    table_rows = []
    drawn = False
    for color, agent in zip(plt.rcParams["axes.prop_cycle"].by_key()["color"] * 4,
                            dict.fromkeys(r["agent"] for r in rows)):
        group = [r for r in rows if r["agent"] == agent]
        grid, values = curve_grid(group)
        if grid is None:
            continue
        for r in group:
            if "error" not in r:
                table_rows.extend((agent, r["cell"].seed, s, v) for s, v in zip(*r["curve"]))
        mean = values.mean(axis=0)
        band = np.array([stats.bootstrap_ci(column, resamples=2000) for column in values.T])
        ax.plot(grid, mean, color=color, linewidth=2, label=f"{agent} ({len(values)} seeds)")
        ax.fill_between(grid, band[:, 0], band[:, 1], color=color, alpha=0.2)
        drawn = True
    target = next((r["target"] for r in rows if r.get("target") is not None), None)
    if target is not None:
        ax.axhline(target, color="gray", linestyle="--", linewidth=1, label=f"target {_fmt(target)}")
    ax.set_xlabel("environment steps")
    ax.set_ylabel("evaluation return (mean, 95% CI over seeds)")
    ax.set_title(cfg.display_name(env_id))
    ax.grid(alpha=0.3)
    if drawn:
        ax.legend(loc="lower right", fontsize=8)
    fig.tight_layout()
    (folder / "curves").mkdir(parents=True, exist_ok=True)
    path = folder / "curves" / f"{name}.png"
    runs.save_png(fig, path)
    with open(folder / "curves" / f"{name}.csv", "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(("agent", "seed", "step", "mean_return"))
        writer.writerows(table_rows)
    return path


def write_report(results: list[dict], folder: Path, command: str, wall: float) -> str:
    """report.md, results.csv and the curves; returns the tables' Markdown (for --readme)."""
    with open(folder / "results.csv", "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(RESULT_COLUMNS)
        for r in results:
            c = r["cell"]
            values = {"env": c.env_id, "agent": c.agent, "seed": c.seed, "folder": c.folder, "command": c.command,
                      **r}
            writer.writerow(["" if values.get(k) is None else values.get(k) for k in RESULT_COLUMNS])
    tables = []
    sections = []
    for env_id in dict.fromkeys(r["cell"].env_id for r in results):
        rows = [{"agent": r["cell"].agent, **r} for r in results if r["cell"].env_id == env_id]
        table = env_table(env_id, rows)
        tables.extend([*table, ""])
        curve = write_curves(env_id, rows, folder)
        sections.extend([*table, ""])
        if curve is not None:
            sections.extend([f"![{cfg.display_name(env_id)} learning curves](curves/{curve.name})", ""])
        sections.append("Re-run a cell:")
        sections.append("")
        sections.extend(f"    {r['cell'].command}" for r in results if r["cell"].env_id == env_id)
        errors = [r for r in results if r["cell"].env_id == env_id and "error" in r]
        sections.extend(["", *(f"- failed: `{r['cell'].command}`: {r['error']}" for r in errors)] if errors else [])
        sections.append("")
    reused = sum(bool(r.get("reused")) for r in results)
    made = (f"Made by `{command}` on {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC, "
            f"{os.cpu_count()} CPU cores shared with other work, {wall:.0f} s"
            + (f" ({reused} of {len(results)} runs reused from the report folder, finished by an earlier invocation)."
               if reused else "."))
    legend = ("Final return: each seed's final policy, evaluated deterministically at the end of its budget; "
              "mean over seeds with a 95% percentile-bootstrap interval, and the interquartile mean (rliable). "
              "A success is a seed whose final evaluation's 95% interval reaches the target (the optimum from "
              "value iteration where the env has a model, else Gymnasium's reward threshold). Steps and wall time "
              "to target: the first periodic evaluation that reached it (median over the seeds that did), "
              "which says nothing about whether the policy kept it.")
    text = "\n".join(["# Benchmark report", "", made, "", legend, "", *sections])
    (folder / "report.md").write_text(text, encoding="utf-8")
    return "\n".join([made, "", *tables]).rstrip() + "\n"


def update_readme(path: Path, tables: str, block: str) -> None:
    """Replaces the lines between the block's two markers in `path` with `tables`."""
    text = path.read_text(encoding="utf-8")
    start, stop = README_BEGIN.format(block), README_END.format(block)
    begin, end = text.find(start), text.find(stop)
    if begin < 0 or end < begin:
        raise ConfigError(f"{path} has no '{start}' ... '{stop}' block to rewrite")
    path.write_text(text[:begin + len(start)] + "\n" + tables + text[end:], encoding="utf-8")


# -------------------------------------------------------------------- run
def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    args = build_parser().parse_args(argv)
    try:
        if args.jobs < 1:
            raise ConfigError(f"--jobs must be a positive integer, got {args.jobs}")
        if args.steps is not None and args.steps < 1:
            raise ConfigError(f"--steps must be a positive integer, got {args.steps}")
        if args.preset and args.envs:
            raise ConfigError("--preset names its own envs and agents; drop --envs (or --preset)")
        if args.preset:
            pairs = PRESETS[args.preset]
        elif args.envs:
            pairs = [(e.strip(), a.strip()) for e in args.envs.split(",") if e.strip()
                     for a in args.agents.split(",") if a.strip()]
        else:
            raise ConfigError("say what to run: --envs CartPole-v1,GridWorld [--agents ppo,dqn] or --preset readme")
        if args.with_sb3:
            try:
                import stable_baselines3  # noqa: F401  (only checks that it is installed)
            except ImportError:
                raise ConfigError("--with-sb3 needs stable-baselines3: pip install -e '.[bench]'") from None
        readme = Path(args.readme) if args.readme else None
        block = args.preset or "tables"
        if readme is not None and README_BEGIN.format(block) not in (
                readme.read_text(encoding="utf-8") if readme.exists() else ""):
            raise ConfigError(f"--readme {readme}: no '{README_BEGIN.format(block)}' marker in it (or no such file)")
        seeds = parse_seeds(args.seeds)
        out = Path(args.out or f"benchmarks/{datetime.datetime.now():%Y%m%d-%H%M%S}")
        cells = plan_cells(pairs, seeds, out, args.steps, args.set, args.with_sb3)
        out.mkdir(parents=True, exist_ok=True)
        if not os.access(out, os.W_OK):
            raise ConfigError(f"cannot write to report folder {out}")
    except ConfigError as error:
        sys.stderr.write(f"error: {error}\n")
        return EXIT_USAGE
    except OSError as error:
        sys.stderr.write(f"error: cannot use report folder: {error.strerror or error}\n")
        return EXIT_USAGE

    command = "python -m rl_scratch.benchmark " + " ".join(shlex.quote(a) for a in argv)
    print(f"Benchmark: {len(cells)} runs ({len({(c.env_id, c.agent) for c in cells})} env/agent pairs x "
          f"{len(seeds)} seeds), {args.jobs} at a time; report in {out}", flush=True)
    start = time.perf_counter()
    results: list[dict] = []

    def finished(result: dict) -> None:
        results.append(result)
        c, elapsed = result["cell"], time.perf_counter() - start
        left = elapsed / len(results) * (len(cells) - len(results))
        if "error" in result:
            what = f"FAILED ({result['error']})"
        else:
            verdict = "target reached" if result["reached"] else "below target"
            what = f"final {_fmt(result['final_mean'])} ({verdict}), {_fmt(result['wall_time_s'], 3)} s"
            if result.get("changed"):
                what += f" (run again: its earlier run had other settings, {'; '.join(result['changed'][:3])})"
        print(f"[{len(results)}/{len(cells)}] {cfg.display_name(c.env_id)} {c.agent} seed {c.seed}: {what} "
              f"| {elapsed:.0f} s elapsed, about {left:.0f} s left", flush=True)

    configure_for_small_networks()  # inherited by the forked workers: one BLAS thread each
    for module in {c.argv[0] for c in cells}:  # imported once here, not once per cell
        importlib.import_module(module)
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot  # noqa: F401  (each run draws its learning curve)

    methods = multiprocessing.get_all_start_methods()
    context = multiprocessing.get_context("fork" if "fork" in methods else None)
    pool = context.Pool(args.jobs, maxtasksperchild=1)  # a fresh process per cell
    try:
        for result in pool.imap_unordered(run_cell, cells):
            finished(result)
        pool.close()
    except KeyboardInterrupt:
        pool.terminate()
        print("Interrupted: finished cells are kept; the same command continues the matrix.", flush=True)
        return 130
    finally:
        pool.join()
    order = {c: i for i, c in enumerate(cells)}
    results.sort(key=lambda r: order[r["cell"]])
    tables = write_report(results, out, command, time.perf_counter() - start)
    if readme is not None:
        update_readme(readme, tables, block)
        print(f"Rewrote the benchmark tables in {readme}")
    print(tables)
    print(f"Report: {out / 'report.md'}")
    return 1 if any("error" in r for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
