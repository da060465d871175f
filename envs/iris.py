"""Iris: Fisher's flower classification as one-step episodes."""

from __future__ import annotations

from importlib import resources
from typing import Any

import numpy as np
import gymnasium as gym
from gymnasium import spaces

from rl_scratch.envs import _render
from rl_scratch.envs._single_step import next_example
from rl_scratch.envs._checks import check_render_mode, discrete_action

FEATURE_NAMES = ("sepal length (cm)", "sepal width (cm)", "petal length (cm)", "petal width (cm)")
SPLITS = ("train", "test")
OBS_BOUND = 10.0


def load_iris() -> tuple[np.ndarray, np.ndarray, tuple[str, ...]]:
    """The packaged 150-row table: features (150, 4) float64, labels (150,) int64, class names."""
    text = resources.files("rl_scratch.envs").joinpath("data/iris.csv").read_text(encoding="utf-8")
    header, *rows = text.strip().splitlines()
    n_rows, n_features, *class_names = header.split(",")
    table = np.array([[float(v) for v in row.split(",")] for row in rows])
    if table.shape != (int(n_rows), int(n_features) + 1):
        raise ValueError(f"iris.csv is corrupt: header says {n_rows}x{n_features}, table is {table.shape}")
    return table[:, :-1], table[:, -1].astype(np.int64), tuple(class_names)


