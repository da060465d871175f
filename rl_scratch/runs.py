"""Run folders: where a training run keeps its config, metrics, checkpoints and pictures.

A run folder (`runs/<env>-<agent>-<timestamp>/`) holds

    config.json          the resolved configuration and the command line(s) that made it
    metrics.csv          one row per training episode (METRIC_COLUMNS)
    evaluations.csv      one row per periodic evaluation (EVAL_COLUMNS)
    checkpoint.npz       the latest agent (saved periodically and at the end)
    best.npz             the agent with the best periodic evaluation so far
    trainer_state.json   what `--resume` needs beyond the agent: best score, wall time
    learning_curve.png   return vs steps (a planner: its value change per sweep)
    eval.json            the final evaluation summary

Every file that is rewritten goes through a temporary file and `os.replace`, so a
crash leaves the previous version or the new one, never half of one. The CSV logs
are appended to; a run resumed after a crash first cuts them back to its
checkpoint (`truncate_log`), so no episode is logged twice.
"""

from __future__ import annotations

import contextlib
import csv
import errno
import json
import math
import time
from pathlib import Path

from rl_scratch.nets import atomic_open

# The library side: reading a run folder's files (the trainer writes them).
__all__ = ["read_csv", "read_json", "smooth", "RunFolderError", "RUN_FILES", "METRIC_COLUMNS", "EVAL_COLUMNS"]

CONFIG_FILE = "config.json"
METRICS_FILE = "metrics.csv"
EVALUATIONS_FILE = "evaluations.csv"
CHECKPOINT_FILE = "checkpoint.npz"
BEST_FILE = "best.npz"
STATE_FILE = "trainer_state.json"
CURVE_FILE = "learning_curve.png"
SUMMARY_FILE = "eval.json"
RUN_FILES = (CONFIG_FILE, METRICS_FILE, EVALUATIONS_FILE, CHECKPOINT_FILE, BEST_FILE, STATE_FILE, CURVE_FILE,
             SUMMARY_FILE)

# wall_time is last and the only column that differs between two runs with the same seed.
METRIC_COLUMNS = ("step", "episode", "return", "length", "loss", "epsilon", "entropy", "lr", "wall_time")
EVAL_COLUMNS = ("step", "episode", "mean_return", "std_return", "success_rate", "wall_time")


class RunFolderError(Exception):
    """A run folder cannot be created, written or read; the message says which and why.

        >>> read_json("no-such-run/eval.json")
        Traceback (most recent call last):
        ...
        rl_scratch.runs.RunFolderError: no-such-run/eval.json does not exist
    """


class DiskWriteError(RunFolderError):
    """Writing a run file failed (full disk, file-size limit, ...); the file it replaces is intact."""

    def __init__(self, path, error: OSError):
        reason = error.strerror or str(error)
        if error.errno == errno.EFBIG:
            reason += " (the file-size limit, `ulimit -f`)"
        super().__init__(f"cannot write {path}: {reason}")
        self.path, self.error = Path(path), error


# ---------------------------------------------------------------- writing
def atomic_write_bytes(path, data: bytes) -> None:
    with atomic_open(path) as f:
        f.write(data)


def atomic_write_json(path, data) -> None:
    atomic_write_bytes(path, (json.dumps(data, indent=2, default=json_default) + "\n").encode("utf-8"))


def json_default(value):
    """NumPy scalars and tuples inside configs; anything else is a bug worth a clear message."""
    if hasattr(value, "item"):
        return value.item()
    raise TypeError(f"cannot write {type(value).__name__} {value!r} to JSON")


def read_json(path) -> dict:
    """A JSON object file (config.json, eval.json, trainer_state.json); RunFolderError names a bad one.

        >>> import json, os, tempfile
        >>> path = os.path.join(tempfile.mkdtemp(), "eval.json")
        >>> _ = open(path, "w").write(json.dumps({"mean_return": 0.93, "episodes": 10}))
        >>> read_json(path)["mean_return"]
        0.93
        >>> _ = open(path, "w").write("[1, 2]")
        >>> read_json(path)
        Traceback (most recent call last):
        ...
        rl_scratch.runs.RunFolderError: .../eval.json should hold a JSON object, found list
    """
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise RunFolderError(f"{path} does not exist") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise RunFolderError(f"{path} is not readable JSON ({error})") from None
    if not isinstance(data, dict):
        raise RunFolderError(f"{path} should hold a JSON object, found {type(data).__name__}")
    return data


