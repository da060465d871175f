"""Ready callbacks for `agent.learn(env, total_steps, callback=...)`, and the callback protocol.

The protocol. A callback is any callable that takes one record, a dict, after each
finished episode (Supervised: after each batch). Every record has

    step     env steps taken when the episode ended      episode  episodes finished so far
    return   the episode's undiscounted return           length   its number of steps

plus what the agent logs: lr, and loss, epsilon, entropy, ... where it has them.
Returning False stops learning (None or True go on); the records not yet handed
out wait for the next `learn`. A callback may also define `init(agent, total_steps)`,
which `learn` calls before the first record (how the ready ones below find the agent).
A list of callbacks is one callback: each sees every record, in order, and learning
stops when any returns False. `progress_bar=True` adds a `ProgressBar`.

    >>> import gymnasium as gym, tempfile
    >>> from rl_scratch.agents import QLearning
    >>> env = gym.make("FrozenLake-v1")
    >>> agent = QLearning(env.observation_space, env.action_space, seed=0)
    >>> folder = tempfile.mkdtemp()
    >>> best = EvalCallback(gym.make("FrozenLake-v1"), eval_every=500, episodes=5, best_model_path=f"{folder}/best.npz")
    >>> agent = agent.learn(env, 2000, callback=[best, StopOnReward(0.9, window=20)])
    >>> [step // 500 for step, _ in best.evaluations]  # at the first episode end past each multiple
    [1, 2, 3, 4]
"""

from __future__ import annotations

import collections
import os

import numpy as np

from .common import evaluate


class CallbackList:
    """Several callbacks as one: each sees every record; stops when any returns False.

        >>> seen = []
        >>> both = CallbackList([seen.append, lambda record: record["episode"] < 2])
        >>> both({"episode": 1}), both({"episode": 2}), len(seen)
        (True, False, 2)
    """

    def __init__(self, callbacks):
        self.callbacks = [as_callback(c) for c in callbacks]

    def init(self, agent, total_steps: int) -> None:
        for callback in self.callbacks:
            init = getattr(callback, "init", None)
            if init is not None:
                init(agent, total_steps)

    def __call__(self, record: dict) -> bool:
        results = [callback(record) for callback in self.callbacks]
        return all(result is not False for result in results)