def stratified_split(y: np.ndarray, test_fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Row indices (train, test): round(test_fraction * class size) of each class go to test.

    Both index arrays come out shuffled (deterministically in `seed`), so any
    prefix of the test set mixes the classes.
    """
    rng = np.random.default_rng(seed)
    train, test = [], []
    for c in np.unique(y):
        rows = rng.permutation(np.flatnonzero(y == c))
        n_test = int(round(test_fraction * len(rows)))
        if not 0 < n_test < len(rows):
            raise ValueError(
                f"test_fraction={test_fraction} puts {n_test} of class {c}'s {len(rows)} rows in the "
                "test split; each split needs at least one row per class"
            )
        test.append(rows[:n_test])
        train.append(rows[n_test:])
    return rng.permutation(np.concatenate(train)), rng.permutation(np.concatenate(test))


_BG = (248, 250, 252)
_INK = (30, 41, 59)
_MUTED = (100, 116, 139)
_AXIS = (203, 213, 225)
_BAR_POS = (59, 130, 246)
_BAR_NEG = (249, 115, 22)
_RIGHT = (34, 197, 94)
_WRONG = (239, 68, 68)
_BOX = (226, 232, 240)


class Iris(gym.Env):
    """
    Classify an iris flower from four measurements; each episode is one flower.

    ## Description
    Fisher's iris table (150 flowers, 50 of each of 3 species; scikit-learn's
    copy ships in `rl_scratch/envs/data/iris.csv`). The table is split once,
    deterministically in `split_seed`, into train and test sets stratified by
    class (`round(test_fraction * 50)` flowers of each class go to test: 10 for
    the default 0.2). Features are standardized with the mean and standard
    deviation of the training split only (`env.mean`, `env.std`);
    `env.split_rows[split]` holds each split's row numbers in the packaged table.

    Supervised learners can take the whole split at once:
    `X, y = env.unwrapped.dataset("train")` gives standardized float32 features
    (n, 4) and int64 labels (n,); `env.unwrapped.class_names` names the labels.

        >>> import gymnasium as gym
        >>> import rl_scratch
        >>> env = gym.make("rl_scratch/Iris-v0")
        >>> obs, info = env.reset(seed=0)
        >>> obs.shape, env.action_space, env.unwrapped.class_names
        ((4,), Discrete(3), ('setosa', 'versicolor', 'virginica'))
        >>> env.step(info["label"])[1:3]  # the right species: reward 1, and the episode ends
        (1.0, True)

    ## Action Space
    `Discrete(3)`, the predicted species:

    | Num | Action     |
    |-----|------------|
    | 0   | setosa     |
    | 1   | versicolor |
    | 2   | virginica  |

    ## Observation Space
    `Box(-10, 10, (4,), float32)`: the flower's standardized features, in order

    | Index | Feature           |
    |-------|-------------------|
    | 0     | sepal length (cm) |
    | 1     | sepal width (cm)  |
    | 2     | petal length (cm) |
    | 3     | petal width (cm)  |

    ## Starting State
    `split="train"`: a training flower drawn uniformly with `self.np_random`.
    `split="test"`: the test flowers in order (the order of `dataset("test")`),
    one per episode, cycling; `reset(seed=...)` restarts at the first, so
    `len(test)` episodes after a seeded reset score exact test accuracy.
    `reset(options={"index": i})` picks flower `i` of the split instead.

    ## Rewards
    1.0 if the action is the flower's species, else 0.0.

    ## Episode End
    - Termination: after the first step, always.
    - Truncation: never (no time limit is registered).

    ## Information
    `reset()` returns info keys: `label`, `index`.
    `step()` returns info keys: `label`, `index`.

    `label` is the true species (int); `index` is the flower's row in `dataset(split)`.

    ## Arguments
    * `render_mode=None`: `"human"`, `"rgb_array"` (a (300, 520, 3) uint8 picture of the
      features and the chosen vs true class) or `"ansi"`.
    * `split="train"`: `"train"` or `"test"`.
    * `test_fraction=0.2`: share of each class held out for test.
    * `split_seed=0`: seed of the train/test split (not of the episodes).

    ## Version History
    * v0: initial version.
    """

    metadata = {"render_modes": ["human", "rgb_array", "ansi"], "render_fps": 4}

    def __init__(
        self,
        render_mode: str | None = None,
        split: str = "train",
        test_fraction: float = 0.2,
        split_seed: int = 0,
    ):
        check_render_mode(render_mode, self.metadata)
        if split not in SPLITS:
            raise ValueError(f"unknown split {split!r}; choose from {list(SPLITS)}")
        if not 0.0 < test_fraction < 1.0:
            raise ValueError(f"test_fraction must be in (0, 1), got {test_fraction}")
        features, labels, class_names = load_iris()
        train_rows, test_rows = stratified_split(labels, test_fraction, split_seed)

        self.render_mode = render_mode
        self.split = split
        self.test_fraction = float(test_fraction)
        self.split_seed = split_seed
        self.class_names = class_names
        self.feature_names = FEATURE_NAMES
        self.mean = features[train_rows].mean(axis=0)
        self.std = features[train_rows].std(axis=0)
        standardized = ((features - self.mean) / self.std).astype(np.float32)
        self.split_rows = {"train": train_rows, "test": test_rows}
        self._X = {name: standardized[rows] for name, rows in self.split_rows.items()}
        self._y = {name: labels[rows] for name, rows in self.split_rows.items()}
        if np.abs(standardized).max() >= OBS_BOUND:
            raise ValueError("a standardized iris feature falls outside the observation bounds")

        self.observation_space = spaces.Box(-OBS_BOUND, OBS_BOUND, (len(FEATURE_NAMES),), np.float32)
        self.action_space = spaces.Discrete(len(class_names))
        self._cursor = 0
        self._index: int | None = None
        self.last_action: int | None = None
        self._window = None

    def dataset(self, split: str | None = None) -> tuple[np.ndarray, np.ndarray]:
        """(X, y) of a split (default: this env's): standardized float32 (n, 4), int64 (n,).

            >>> X, y = Iris().dataset("test")
            >>> X.shape, X.dtype, np.bincount(y).tolist()  # stratified: 10 flowers per class
            ((30, 4), dtype('float32'), [10, 10, 10])
        """
        split = self.split if split is None else split
        if split not in SPLITS:
            raise ValueError(f"unknown split {split!r}; choose from {list(SPLITS)}")
        return self._X[split].copy(), self._y[split].copy()

    def __len__(self) -> int:
        """Number of flowers in this env's split."""
        return len(self._y[self.split])

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        super().reset(seed=seed)
        n = len(self)
        i = next_example(self, n, seed, options)
        self._index = i
        self.last_action = None
        if self.render_mode == "human":
            self.render()
        return self._X[self.split][i].copy(), {"label": int(self._y[self.split][i]), "index": i}

    def step(self, action):
        if self._index is None:
            raise RuntimeError("call reset() before step()")
        n_classes = len(self.class_names)
        a = discrete_action(action, n_classes)
        i = self._index
        label = int(self._y[self.split][i])
        self.last_action = a
        if self.render_mode == "human":
            self.render()
        return self._X[self.split][i].copy(), float(a == label), True, False, {"label": label, "index": i}

    def get_state(self) -> dict:
        """The example being served and the evaluation cursor, as plain values (np_random aside); see `set_state`.

            >>> env = Iris()
            >>> _, info = env.reset(seed=0)
            >>> env.get_state()["index"] == info["index"]
            True
        """
        return {"cursor": self._cursor, "index": self._index, "last_action": self.last_action}

    def set_state(self, state: dict) -> None:
        """Continue where `get_state` was taken (on an env made with the same arguments).

            >>> env, copy = Iris(), Iris()
            >>> _, info = env.reset(seed=0); _ = copy.reset(seed=1)
            >>> copy.set_state(env.get_state())
            >>> copy.step(0)[4] == env.step(0)[4]  # the same flower
            True
        """
        self._cursor, self._index, self.last_action = int(state["cursor"]), state["index"], state["last_action"]

    # ------------------------------------------------------------- rendering
    def render(self):
        return _render.render(self, self._draw, self._render_text, ready=self._index is not None)

    def _render_text(self) -> str:
        i = self._index
        x = self._X[self.split][i]
        raw = x * self.std + self.mean
        label = int(self._y[self.split][i])
        lines = [f"Iris {self.split} #{i}"]
        for name, value, z in zip(self.feature_names, raw, x):
            lines.append(f"  {name:18s} {value:4.1f}  (z={z:+.2f})")
        verdict = ""
        if self.last_action is not None:
            verdict = f"  chosen: {self.class_names[self.last_action]} ({'right' if self.last_action == label else 'wrong'})"
        lines.append(f"  true: {self.class_names[label]}" + verdict)
        return "\n".join(lines) + "\n"

    def _draw(self):
        pygame = _render.import_pygame()
        width, height = 520, 300
        surf = pygame.Surface((width, height))
        surf.fill(_BG)
        i = self._index
        x = self._X[self.split][i]
        raw = x * self.std + self.mean
        label = int(self._y[self.split][i])

        title = _render.font(26, bold=True).render(f"Iris  -  {self.split} flower #{i}", True, _INK)
        surf.blit(title, (20, 14))
        caption = _render.font(18).render("bars: standardized, full width = 3 std", True, _MUTED)
        surf.blit(caption, caption.get_rect(topright=(width - 20, 20)))

        # Feature bars: standardized value drawn from a zero line, raw value in cm printed.
        zero_x, half_span, bar_h = 330, 150, 22
        small = _render.font(22)
        for k, (name, value, z) in enumerate(zip(self.feature_names, raw, x)):
            y = 56 + k * 34
            surf.blit(small.render(name, True, _INK), (20, y + 3))
            pygame.draw.rect(surf, _BOX, (zero_x - half_span, y, 2 * half_span, bar_h), border_radius=4)
            length = int(np.clip(z / 3.0, -1, 1) * half_span)
            bar = (zero_x, y, length, bar_h) if length >= 0 else (zero_x + length, y, -length, bar_h)
            pygame.draw.rect(surf, _BAR_POS if z >= 0 else _BAR_NEG, bar, border_radius=4)
            pygame.draw.line(surf, _AXIS, (zero_x, y - 3), (zero_x, y + bar_h + 2), 2)
            text = small.render(f"{value:.1f}", True, _INK)
            surf.blit(text, text.get_rect(midleft=(zero_x - half_span + 4, y + bar_h / 2 + 1)))

        # Class boxes: the true class has a green outline, the chosen one is filled
        # green if right, red if wrong.
        box_w, box_h, gap = 150, 60, 15
        left = (width - 3 * box_w - 2 * gap) // 2
        top = 208
        for c, name in enumerate(self.class_names):
            rect = pygame.Rect(left + c * (box_w + gap), top, box_w, box_h)
            chosen = c == self.last_action
            fill = (_RIGHT if c == label else _WRONG) if chosen else _BOX
            pygame.draw.rect(surf, fill, rect, border_radius=10)
            if c == label:
                pygame.draw.rect(surf, _RIGHT, rect, 4, border_radius=10)
            ink = (255, 255, 255) if chosen else _INK
            text = _render.font(24, bold=chosen).render(name, True, ink)
            surf.blit(text, text.get_rect(center=(rect.centerx, rect.centery - 7)))
            tag = "true" if c == label else ""
            if chosen:
                tag = "chosen, true" if c == label else "chosen"
            if tag:
                tag_text = _render.font(18).render(tag, True, ink if chosen else _MUTED)
                surf.blit(tag_text, tag_text.get_rect(center=(rect.centerx, rect.centery + 14)))
        if self.last_action is None:
            hint = _render.font(18).render("no class chosen yet", True, _MUTED)
            surf.blit(hint, hint.get_rect(center=(width / 2, top + box_h + 16)))
        return surf

    def close(self) -> None:
        if self._window is not None:
            self._window.close()
            self._window = None