def create_run_folder(out: str | None, env_name: str, agent_name: str, root: str = "runs") -> Path:
    """Make the run folder: `out` if given, else `<root>/<env>-<agent>-<timestamp>[-n]`.

    An `out` that already holds a run is refused (resume it with --resume instead);
    a folder that cannot be created or written raises RunFolderError.
    """
    if out is not None:
        folder = Path(out)
        if (folder / CONFIG_FILE).exists():
            raise RunFolderError(f"{folder} already holds a run: continue it with --resume {folder}, "
                                 "or choose another --out")
    else:
        stem = f"{_safe_name(env_name)}-{agent_name}-{time.strftime('%Y%m%d-%H%M%S')}"
        folder = Path(root) / stem
        n = 2
        while folder.exists():
            folder = Path(root) / f"{stem}-{n}"
            n += 1
    try:
        folder.mkdir(parents=True, exist_ok=True)
        probe = folder / ".write-test"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as error:
        raise RunFolderError(f"cannot write to output folder {folder}: {error.strerror or error}") from None
    return folder


def discard_new_run(folder: Path) -> None:
    """Remove what a run that never started training wrote: its files, and the folder if that is then
    empty (a folder given by --out that held other files is left as it was)."""
    for name in (*RUN_FILES, ".write-test"):
        with contextlib.suppress(OSError):
            (folder / name).unlink()
    with contextlib.suppress(OSError):
        folder.rmdir()


def _safe_name(name: str) -> str:
    return "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in name)


class CsvLog:
    """Append-only CSV with a fixed header; None is written as an empty cell.

    Floats are written with `repr`, the shortest text that reads back to the same
    number, so two runs with the same seed give byte-identical columns.
    """

    def __init__(self, path, columns: tuple[str, ...]):
        self.path = Path(path)
        self.columns = columns
        new = not self.path.exists() or self.path.stat().st_size == 0
        if not new:
            with open(self.path, newline="", encoding="utf-8") as f:
                header = next(csv.reader(f), [])
            if tuple(header) != columns:
                raise RunFolderError(f"{self.path} has columns {header}, expected {list(columns)}")
        # line-buffered: every finished episode reaches the file at once, so a killed run loses none
        self._file = open(self.path, "a", newline="", encoding="utf-8", buffering=1)
        self._writer = csv.writer(self._file)
        if new:
            self._writer.writerow(columns)

    def write(self, row: dict) -> None:
        try:
            self._writer.writerow([_cell(row.get(name)) for name in self.columns])
        except OSError as error:
            raise DiskWriteError(self.path, error) from None

    def flush(self) -> None:
        try:
            self._file.flush()
        except OSError as error:
            raise DiskWriteError(self.path, error) from None

    def close(self) -> None:
        """Flush and close; after a failed write the unwritten rows are dropped (resume cuts back anyway)."""
        try:
            self._file.close()
        except OSError:
            pass


def truncate_log(path, columns: tuple[str, ...], steps: int, episodes: int | None = None) -> int:
    """Cut a CsvLog file back to the rows at or before `steps` (and `episodes`), in place.

    After a crash (SIGKILL, power loss) the logs hold rows written after the last
    checkpoint; a resumed run re-runs those episodes, so they go first. A last line
    cut short goes too. Returns how many rows were removed; a file that is not a
    CsvLog of `columns` raises RunFolderError naming it.
    """
    path = Path(path)
    if not path.exists():
        return 0
    try:
        text = path.read_bytes().decode("utf-8")
    except UnicodeDecodeError as error:
        raise RunFolderError(f"{path} is damaged: not UTF-8 text (byte {error.start}); move it away to resume "
                             "without its history") from None
    except OSError as error:
        raise RunFolderError(f"cannot read {path}: {error.strerror or error}") from None
    lines = text.splitlines(keepends=True)
    if not lines:
        return 0
    header = next(csv.reader([lines[0]]), [])
    if tuple(header) != columns:
        raise RunFolderError(f"{path} has columns {header}, expected {list(columns)}")
    kept = [lines[0]]
    for number, line in enumerate(lines[1:], start=2):
        if not line.endswith("\n"):  # the last line, cut short by the crash
            break
        row = next(csv.reader([line]), [])
        try:
            row_step, row_episode = int(row[0]), int(row[1])
        except (IndexError, ValueError):
            raise RunFolderError(f"{path} is damaged: line {number} is not a row of step, episode, ... "
                                 f"({line.strip()[:60]!r})") from None
        if len(row) == len(columns) and row_step <= steps and (episodes is None or row_episode <= episodes):
            kept.append(line)
    removed = len(lines) - len(kept)
    if removed:
        atomic_write_bytes(path, "".join(kept).encode("utf-8"))
    return removed


def _cell(value) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return repr(value) if math.isfinite(value) else ""
    if hasattr(value, "item"):  # NumPy scalar
        return _cell(value.item())
    return str(value)


