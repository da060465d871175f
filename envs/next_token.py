"""NextToken: character-level next-token prediction as one-step episodes."""

from __future__ import annotations

import math
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import gymnasium as gym
from gymnasium import spaces

from rl_scratch.envs import _render
from rl_scratch.envs._single_step import next_example
from rl_scratch.envs._checks import check_render_mode, discrete_action

SPLITS = ("train", "val")
VAL_FRACTION = 0.1
DEFAULT_CORPUS = "default_corpus.txt"


class CharTokenizer:
    """Characters <-> integer ids; the vocabulary is the sorted set of a text's characters.

        >>> from rl_scratch.envs import CharTokenizer
        >>> tokenizer = CharTokenizer("hello world")
        >>> tokenizer, tokenizer.chars[:3]
        (CharTokenizer(vocab_size=8), (' ', 'd', 'e'))
    """

    def __init__(self, text: str):
        if not isinstance(text, str) or not text:
            raise ValueError("CharTokenizer needs a non-empty str to build its vocabulary from")
        self.chars: tuple[str, ...] = tuple(sorted(set(text)))
        self.vocab_size = len(self.chars)
        self.stoi = {ch: i for i, ch in enumerate(self.chars)}
        codes = np.array([ord(ch) for ch in self.chars])
        # Code point -> id table (-1 for characters outside the vocabulary), for vectorized encode.
        self._lookup = np.full(int(codes.max()) + 1, -1, dtype=np.int64)
        self._lookup[codes] = np.arange(self.vocab_size)
        self._char_array = np.array(self.chars, dtype=object)

    def __len__(self) -> int:
        return self.vocab_size

    def __repr__(self) -> str:
        return f"CharTokenizer(vocab_size={self.vocab_size})"

    def encode(self, text: str) -> np.ndarray:
        """Ids of `text`'s characters, int64 of shape (len(text),); unknown characters are named in the error.

            >>> tokenizer = CharTokenizer("hello world")
            >>> tokenizer.encode("low").tolist()
            [4, 5, 7]
            >>> tokenizer.encode("Low")
            Traceback (most recent call last):
            ...
            ValueError: 1 character not in the tokenizer's vocabulary: 'L' (first at position 0); ...
        """
        if not isinstance(text, str):
            raise TypeError(f"encode expects a str, got {type(text).__name__}")
        codes = np.frombuffer(text.encode("utf-32-le", errors="surrogatepass"), dtype=np.uint32)
        ids = np.full(len(codes), -1, dtype=np.int64)
        known = codes < len(self._lookup)
        ids[known] = self._lookup[codes[known]]
        if (ids < 0).any():
            positions = np.flatnonzero(ids < 0)
            unknown = "".join(dict.fromkeys(text[int(p)] for p in positions))
            raise ValueError(
                f"{len(unknown)} character{'s' if len(unknown) > 1 else ''} not in the tokenizer's vocabulary: "
                f"{', '.join(map(repr, unknown))} (first at position {int(positions[0])}); "
                f"its {self.vocab_size} characters are {''.join(self.chars)!r}"
            )
        return ids

    def decode(self, ids) -> str:
        """The text of a sequence of ids.

            >>> tokenizer = CharTokenizer("hello world")
            >>> tokenizer.decode(tokenizer.encode("hold"))
            'hold'
        """
        ids = np.asarray(ids)
        if ids.size == 0:
            return ""
        if not np.issubdtype(ids.dtype, np.integer):
            raise ValueError(f"decode expects integer ids, got dtype {ids.dtype}")
        ids = ids.reshape(-1)
        if (ids.min() < 0 or ids.max() >= self.vocab_size):
            bad = ids[(ids < 0) | (ids >= self.vocab_size)][0]
            raise ValueError(f"token id {int(bad)} is outside the vocabulary [0, {self.vocab_size})")
        return "".join(self._char_array[ids])