class EvalCallback:
    """Every `eval_every` env steps, evaluate the agent on `eval_env`; keep the best one at `best_model_path`.

    `evaluations` lists (step, mean return); `best_mean` is the best mean so far.
    Evaluation draws from its own generator (seed `seed`), so it does not change training.

        >>> import gymnasium as gym
        >>> from rl_scratch.agents import QLearning
        >>> agent = QLearning(gym.spaces.Discrete(16), gym.spaces.Discrete(4), seed=0)
        >>> evaluations = EvalCallback(gym.make("FrozenLake-v1"), eval_every=300, episodes=3)
        >>> len(agent.learn(gym.make("FrozenLake-v1"), 1000, callback=evaluations) and evaluations.evaluations)
        3
    """

    def __init__(self, eval_env, eval_every: int = 10_000, episodes: int = 10, best_model_path=None,
                 seed: int = 0, deterministic: bool = True):
        if eval_every < 1 or episodes < 1:
            raise ValueError(f"eval_every and episodes must be >= 1, got {eval_every} and {episodes}")
        self.eval_env, self.eval_every, self.episodes = eval_env, int(eval_every), int(episodes)
        self.best_model_path = None if best_model_path is None else os.fspath(best_model_path)
        self.seed, self.deterministic = seed, deterministic
        self.agent = None
        self.evaluations: list[tuple[int, float]] = []
        self.best_mean: float | None = None
        self.next_eval = self.eval_every

    def init(self, agent, total_steps: int) -> None:
        self.agent = agent
        self.next_eval = (agent.steps // self.eval_every + 1) * self.eval_every

    def __call__(self, record: dict) -> bool:
        if record["step"] < self.next_eval:
            return True
        self.next_eval = (record["step"] // self.eval_every + 1) * self.eval_every
        result = evaluate(self.agent, self.eval_env, self.episodes, seed=self.seed, deterministic=self.deterministic)
        mean = result["mean_return"]
        self.evaluations.append((int(record["step"]), mean))
        if self.best_mean is None or mean > self.best_mean:
            self.best_mean = mean
            if self.best_model_path is not None:
                self.agent.save(self.best_model_path)
        return True


class CheckpointCallback:
    """Every `save_every` env steps, save the agent to `folder/<prefix>_<step>_steps.npz`.

        >>> import gymnasium as gym, os, tempfile
        >>> from rl_scratch.agents import QLearning
        >>> folder = tempfile.mkdtemp()
        >>> agent = QLearning(gym.spaces.Discrete(16), gym.spaces.Discrete(4), seed=0)
        >>> _ = agent.learn(gym.make("FrozenLake-v1"), 1000, callback=CheckpointCallback(400, folder))
        >>> sorted(os.listdir(folder))[0].startswith("agent_4")
        True
    """

    def __init__(self, save_every: int, folder, prefix: str = "agent"):
        if save_every < 1:
            raise ValueError(f"save_every must be >= 1, got {save_every}")
        self.save_every, self.folder, self.prefix = int(save_every), os.fspath(folder), prefix
        self.agent = None
        self.next_save = self.save_every
        self.paths: list[str] = []

    def init(self, agent, total_steps: int) -> None:
        self.agent = agent
        self.next_save = (agent.steps // self.save_every + 1) * self.save_every
        os.makedirs(self.folder, exist_ok=True)

    def __call__(self, record: dict) -> bool:
        if record["step"] >= self.next_save:
            self.next_save = (record["step"] // self.save_every + 1) * self.save_every
            path = os.path.join(self.folder, f"{self.prefix}_{record['step']}_steps.npz")
            self.agent.save(path)
            self.paths.append(path)
        return True


class StopOnReward:
    """Stop once the mean return of the last `window` episodes reaches `threshold`; with
    `evaluations` (an EvalCallback listed before this one), once its latest evaluation does.

        >>> stop = StopOnReward(1.0, window=2)
        >>> stop({"return": 1.0}), stop({"return": 0.0}), stop({"return": 2.0})
        (True, True, False)
    """

    def __init__(self, threshold: float, window: int = 20, evaluations: EvalCallback | None = None):
        if window < 1:
            raise ValueError(f"window must be >= 1, got {window}")
        self.threshold, self.evaluations = float(threshold), evaluations
        self.recent = collections.deque(maxlen=int(window))
        self.stopped_at: int | None = None

    def __call__(self, record: dict) -> bool:
        if self.evaluations is not None:
            reached = bool(self.evaluations.evaluations) and self.evaluations.evaluations[-1][1] >= self.threshold
        else:
            self.recent.append(record["return"])
            reached = len(self.recent) == self.recent.maxlen and np.mean(self.recent) >= self.threshold
        if reached:
            self.stopped_at = record.get("step")
        return not reached


class ProgressBar:
    """A tqdm bar of env steps (off when the output is not a terminal, unless disable=False).

    `learn(..., progress_bar=True)` adds one.

        >>> import io
        >>> bar = ProgressBar(disable=False, file=io.StringIO())
        >>> bar.init(type("A", (), {"steps": 0})(), 100)
        >>> bar({"step": 40, "return": 1.0}), bar.bar.n
        (True, 40)
    """

    def __init__(self, disable: bool | None = None, file=None):
        self.disable, self.file = disable, file
        self.bar = None
        self.start = self.shown = self.total = 0

    def init(self, agent, total_steps: int) -> None:
        from tqdm import tqdm

        self.start, self.shown, self.total = agent.steps, 0, total_steps
        self.bar = tqdm(total=total_steps, unit="step", disable=self.disable, dynamic_ncols=True, file=self.file)

    def __call__(self, record: dict) -> bool:
        # our own count of steps shown: a disabled bar of older tqdm (4.17) has no `n`
        done = record["step"] - self.start
        self.bar.update(done - self.shown)
        self.shown = done
        self.bar.set_postfix_str(f"return {record['return']:.3g}", refresh=False)
        if done >= self.total:
            self.bar.close()
        return True


def as_callback(callback, agent=None, total_steps: int = 0, progress_bar: bool = False):
    """What `learn` calls: None, a callable, or a list of them (with a ProgressBar when asked),
    `init`ed with the agent. None stays None (no records are built for nobody).

        >>> seen = []
        >>> callback = as_callback([seen.append, lambda record: None])
        >>> callback({"step": 1}), seen
        (True, [{'step': 1}])
    """
    if isinstance(callback, (list, tuple)):
        callback = CallbackList(callback)
    if progress_bar:
        callback = CallbackList([callback, ProgressBar()] if callback is not None else [ProgressBar()])
    if callback is not None and not callable(callback):
        raise TypeError(f"a callback must be callable (record -> False to stop), or a list of them; got {callback!r}")
    if agent is not None and callback is not None and callable(getattr(callback, "init", None)):
        callback.init(agent, total_steps)
    return callback
