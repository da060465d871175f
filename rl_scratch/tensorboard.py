"""TensorBoard event files with the scalars the run folder's CSVs hold (the optional [tensorboard] extra).

    python -m rl_scratch.train --env CartPole-v1 --tensorboard runs/tb
    tensorboard --logdir runs/tb

    agent.learn(env, total_steps=10_000, callback=TensorBoardCallback("runs/tb/ppo"))

metrics.csv and evaluations.csv stay the source of truth; this is a view of the same
numbers for people who watch runs in TensorBoard. Tags: `train/<column>` for each
metrics.csv column (return, length, loss, epsilon, entropy, lr), `time/steps_per_second`
(step / wall_time of the same row), and `eval/<column>` for evaluations.csv (mean_return,
std_return, success_rate); the x axis is the env step.

The writer is tensorboardX: it needs only numpy, packaging and protobuf, where TensorBoard's
own package brings grpcio, werkzeug and its data server, and torch.utils.tensorboard or
tf.summary bring a whole framework.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from rl_scratch import runs
from rl_scratch.extras import import_extra

__all__ = ["TensorBoardCallback", "TensorBoardLog", "TRAIN_TAGS", "EVAL_TAGS", "SPEED_TAG"]

# The columns that are not scalars to plot: the x axis, the row's index and its clock.
_NOT_SCALARS = ("step", "episode", "wall_time")
TRAIN_TAGS = tuple(f"train/{name}" for name in runs.METRIC_COLUMNS if name not in _NOT_SCALARS)
EVAL_TAGS = tuple(f"eval/{name}" for name in runs.EVAL_COLUMNS if name not in _NOT_SCALARS)
SPEED_TAG = "time/steps_per_second"


def _summary_writer_class():
    """tensorboardX.SummaryWriter, imported without PyTorch.

    tensorboardX imports torch whenever it is installed (to accept torch tensors), which costs
    seconds and hundreds of MB for a writer of floats; unless the program already loaded
    torch, the import sees it as absent.
    """
    if "torch" in sys.modules:
        return import_extra("tensorboardX", "tensorboard", "TensorBoard logging").SummaryWriter
    sys.modules["torch"] = None  # `import torch` raises ImportError while this entry is None
    try:
        return import_extra("tensorboardX", "tensorboard", "TensorBoard logging").SummaryWriter
    finally:
        del sys.modules["torch"]


def check_installed(feature: str) -> None:
    """ConfigError (one line naming the extra) unless the writer can be imported."""
    from rl_scratch.config import ConfigError
    from rl_scratch.extras import MissingExtra

    try:
        _summary_writer_class()
    except MissingExtra as error:
        raise ConfigError(str(error).replace("TensorBoard logging", feature, 1)) from None


class TensorBoardLog:
    """Writes metrics.csv rows (`episode`) and evaluations.csv rows (`evaluation`) as scalar events.

    Raises MissingExtra (an ImportError naming the extra) when tensorboardX is not installed.

        >>> import os, tempfile
        >>> from rl_scratch import runs
        >>> folder = tempfile.mkdtemp()
        >>> _ = open(os.path.join(folder, "metrics.csv"), "w").write("step,return,wall_time\\n10,0.5,0.1\\n25,0.93,0.2\\n")
        >>> metrics = runs.read_csv(os.path.join(folder, "metrics.csv"))  # a finished run's log, replayed
        >>> log = TensorBoardLog(os.path.join(folder, "tb"))
        >>> for row in zip(*metrics.values()):
        ...     log.episode(dict(zip(metrics, row)))
        >>> log.close()
        >>> [name.startswith("events.out.tfevents") for name in os.listdir(os.path.join(folder, "tb"))]
        [True]
    """

    def __init__(self, log_dir: str | Path):
        self.log_dir = Path(log_dir)
        self.log_dir.mkdir(parents=True, exist_ok=True)  # here, so an unwritable DIR raises OSError at once
        self.writer = _summary_writer_class()(logdir=str(self.log_dir), flush_secs=10)

    def _scalars(self, row: dict, prefix: str, columns: tuple) -> None:
        step = int(row["step"])
        for name in columns:
            value = row.get(name)
            if name not in _NOT_SCALARS and value is not None and value != "":
                self.writer.add_scalar(f"{prefix}/{name}", float(value), step)

    def episode(self, row: dict) -> None:
        """One metrics.csv row (step, episode, return, ..., wall_time): `train/<column>` scalars at `step`.

            >>> import tempfile
            >>> log = TensorBoardLog(tempfile.mkdtemp())
            >>> log.episode({"step": 100, "episode": 4, "return": 0.93, "length": 8, "wall_time": 0.5})
            >>> log.close()
        """
        self._scalars(row, "train", runs.METRIC_COLUMNS)
        if row.get("wall_time"):
            self.writer.add_scalar(SPEED_TAG, int(row["step"]) / float(row["wall_time"]), int(row["step"]))

    def evaluation(self, row: dict) -> None:
        """One evaluations.csv row (step, episode, mean_return, std_return, success_rate, wall_time).

            >>> import tempfile
            >>> log = TensorBoardLog(tempfile.mkdtemp())
            >>> log.evaluation({"step": 5000, "episode": 40, "mean_return": 0.93, "std_return": 0.0})
            >>> log.close()
        """
        self._scalars(row, "eval", runs.EVAL_COLUMNS)

    def flush(self) -> None:
        """Write the pending events to disk now (the writer also flushes every 10 seconds).

            >>> import tempfile
            >>> log = TensorBoardLog(tempfile.mkdtemp())
            >>> log.episode({"step": 1, "return": 1.0}); log.flush(); log.close()
        """
        self.writer.flush()

    def close(self) -> None:
        """Flush and close the event file.

            >>> import tempfile
            >>> TensorBoardLog(tempfile.mkdtemp()).close()
        """
        self.writer.close()


class TensorBoardCallback:
    """An `agent.learn` callback that logs every finished episode to TensorBoard.

    >>> import tempfile
    >>> import gymnasium as gym
    >>> from rl_scratch.agents import QLearning
    >>> env = gym.make("FrozenLake-v1")
    >>> agent = QLearning(env.observation_space, env.action_space, seed=0)
    >>> callback = TensorBoardCallback(tempfile.mkdtemp())      # e.g. "runs/tb/frozenlake"
    >>> agent = agent.learn(env, total_steps=500, callback=callback)
    >>> callback.close()

    The record the agent hands over is a metrics.csv row without its wall time; this adds
    the seconds since the callback was made. Returns None, so it never stops training and
    composes with other callbacks.
    """

    def __init__(self, log_dir: str | Path):
        self.log = TensorBoardLog(log_dir)
        self.start = time.perf_counter()

    def __call__(self, record: dict) -> None:
        self.log.episode({**record, "wall_time": time.perf_counter() - self.start})

    def close(self) -> None:
        """Flush and close the event file (after `learn`).

            >>> import tempfile
            >>> callback = TensorBoardCallback(tempfile.mkdtemp())
            >>> callback({"step": 10, "episode": 1, "return": 0.5, "length": 10}); callback.close()
        """
        self.log.close()