def read_corpus(path: str | Path) -> str:
    """A UTF-8 text file's contents; ValueError naming the file for any problem."""
    path = Path(path)
    if not path.exists():
        raise ValueError(f"corpus file {str(path)!r} does not exist")
    if path.is_dir():
        raise ValueError(f"corpus file {str(path)!r} is a directory, not a text file")
    try:
        data = path.read_bytes()
    except OSError as e:
        raise ValueError(f"corpus file {str(path)!r} cannot be read: {e.strerror or e}") from e
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise ValueError(
            f"corpus file {str(path)!r} is not UTF-8 text: byte 0x{data[e.start]:02x} at offset {e.start} "
            "is invalid"
        ) from None
    if not text:
        raise ValueError(f"corpus file {str(path)!r} is empty")
    return text


def _visible(ch: str) -> str:
    """A printable stand-in for whitespace, for pictures."""
    return {" ": "\u00b7", "\n": "\u00b6", "\t": "\u00bb", "\r": "\u00a4"}.get(ch, ch)


_BG = (248, 250, 252)
_INK = (30, 41, 59)
_MUTED = (100, 116, 139)
_TILE = (226, 232, 240)
_TILE_EDGE = (203, 213, 225)
_RIGHT = (34, 197, 94)
_WRONG = (239, 68, 68)
_PENDING = (148, 163, 184)
_TILES_PER_ROW = 32
_MAX_DRAWN = 96  # the picture shows at most this many context tokens (the latest)


