"""Supervised: cross-entropy on the labels of single-step environments, mini-batched.

Iris and NextToken are classification tasks dressed as RL: one observation, one
action, reward 1 when the action is the label. This agent skips the reward and
learns the labels, behind the same act/learn/save/load interface as the RL
agents, so the trainer, `evaluate` and play treat it like any other agent.
Spaces: Box observations (features, or token ids), Discrete actions (the labels).

Where the labels come from (first that applies):
- `env.unwrapped.dataset("train")` returns (X, y) (Iris): shuffled mini-batches
  of the whole training split, one pass after another;
- it returns a token array (NextToken): random windows of `context + 1` tokens,
  as nanoGPT trains. Policy "gpt" (TinyGPT) learns every position of a window
  (the next token after each of its prefixes), which takes `context` times more
  targets from each forward pass than the env's last-position task; policy
  "mlp" learns the last position only;
- otherwise `info["label"]` of env steps (random actions), one batch of
  episodes per update.

One step is one training example (one observation, as one env episode), so a
`--steps` budget means the same amount of data as for the RL agents; a window of
text is one example. Reports (`report`, or `evaluation_report` for any agent):
accuracy, cross-entropy and confusion matrix on the eval env's split; for text,
loss in nats/char, accuracy, the unigram and bigram count baselines on the same
targets, and a generated sample.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from gymnasium import spaces

from rl_scratch.nets import Adam, Categorical, Tensor, clip_grad_norm
from rl_scratch.nets import functional as F
from rl_scratch.nets.transformer import next_token_logits

from .base import Agent
from .callbacks import as_callback
from .common import ObsEncoder, categorical_log_probs, check_total_steps, require_discrete_actions, sample_categorical
from .policies import POLICIES, build_network, check_policy
from .run_state import Run, open_env

SUPERVISED_POLICIES = ("auto", *(p for p in POLICIES if p != "attention"))  # attention reads grid observations
MAX_CONFUSION_CLASSES = 20  # larger confusion matrices (a 65-character vocabulary) are left out of reports
REPORT_BATCH = 256


@dataclass
class SupervisedConfig:
    """The settings of Supervised, one documented field each; an invalid value raises ValueError at once.

        >>> SupervisedConfig().policy
        'auto'
    """

    lr: float = 3e-3
    """Adam learning rate"""
    batch_size: int = 32
    """examples per gradient step"""
    hidden: tuple[int, ...] = (64, 64)
    """hidden layer sizes of the mlp classifier"""
    activation: str = "relu"
    """hidden activation of the mlp classifier"""
    policy: str = "auto"
    """mlp, gpt, or auto: gpt for token-id observations whose ids are the actions (NextToken), else mlp"""
    weight_decay: float = 0.0
    """L2 penalty added to the gradients by Adam"""
    max_grad_norm: float = 1.0
    """clip the global gradient norm to this (0: no clipping)"""
    gpt_dim: int = 64
    """gpt policy: width of the residual stream"""
    gpt_heads: int = 4
    """gpt policy: attention heads per block"""
    gpt_layers: int = 2
    """gpt policy: transformer blocks"""
    report_examples: int = 20_000
    """most examples report() scores; longer splits are subsampled evenly"""
    sample_length: int = 200
    """characters of generated text in a text report"""
    sample_temperature: float = 0.8
    """sampling temperature of that text"""

    def __post_init__(self):
        check_policy(self.policy, SUPERVISED_POLICIES)
        for name in ("batch_size", "report_examples"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.max_grad_norm < 0 or self.weight_decay < 0 or self.sample_temperature < 0:
            raise ValueError("max_grad_norm, weight_decay and sample_temperature must be >= 0")


# ------------------------------------------------------------------ baselines
def count_baselines(train_tokens: np.ndarray, previous: np.ndarray, targets: np.ndarray, vocab_size: int,
                    smoothing: float = 1.0) -> dict:
    """Unigram and bigram models fit by counting `train_tokens` (add-`smoothing`), scored on `targets`.

    `previous[i]` is the token before `targets[i]` (the bigram's condition).
    Returns {"unigram": {"loss", "accuracy"}, "bigram": {...}}, loss in nats per token.

        >>> tokens = np.array([0, 1, 0, 1, 0, 1])
        >>> scores = count_baselines(tokens, previous=np.array([0]), targets=np.array([1]), vocab_size=2, smoothing=0.0)
        >>> scores["bigram"]["accuracy"], scores["unigram"]["loss"] == float(np.log(2))
        (1.0, True)
    """
    train_tokens, previous, targets = (np.asarray(a, dtype=np.int64) for a in (train_tokens, previous, targets))
    unigram = np.bincount(train_tokens, minlength=vocab_size) + smoothing
    unigram = unigram / unigram.sum()
    pairs = np.bincount(train_tokens[:-1] * vocab_size + train_tokens[1:], minlength=vocab_size**2)
    bigram = pairs.reshape(vocab_size, vocab_size) + smoothing   # [previous, next]
    bigram = bigram / bigram.sum(axis=1, keepdims=True)
    return {
        "unigram": {"loss": float(-np.log(unigram[targets]).mean()),
                    "accuracy": float((unigram.argmax() == targets).mean())},
        "bigram": {"loss": float(-np.log(bigram[previous, targets]).mean()),
                   "accuracy": float((bigram[previous].argmax(axis=1) == targets).mean())},
    }


# ----------------------------------------------------------- labelled data
@dataclass
class LabelledExamples:
    """A split's observations and labels, as an env would serve them one episode at a time.

        >>> examples = LabelledExamples("test", np.zeros((2, 4)), np.array([0, 1]), n_classes=2)
        >>> summarize(examples, np.array([0, 0]))["accuracy"]
        0.5
    """

    split: str
    inputs: np.ndarray
    """(n, *obs_shape) observations"""
    labels: np.ndarray
    """(n,) int labels"""
    n_classes: int
    class_names: list | None = None
    text: dict | None = None
    """text envs: baselines, prompt (the characters before the first target)"""


def labelled_examples(env, max_examples: int | None = None) -> LabelledExamples | None:
    """The eval env's split as arrays through `env.unwrapped.dataset()`; None when the env has no dataset.

    Text envs (a token array and a `context`): target t's input is the `context`
    tokens before it; targets of the validation split take their first contexts
    from the end of the training text, as the env does. More than `max_examples`
    targets are subsampled evenly.

        >>> import gymnasium as gym
        >>> import rl_scratch
        >>> examples = labelled_examples(gym.make("rl_scratch/Iris-v0", split="test"))
        >>> examples.inputs.shape, examples.n_classes
        ((30, 4), 3)
    """
    base = env.unwrapped
    if not callable(getattr(base, "dataset", None)):
        return None
    split = getattr(base, "split", None)
    data = base.dataset()
    n_classes = int(env.action_space.n)
    if isinstance(data, tuple):
        inputs, labels = np.asarray(data[0]), np.asarray(data[1], dtype=np.int64)
        chosen = _spread(len(labels), max_examples)
        names = getattr(base, "class_names", None)
        return LabelledExamples(split, inputs[chosen], labels[chosen], n_classes,
                                list(names) if names is not None else None)
    context = int(base.context)
    train = np.asarray(base.dataset("train"), dtype=np.int64)
    # Training targets start at `context`; other splits borrow their first contexts from the training text.
    stream = train if split == "train" else np.concatenate([train[-context:], np.asarray(data, dtype=np.int64)])
    positions = context + _spread(len(stream) - context, max_examples)
    inputs = stream[positions[:, None] - context + np.arange(context)]   # (n, context)
    labels, previous = stream[positions], stream[positions - 1]
    text = {"baselines": count_baselines(train, previous, labels, n_classes),
            "prompt": base.tokenizer.decode(stream[:context])}
    return LabelledExamples(split, inputs, labels, n_classes, text=text)


def _spread(n: int, most: int | None) -> np.ndarray:
    """All of range(n), or `most` indices spread evenly over it."""
    if most is None or n <= most:
        return np.arange(n)
    return np.unique(np.linspace(0, n - 1, most).round().astype(np.int64))


def summarize(examples: LabelledExamples, predictions: np.ndarray, log_probs: np.ndarray | None = None) -> dict:
    """Accuracy (and cross-entropy from `log_probs` (n, classes)), confusion matrix, text baselines.

        >>> examples = LabelledExamples("test", np.zeros((3, 1)), np.array([0, 1, 1]), n_classes=2)
        >>> summarize(examples, np.array([0, 1, 0]))["confusion_matrix"]
        [[1, 0], [1, 1]]
    """
    labels = examples.labels
    result = {"split": examples.split, "examples": int(len(labels)),
              "accuracy": float((predictions == labels).mean())}
    if log_probs is not None:
        result["loss"] = float(-log_probs[np.arange(len(labels)), labels].mean())
    if examples.n_classes <= MAX_CONFUSION_CLASSES:
        confusion = np.zeros((examples.n_classes, examples.n_classes), dtype=np.int64)
        np.add.at(confusion, (labels, predictions), 1)
        result["confusion_matrix"] = confusion.tolist()  # rows: true class, columns: predicted
        if examples.class_names is not None:
            result["class_names"] = examples.class_names
    if examples.text is not None:
        result.update(examples.text["baselines"])
    return result


def evaluation_report(agent, make_eval_env, max_examples: int = 2000) -> dict | None:
    """The held-out report of any agent on a single-step labelled env, for eval.json; None for other envs.

    Agents with a `report` method (Supervised) make their own; others are scored
    by `act(obs, deterministic=True)` on at most `max_examples` examples.

        >>> import gymnasium as gym
        >>> import rl_scratch
        >>> from rl_scratch.agents import PPO
        >>> env = gym.make("rl_scratch/Iris-v0")
        >>> report = evaluation_report(PPO(env.observation_space, env.action_space), lambda: gym.make(
        ...     "rl_scratch/Iris-v0", split="test"))
        >>> report["examples"], len(report["confusion_matrix"])
        (30, 3)
    """
    if callable(getattr(agent, "report", None)):
        return agent.report(make_eval_env)
    env = make_eval_env()
    try:
        examples = labelled_examples(env, max_examples)
    finally:
        env.close()
    if examples is None:
        return None
    predictions = np.array([agent.act(x, deterministic=True) for x in examples.inputs], dtype=np.int64)
    return summarize(examples, predictions)


# ---------------------------------------------------------------- batches
class ArrayBatches:
    """Shuffled mini-batches of (X, y): one pass over the data, then a fresh permutation.

        >>> batches = ArrayBatches(np.arange(5)[:, None], np.arange(5))
        >>> rng = np.random.default_rng(0)
        >>> sorted(np.concatenate([batches.next(2, rng)[1] for _ in range(3)]).tolist())  # one pass: every row once
        [0, 1, 2, 3, 4]
    """

    def __init__(self, inputs: np.ndarray, labels: np.ndarray, order: np.ndarray | None = None, cursor: int = 0):
        self.inputs, self.labels = inputs, labels
        resumable = order is not None and len(order) == len(labels)  # a saved pass over this same dataset
        self.order = order if resumable else np.zeros(0, dtype=np.int64)
        self.cursor = cursor if resumable else 0

    def next(self, batch_size: int, rng: np.random.Generator):
        if self.cursor >= len(self.order):
            self.order, self.cursor = rng.permutation(len(self.labels)), 0
        rows = self.order[self.cursor:self.cursor + batch_size]
        self.cursor += len(rows)
        return self.inputs[rows], self.labels[rows]


class WindowBatches:
    """Random windows of a token stream: inputs tokens[s:s+T], targets tokens[s+1:s+T+1] (B, T).

        >>> inputs, targets = WindowBatches(np.arange(10), context=3).next(2, np.random.default_rng(0))
        >>> inputs.shape, bool((targets == inputs + 1).all())
        ((2, 3), True)
    """

    def __init__(self, tokens: np.ndarray, context: int):
        if len(tokens) <= context:
            raise ValueError(f"the training text has {len(tokens)} tokens; windows of context {context} need more")
        self.tokens, self.context = tokens, context

    def next(self, batch_size: int, rng: np.random.Generator):
        starts = rng.integers(0, len(self.tokens) - self.context, batch_size)
        rows = starts[:, None] + np.arange(self.context)   # (B, T)
        return self.tokens[rows], self.tokens[rows + 1]


class SteppedBatches:
    """Examples gathered by stepping the env with random actions: observation and info["label"].

        >>> import gymnasium as gym
        >>> import rl_scratch
        >>> env = gym.make("rl_scratch/Iris-v0")
        >>> obs, info = env.reset(seed=0)
        >>> inputs, labels = SteppedBatches(env, obs, info).next(4, np.random.default_rng(0))
        >>> inputs.shape, labels.shape
        ((4, 4), (4,))
    """

    def __init__(self, env, obs, info):
        self.env, self.obs, self.info = env, obs, info

    def next(self, batch_size: int, rng: np.random.Generator):
        inputs, labels = [], []
        for _ in range(batch_size):
            next_obs, _, terminated, truncated, step_info = self.env.step(self.env.action_space.sample())
            label = step_info.get("label", self.info.get("label"))
            if label is None:
                raise ValueError(f"supervised learning needs labels: {self.env.unwrapped} has no dataset() "
                                 "accessor and its info has no 'label' key; train an RL agent on it instead")
            inputs.append(np.asarray(self.obs))
            labels.append(int(label))
            self.obs, self.info = self.env.reset() if terminated or truncated else (next_obs, step_info)
        return np.stack(inputs), np.array(labels, dtype=np.int64)


# ------------------------------------------------------------------ agent
class Supervised(Agent):
    """Cross-entropy on the labels of a single-step env (see the module docstring).

        >>> import gymnasium as gym
        >>> import rl_scratch
        >>> env = gym.make("rl_scratch/Iris-v0")
        >>> agent = Supervised(env.observation_space, env.action_space, seed=0).learn(env, 3000)
        >>> evaluation_report(agent, lambda: gym.make("rl_scratch/Iris-v0", split="test"))["accuracy"] > 0.8
        True
    """

    name = "supervised"
    Config = SupervisedConfig
    saved = ("net", "optimizer", "steps", "episodes", "updates", "rng", "last_loss", "vocabulary", "data_pass", "run")

    def __init__(self, observation_space, action_space, config: SupervisedConfig | None = None, seed: int = 0):
        self.config = c = config if config is not None else self.Config()
        self.observation_space, self.action_space = observation_space, action_space
        self.n_classes = require_discrete_actions(action_space, self.name)
        self.policy = c.policy if c.policy != "auto" else self.auto_policy(observation_space, self.n_classes)
        self.encoder = ObsEncoder(observation_space, self.name)
        if self.policy == "gpt" and len(observation_space.shape) != 1:
            raise ValueError(f"policy='gpt' reads a 1-D context of token ids; got {observation_space!r}")
        self.rng = np.random.default_rng(seed)
        self.net = build_network(self.policy, self.encoder.shape, self.n_classes, c.hidden, self.rng,
                                 activation=c.activation, gpt_dim=c.gpt_dim, gpt_heads=c.gpt_heads,
                                 gpt_layers=c.gpt_layers)
        self.optimizer = Adam(self.net.parameters(), lr=c.lr, weight_decay=c.weight_decay)
        self.steps = self.episodes = self.updates = 0
        self.last_loss = None
        self.vocabulary: list[str] | None = None  # the text env's characters, so generate() needs no env
        self.batches = None
        self.run = Run()

    @staticmethod
    def auto_policy(observation_space, n_classes: int) -> str:
        """gpt for a 1-D integer Box whose values are action ids (a context of tokens), else mlp."""
        is_tokens = (isinstance(observation_space, spaces.Box) and len(observation_space.shape) == 1
                     and np.issubdtype(observation_space.dtype, np.integer)
                     and observation_space.low.min() >= 0 and observation_space.high.max() < n_classes)
        return "gpt" if is_tokens else "mlp"

    # ---------------------------------------------------------------- acting
    def logits(self, features: np.ndarray) -> np.ndarray:
        """Class scores (B, n_classes) of a batch of encoded observations."""
        return self.net.predict(features)

    def act(self, obs, deterministic: bool = False, rng: np.random.Generator | None = None) -> int:
        logits = self.logits(self.encoder.one(obs))
        if deterministic:
            return int(logits[0].argmax())
        return int(sample_categorical(logits, self.rng if rng is None else rng)[0])

    def policy_probs(self, observations) -> np.ndarray:
        return np.exp(categorical_log_probs(self.logits(self.encoder.many(observations))))

    def generate(self, prompt: str, length: int, temperature: float = 1.0,
                 rng: np.random.Generator | None = None) -> str:
        """`prompt` followed by `length` sampled characters (temperature 0: greedy)."""
        if self.vocabulary is None:
            raise ValueError("generate needs an agent trained on a text env (NextToken); this one has no vocabulary")
        rng = rng if rng is not None else self.rng
        stoi = {ch: i for i, ch in enumerate(self.vocabulary)}
        unknown = [ch for ch in prompt if ch not in stoi]
        if unknown:
            raise ValueError(f"prompt character {unknown[0]!r} is not in the training text's vocabulary "
                             f"{''.join(self.vocabulary)!r}")
        if not prompt:
            raise ValueError("prompt must contain at least one character")
        ids = np.array([stoi[ch] for ch in prompt], dtype=np.int64)
        if self.policy == "gpt":
            out = self.net.gpt.generate(ids, length, temperature=temperature, rng=rng)
        else:
            context = self.encoder.shape[0]
            pad = stoi.get(" ", 0)  # an mlp needs exactly `context` ids: pad short prompts on the left
            out = list(ids)
            for _ in range(length):
                window = np.array(([pad] * context + out)[-context:], dtype=np.float32)
                next_token = Categorical(next_token_logits(self.logits(window[None]), temperature))  # (1, V)
                out.append(int((next_token.mode() if temperature == 0 else next_token.sample(rng))[0]))
        return prompt + "".join(self.vocabulary[i] for i in np.asarray(out)[len(ids):])

    # -------------------------------------------------------------- learning
    def update(self, inputs: np.ndarray, labels: np.ndarray) -> tuple[float, float]:
        """One gradient step on a batch; returns (loss, accuracy on the batch before the step)."""
        c = self.config
        if labels.ndim == 2 and self.policy == "gpt":
            logits = self.net.gpt(inputs)                     # (B, T, V): every position of each window
        else:
            labels = labels[:, -1] if labels.ndim == 2 else labels
            logits = self.net(Tensor(self.encoder.batch(inputs)))  # (B, n_classes)
        loss = F.cross_entropy(logits, labels)
        self.optimizer.zero_grad()
        loss.backward()
        if c.max_grad_norm > 0:
            clip_grad_norm(self.optimizer.params, c.max_grad_norm)
        self.optimizer.step()
        self.updates += 1
        return float(loss.data), float((logits.data.argmax(axis=-1) == labels).mean())

    def _batches(self, env, obs, info):
        """Where the training examples come from (see the module docstring)."""
        base = env.unwrapped
        data = base.dataset("train") if callable(getattr(base, "dataset", None)) else None
        if isinstance(data, tuple):
            previous = self.batches if isinstance(self.batches, ArrayBatches) else ArrayBatches(None, np.zeros(0))
            return ArrayBatches(np.asarray(data[0]), np.asarray(data[1], dtype=np.int64), previous.order,
                                previous.cursor)
        if data is not None:
            chars = list(base.tokenizer.chars)
            if self.vocabulary is not None and chars != self.vocabulary:
                raise ValueError(f"this agent was trained on a text with vocabulary {''.join(self.vocabulary)!r}; "
                                 f"the env's text has {''.join(chars)!r}: train on the same corpus")
            self.vocabulary = chars
            return WindowBatches(np.asarray(data, dtype=np.int64), int(base.context))
        return SteppedBatches(env, obs, info)

    def learn(self, env, total_steps: int, callback=None, progress_bar: bool = False):
        """Learn from `total_steps` more examples of `env` (an env or a function that makes one), in
        whole batches; `callback(record)` after each batch (its accuracy as "return"), False stops.

            >>> import gymnasium as gym
            >>> import rl_scratch
            >>> env = gym.make("rl_scratch/Iris-v0")
            >>> agent = Supervised(env.observation_space, env.action_space, seed=0)
            >>> agent.learn(env, 310).steps >= 310  # whole batches
            True
        """
        end = self.steps + check_total_steps(total_steps)
        callback = as_callback(callback, self, total_steps, progress_bar)
        c, run = self.config, self.run
        env, owned = open_env(env, self)
        try:
            fresh = run.begin(env, self.rng)
            obs, info = fresh if fresh is not None else (run.vars.get("obs"), {"label": run.vars.get("label")})
            self.batches = self._batches(env, obs, info)
            while self.steps < end:
                inputs, labels = self.batches.next(c.batch_size, self.rng)  # whole batches: a budget that ends
                # inside one runs it to its end, so learn(N); learn(M) makes the batches learn(N + M) makes
                self.last_loss, accuracy = self.update(inputs, labels)
                self.steps += len(inputs)
                self.episodes += len(inputs)
                record = {"step": self.steps, "episode": self.episodes, "return": accuracy, "length": 1,
                          "loss": self.last_loss, "lr": self.optimizer.lr}
                if callback is not None and callback(record) is False:
                    break
        finally:
            if isinstance(self.batches, SteppedBatches):
                run.vars = {"obs": np.asarray(self.batches.obs), "label": self.batches.info.get("label")}
            run.end()
            if owned:
                env.close()
        return self

    # ------------------------------------------------------------- reports
    def report(self, make_eval_env) -> dict | None:
        """Accuracy, cross-entropy and confusion matrix on the eval env's split; text: baselines and a sample.

        None when the env has no dataset() accessor (labels only come from stepping it).
        """
        env = make_eval_env()
        try:
            examples = labelled_examples(env, self.config.report_examples)
        finally:
            env.close()
        if examples is None:
            return None
        log_probs = np.concatenate([
            categorical_log_probs(self.logits(self.encoder.batch(examples.inputs[i:i + REPORT_BATCH])))
            for i in range(0, len(examples.labels), REPORT_BATCH)])
        result = summarize(examples, log_probs.argmax(axis=1), log_probs)
        if examples.text is not None:
            result["sample_prompt"] = examples.text["prompt"]
            result["sample"] = self.generate(examples.text["prompt"], self.config.sample_length,
                                             self.config.sample_temperature, np.random.default_rng(0))
        return result

    # ---------------------------------------------------------- persistence
    @property
    def data_pass(self) -> dict | None:
        """The pass over a training set in progress (shuffled order, position), for checkpoints."""
        if isinstance(self.batches, ArrayBatches) and len(self.batches.order):
            return {"order": self.batches.order, "cursor": self.batches.cursor}
        return None

    @data_pass.setter
    def data_pass(self, value: dict | None) -> None:
        if value is not None:
            order = np.asarray(value["order"])
            self.batches = ArrayBatches(None, np.zeros(len(order)), order, int(value["cursor"]))