def read_csv(path) -> dict[str, list]:
    """Columns of a CsvLog file as lists of floats (None for empty cells); {} if the file is missing.

    A run folder's metrics.csv has METRIC_COLUMNS (a row per episode), its
    evaluations.csv EVAL_COLUMNS (a row per periodic evaluation).

        >>> import os, tempfile
        >>> path = os.path.join(tempfile.mkdtemp(), "metrics.csv")
        >>> _ = open(path, "w").write("step,return,loss\\n10,0.5,\\n25,0.93,0.25\\n")
        >>> read_csv(path)
        {'step': [10.0, 25.0], 'return': [0.5, 0.93], 'loss': [None, 0.25]}
        >>> read_csv("no-such-run/metrics.csv")
        {}
    """
    path = Path(path)
    if not path.exists():
        return {}
    with open(path, newline="", encoding="utf-8") as f:
        rows = list(csv.reader(f))
    if not rows:
        return {}
    header, body = rows[0], rows[1:]
    columns: dict[str, list] = {name: [] for name in header}
    for row in body:
        if len(row) != len(header):  # a line cut short by a crash
            continue
        for name, cell in zip(header, row):
            columns[name].append(float(cell) if cell != "" else None)
    return columns


# --------------------------------------------------------------- plotting
def smooth(values: list[float], window: int) -> list[float]:
    """Trailing moving average: point i averages values[max(0, i - window + 1) : i + 1].

        >>> smooth([0.0, 1.0, 2.0, 6.0], window=2)
        [0.0, 0.5, 1.5, 4.0]
    """
    out, total = [], 0.0
    for i, v in enumerate(values):
        total += v
        if i >= window:
            total -= values[i - window]
        out.append(total / min(i + 1, window))
    return out


def plot_learning_curve(path, metrics: dict, evaluations: dict, title: str,
                        target: float | None = None, target_label: str | None = None) -> None:
    """Episode return vs env steps: raw (faint), smoothed, evaluation points, and a dashed target line."""
    fig, ax = _new_figure()
    steps, returns = metrics.get("step", []), metrics.get("return", [])
    if returns:
        window = max(1, min(100, len(returns) // 20))
        ax.plot(steps, returns, color="tab:blue", alpha=0.25, linewidth=0.8, label="episode return")
        ax.plot(steps, smooth(returns, window), color="tab:blue", linewidth=2,
                label=f"moving average ({window} episodes)")
    eval_steps, eval_returns = evaluations.get("step", []), evaluations.get("mean_return", [])
    if eval_returns:
        ax.plot(eval_steps, eval_returns, "o-", color="tab:orange", markersize=4, linewidth=1,
                label="evaluation (deterministic)")
    if target is not None:
        ax.axhline(target, color="tab:green", linestyle="--", linewidth=1.2, label=target_label)
    if not returns and not eval_returns:
        ax.text(0.5, 0.5, "no finished episodes yet", ha="center", va="center", transform=ax.transAxes)
    ax.set_xlabel("environment steps")
    ax.set_ylabel("episode return")
    _save_figure(fig, ax, path, title, legend_loc="lower right")


def plot_value_convergence(path, changes: list[float], title: str) -> None:
    """A planner's learning curve: the largest value change of each sweep, on a log axis."""
    fig, ax = _new_figure()
    sweeps = list(range(1, len(changes) + 1))
    positive = [(k, c) for k, c in zip(sweeps, changes) if c > 0]  # a log axis cannot show an exact 0
    if positive:
        ax.semilogy(*zip(*positive), "o-", color="tab:blue", markersize=3, linewidth=1.5,
                    label=f"max |V(s) change| in the sweep ({len(changes)} sweeps"
                          + (", the last changed nothing)" if changes[-1] == 0 else ")"))
    if not positive:
        ax.text(0.5, 0.5, "converged in the first sweep", ha="center", va="center", transform=ax.transAxes)
    ax.set_xlabel("sweep over the env's model")
    ax.set_ylabel("largest value change")
    _save_figure(fig, ax, path, title, legend_loc="upper right")


def _new_figure():
    """A figure and axes on the off-screen Agg backend (no display needed)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt.subplots(figsize=(8, 4.5), dpi=100)


def _save_figure(fig, ax, path, title: str, legend_loc: str) -> None:
    """Title, grid and legend, then an atomic PNG write; the figure is closed either way."""
    ax.set_title(title)
    ax.grid(alpha=0.3)
    if ax.get_legend_handles_labels()[0]:
        ax.legend(loc=legend_loc, fontsize=8)
    fig.tight_layout()
    save_png(fig, path)


def write_png(fig, path, dpi=None) -> None:
    """Write a matplotlib figure as a PNG atomically: a reader never sees half a file."""
    with atomic_open(path) as f:
        fig.savefig(f, format="png", dpi=dpi)


def save_png(fig, path) -> None:
    """`write_png`, then close the pyplot figure (either way): the trainer's plots are written and done."""
    import matplotlib.pyplot as plt

    try:
        write_png(fig, path)
    finally:
        plt.close(fig)