class NextToken(gym.Env):
    """
    Guess the next character of a text from the characters before it; each episode
    is one guess.

    ## Description
    A character-level language-modelling task in Gymnasium form. The corpus (by
    default `rl_scratch/envs/data/default_corpus.txt`, about 10 KB of original
    verse and prose about grids, agents and gradients) is encoded with a
    `CharTokenizer` (vocabulary: the corpus's sorted characters). The first 90% of
    the tokens are the training split and the last 10% the validation split. An
    example is a target position `t`: the observation is `tokens[t - context:t]`
    and the answer is `tokens[t]`. Training targets are `t` in
    `[context, n_train)`, validation targets `t` in `[n_train, n)` (the first
    `context` of them take part of their context from the end of the training
    text).

    Supervised learners can take a split's tokens at once:
    `env.unwrapped.dataset("train")` (int64 array); `env.unwrapped.tokenizer`
    encodes and decodes.

        >>> import gymnasium as gym
        >>> import rl_scratch
        >>> env = gym.make("rl_scratch/NextToken-v0", context=8)
        >>> obs, info = env.reset(seed=0)
        >>> obs.shape, env.unwrapped.tokenizer.vocab_size
        ((8,), 54)
        >>> env.step(info["label"])[1:3]  # the right next character: reward 1, the episode ends
        (1.0, True)

    ## Action Space
    `Discrete(vocab_size)`:

    | Num                 | Action                              |
    |---------------------|-------------------------------------|
    | 0 .. vocab_size - 1 | predict the character with this id  |

    ## Observation Space
    `Box(0, vocab_size - 1, (context,), int64)`: the ids of the `context`
    characters before the target, oldest first.

    ## Starting State
    `split="train"`: a target drawn uniformly with `self.np_random`.
    `split="val"`: validation targets in order, one per episode, cycling;
    `reset(seed=...)` restarts at the first, so `len(env)` episodes after a
    seeded reset cover the validation split exactly once.
    `reset(options={"index": i})` picks the split's `i`-th target instead.

    ## Rewards
    1.0 if the action is the target's id, else 0.0.

    ## Episode End
    - Termination: after the first step, always.
    - Truncation: never (no time limit is registered).

    ## Information
    `reset()` returns info keys: `label`, `position`.
    `step()` returns info keys: `label`, `position`.

    `label` is the target's id; `position` is `t`, the target's index in the whole
    encoded corpus.

    ## Arguments
    * `render_mode=None`: `"human"`, `"rgb_array"` (a uint8 picture of the context
      and the chosen vs true character; (170, 800, 3) for `context=32`) or `"ansi"`.
    * `corpus_path=None`: any UTF-8 text file, at least `context + 2` characters
      long; None uses the packaged corpus.
    * `context=32`: number of previous characters observed.
    * `split="train"`: `"train"` or `"val"`.

    ## Version History
    * v0: initial version.
    """

    metadata = {"render_modes": ["human", "rgb_array", "ansi"], "render_fps": 4}

    def __init__(
        self,
        render_mode: str | None = None,
        corpus_path: str | Path | None = None,
        context: int = 32,
        split: str = "train",
    ):
        check_render_mode(render_mode, self.metadata)
        if split not in SPLITS:
            raise ValueError(f"unknown split {split!r}; choose from {list(SPLITS)}")
        if isinstance(context, bool) or not isinstance(context, (int, np.integer)) or context < 1:
            raise ValueError(f"context must be a positive int, got {context!r}")
        context = int(context)
        if corpus_path is None:
            name = DEFAULT_CORPUS
            text = resources.files("rl_scratch.envs").joinpath(f"data/{DEFAULT_CORPUS}").read_text(encoding="utf-8")
        else:
            name = str(corpus_path)
            text = read_corpus(corpus_path)
        if len(text) < context + 2:
            raise ValueError(
                f"corpus file {name!r} is too short: {len(text)} characters, but context={context} needs at "
                f"least {context + 2} (one training and one validation example)"
            )

        self.render_mode = render_mode
        self.corpus_name = name
        self.context = context
        self.split = split
        self.tokenizer = CharTokenizer(text)
        self.tokens = self.tokenizer.encode(text)
        self.tokens.flags.writeable = False
        n = len(self.tokens)
        # Keep at least one example on each side on tiny corpora.
        self.n_train = min(n - 1, max(context + 1, int(n * (1 - VAL_FRACTION))))
        self._targets = {"train": (context, self.n_train), "val": (self.n_train, n)}

        vocab = self.tokenizer.vocab_size
        self.observation_space = spaces.Box(0, vocab - 1, (context,), np.int64)
        self.action_space = spaces.Discrete(vocab)
        self._cursor = 0
        self._t: int | None = None
        self.last_action: int | None = None
        self._window = None

    def dataset(self, split: str | None = None) -> np.ndarray:
        """The encoded tokens of a split (default: this env's), int64.

            >>> env = NextToken()
            >>> train, valid = env.dataset("train"), env.dataset("val")
            >>> round(len(train) / (len(train) + len(valid)), 2), env.tokenizer.decode(train[:9])
            (0.9, 'THE SMALL')
        """
        split = self.split if split is None else split
        if split not in SPLITS:
            raise ValueError(f"unknown split {split!r}; choose from {list(SPLITS)}")
        return (self.tokens[: self.n_train] if split == "train" else self.tokens[self.n_train :]).copy()

    def __len__(self) -> int:
        """Number of targets (episodes) in this env's split."""
        lo, hi = self._targets[self.split]
        return hi - lo

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        super().reset(seed=seed)
        lo, hi = self._targets[self.split]
        n = hi - lo
        i = next_example(self, n, seed, options)
        t = lo + i
        self._t = t
        self.last_action = None
        if self.render_mode == "human":
            self.render()
        return self.tokens[t - self.context : t].copy(), {"label": int(self.tokens[t]), "position": t}

    def step(self, action):
        if self._t is None:
            raise RuntimeError("call reset() before step()")
        vocab = self.tokenizer.vocab_size
        a = discrete_action(action, vocab, what="a token id")
        t = self._t
        label = int(self.tokens[t])
        self.last_action = a
        if self.render_mode == "human":
            self.render()
        return self.tokens[t - self.context : t].copy(), float(a == label), True, False, {"label": label, "position": t}

    def get_state(self) -> dict:
        """The example being served and the evaluation cursor, as plain values (np_random aside); see `set_state`.

            >>> env = NextToken()
            >>> _, info = env.reset(seed=0)
            >>> env.get_state()["t"] == info["position"]
            True
        """
        return {"cursor": self._cursor, "t": self._t, "last_action": self.last_action}

    def set_state(self, state: dict) -> None:
        """Continue where `get_state` was taken (on an env made with the same arguments).

            >>> env, copy = NextToken(), NextToken()
            >>> _ = env.reset(seed=0); _ = copy.reset(seed=1)
            >>> copy.set_state(env.get_state())
            >>> copy.step(0)[4] == env.step(0)[4]  # the same position in the text
            True
        """
        self._cursor, self._t, self.last_action = int(state["cursor"]), state["t"], state["last_action"]

    # ------------------------------------------------------------- rendering
    def render(self):
        return _render.render(self, self._draw, self._render_text, ready=self._t is not None)

    def _render_text(self) -> str:
        t = self._t
        decode = self.tokenizer.decode
        context = decode(self.tokens[t - self.context : t])
        true = decode(self.tokens[t : t + 1])
        line = f"{context!r} -> "
        if self.last_action is None:
            line += f"? (true {true!r})"
        else:
            chosen = decode([self.last_action])
            line += f"chosen {chosen!r} vs true {true!r} ({'right' if chosen == true else 'wrong'})"
        return f"NextToken {self.split} position {t}\n{line}\n"

    def _draw(self):
        pygame = _render.import_pygame()
        t = self._t
        shown = self.tokens[max(t - self.context, t - _MAX_DRAWN) : t].tolist()
        n_rows = math.ceil(min(self.context, _MAX_DRAWN) / _TILES_PER_ROW)
        tile, gap, left = 22, 2, 16
        width, height = 800, 140 + 30 * n_rows
        surf = pygame.Surface((width, height))
        surf.fill(_BG)

        title = _render.font(26, bold=True).render(f"NextToken  -  {self.split} position {t}", True, _INK)
        surf.blit(title, (left, 14))
        legend = _render.font(18).render("\u00b7 space   \u00b6 newline", True, _MUTED)
        surf.blit(legend, legend.get_rect(topright=(width - left, 20)))

        char_font = _render.font(24)
        if self.context > _MAX_DRAWN:
            more = _render.font(18).render(f"(latest {_MAX_DRAWN} of {self.context} context characters)", True, _MUTED)
            surf.blit(more, more.get_rect(topright=(width - left, 34)))
        for k, token in enumerate(shown):
            row, col = divmod(k, _TILES_PER_ROW)
            rect = pygame.Rect(left + col * (tile + gap), 50 + row * 30, tile, 26)
            pygame.draw.rect(surf, _TILE, rect, border_radius=4)
            pygame.draw.rect(surf, _TILE_EDGE, rect, 1, border_radius=4)
            ch = self.tokenizer.chars[token]
            glyph = char_font.render(_visible(ch), True, _MUTED if ch.isspace() else _INK)
            surf.blit(glyph, glyph.get_rect(center=rect.center))

        # Chosen vs true, as two big tiles.
        label = int(self.tokens[t])
        top = 50 + 30 * n_rows + 14
        boxes = [("true", label, _RIGHT)]
        if self.last_action is None:
            boxes.insert(0, ("chosen", None, _PENDING))
        else:
            boxes.insert(0, ("chosen", self.last_action, _RIGHT if self.last_action == label else _WRONG))
        for k, (caption, token, color) in enumerate(boxes):
            x = left + k * 190
            rect = pygame.Rect(x + 80, top, 64, 60)
            cap = _render.font(24).render(caption, True, _INK)
            surf.blit(cap, cap.get_rect(midleft=(x, rect.centery)))
            pygame.draw.rect(surf, color, rect, border_radius=10)
            text = "?" if token is None else _visible(self.tokenizer.chars[token])
            glyph = _render.font(44, bold=True).render(text, True, (255, 255, 255))
            surf.blit(glyph, glyph.get_rect(center=rect.center))
        if self.last_action is not None:
            verdict = "right" if self.last_action == label else "wrong"
            text = _render.font(30, bold=True).render(verdict, True, _RIGHT if verdict == "right" else _WRONG)
            surf.blit(text, text.get_rect(midleft=(left + 400, top + 30)))
        return surf

    def close(self) -> None:
        if self._window is not None:
            self._window.close()
            self._window = None
