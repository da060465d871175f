"""Supervised agent on single-step envs: learning, text generation, persistence, reports, baselines."""

from importlib import resources

import gymnasium as gym
import numpy as np
import pytest
from gymnasium import spaces

import rl_scratch  # noqa: F401  (registers the env ids)
from rl_scratch.agents.common import evaluate
from rl_scratch.agents.registry import AGENTS, load_agent
from rl_scratch.agents.supervised import Supervised, count_baselines, evaluation_report, labelled_examples
from rl_scratch.envs import NextToken

CORPUS = resources.files("rl_scratch.envs").joinpath("data/default_corpus.txt").read_text(encoding="utf-8")
# Split 0 puts several of the overlapping versicolor/virginica flowers in its test set
# (a 5-nearest-neighbour classifier scores 0.90 there); split 1 is a typical one (1.0).
IRIS = {"split_seed": 1}


def iris_env(split="train"):
    return gym.make("rl_scratch/Iris-v0", split=split, **IRIS)


def trained_iris(steps=4000, seed=0):
    env = iris_env()
    agent = Supervised(env.observation_space, env.action_space, seed=seed)
    return agent.learn(iris_env, steps)


@pytest.fixture(scope="module")
def tiny_text(tmp_path_factory):
    """The default corpus' first lines as a corpus file, and a small TinyGPT trained to memorize it."""
    path = tmp_path_factory.mktemp("corpus") / "first_lines.txt"
    path.write_text(CORPUS[:300], encoding="utf-8")

    def make(split="train"):
        return NextToken(corpus_path=path, context=16, split=split)

    env = make()
    config = Supervised.Config(gpt_dim=32, gpt_heads=2, gpt_layers=1, batch_size=16, lr=1e-2)
    agent = Supervised(env.observation_space, env.action_space, config, seed=0)
    agent.learn(make, 16 * 300)
    return make, agent


# ------------------------------------------------------------------ Iris
def test_supervised_learns_iris_quickly():
    agent = trained_iris()
    accuracy = evaluate(agent, iris_env("test"), episodes=30, seed=0)["mean_return"]
    assert accuracy >= 0.93
    assert agent.steps == agent.episodes >= 4000


def test_iris_report_matches_evaluation_and_counts_every_test_flower():
    agent = trained_iris(steps=2000)
    report = agent.report(lambda: iris_env("test"))
    confusion = np.array(report["confusion_matrix"])
    assert confusion.shape == (3, 3) and confusion.sum() == 30 and confusion.sum(axis=1).tolist() == [10, 10, 10]
    assert report["accuracy"] == pytest.approx(np.trace(confusion) / 30)
    assert report["accuracy"] == pytest.approx(evaluate(agent, iris_env("test"), 30, seed=0)["mean_return"])
    assert report["class_names"] == ["setosa", "versicolor", "virginica"] and report["loss"] > 0


def test_reinforce_on_iris_beats_chance():
    from rl_scratch.agents.reinforce import REINFORCE

    env = iris_env()
    agent = REINFORCE(env.observation_space, env.action_space, seed=0).learn(iris_env, 4000)
    report = evaluation_report(agent, lambda: iris_env("test"))
    assert report["accuracy"] > 0.6
    assert np.array(report["confusion_matrix"]).sum() == 30


def test_save_load_round_trip_resumes_exactly(tmp_path):
    agent = trained_iris(steps=1000)
    path = tmp_path / "agent.npz"
    agent.save(path)
    loaded = load_agent(path)
    assert isinstance(loaded, Supervised) and AGENTS["supervised"] is Supervised
    assert (loaded.steps, loaded.episodes, loaded.updates) == (agent.steps, agent.episodes, agent.updates)
    X, _ = iris_env("test").unwrapped.dataset()
    np.testing.assert_array_equal(loaded.logits(X), agent.logits(X))
    # Same optimizer state, generator and place in the pass over the data: the same next 1000 steps.
    agent.learn(iris_env, 2000)
    loaded.learn(iris_env, 2000)
    for ours, theirs in zip(agent.net.parameters(), loaded.net.parameters()):
        np.testing.assert_array_equal(ours.data, theirs.data)


def test_bad_inputs_raise_clear_errors():
    env = iris_env()
    agent = Supervised(env.observation_space, env.action_space)
    with pytest.raises(ValueError, match=r"shape \(4,\)"):
        agent.act(np.zeros(5, dtype=np.float32))
    with pytest.raises(ValueError, match="Discrete action"):
        Supervised(env.observation_space, spaces.Box(-1, 1, (2,)))
    with pytest.raises(ValueError, match="unknown policy"):
        Supervised.Config(policy="cnn")
    with pytest.raises(ValueError, match="vocabulary"):
        agent.generate("abc", 5)


class _LabelledOnlyEnv(gym.Env):
    """Single-step env with no dataset(): is x0 > x1? The answer only in info["label"]."""

    observation_space = spaces.Box(-1.0, 1.0, (2,), np.float32)
    action_space = spaces.Discrete(2)

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.x = self.np_random.uniform(-1, 1, 2).astype(np.float32)
        return self.x.copy(), {}

    def step(self, action):
        label = int(self.x[0] > self.x[1])
        return self.x.copy(), float(action == label), True, False, {"label": label}


def test_labels_from_stepping_when_the_env_has_no_dataset():
    env = _LabelledOnlyEnv()
    agent = Supervised(env.observation_space, env.action_space, Supervised.Config(hidden=(16,)), seed=0)
    agent.learn(_LabelledOnlyEnv, 3000)
    accuracy = evaluate(agent, _LabelledOnlyEnv(), episodes=200, seed=1)["mean_return"]
    assert accuracy > 0.9


# ------------------------------------------------------------------ text
def test_auto_policy_is_gpt_for_text_and_mlp_for_features():
    text = NextToken(context=8)
    assert Supervised(text.observation_space, text.action_space).policy == "gpt"
    assert Supervised(iris_env().observation_space, iris_env().action_space).policy == "mlp"


def test_tinygpt_memorizes_the_first_lines(tiny_text):
    make, agent = tiny_text
    report = agent.report(lambda: make("train"))   # the env's own task: last position, full context
    assert report["loss"] < 0.2 and report["accuracy"] > 0.95
    assert report["loss"] < report["bigram"]["loss"] / 5
    assert agent.vocabulary == list(make().unwrapped.tokenizer.chars)


def test_generation_is_reproducible_and_temperature_matters(tiny_text):
    _, agent = tiny_text
    prompt = CORPUS[:10]
    rng = np.random.default_rng
    first = agent.generate(prompt, 120, 0.8, rng(3))
    assert first == agent.generate(prompt, 120, 0.8, rng(3)) and first.startswith(prompt)
    assert len(first) == len(prompt) + 120
    assert agent.generate(prompt, 60, 0.0, rng(1)) == agent.generate(prompt, 60, 0.0, rng(2))  # greedy

    def memorized_fraction(text):  # share of the sample's 5-grams found in the training text
        grams = [text[i:i + 5] for i in range(len(prompt), len(text) - 4)]
        return np.mean([g in CORPUS[:300] for g in grams])

    cold = np.mean([memorized_fraction(agent.generate(prompt, 120, 0.3, rng(s))) for s in range(3)])
    hot = np.mean([memorized_fraction(agent.generate(prompt, 120, 5.0, rng(s))) for s in range(3)])
    assert cold > 0.9 and hot < 0.5
    with pytest.raises(ValueError, match="not in the training text's vocabulary"):
        agent.generate("\u00e9", 5)


def test_mlp_text_generation_samples_the_model_distribution():
    # the mlp policy's next character is a Categorical draw from softmax(logits / T): its
    # frequencies match those probabilities, and greedy decoding takes the argmax without a draw
    env = NextToken(context=8)
    agent = Supervised(env.observation_space, env.action_space, Supervised.Config(policy="mlp"), seed=0)
    agent.vocabulary = list(env.unwrapped.tokenizer.chars)
    prompt = CORPUS[:8]
    window = np.array([[agent.vocabulary.index(ch) for ch in prompt]], dtype=np.float32)
    logits = agent.logits(window)[0].astype(np.float64)
    temperature = float(logits.std())  # a few characters with sizeable probabilities
    scaled = logits / temperature
    probs = np.exp(scaled - scaled.max())
    probs /= probs.sum()
    rng = np.random.default_rng(0)
    draws = [agent.generate(prompt, 1, temperature, rng)[-1] for _ in range(3000)]
    counts = np.array([draws.count(ch) for ch in agent.vocabulary])
    assert (probs > 0.05).sum() >= 2  # the test needs a spread distribution to mean anything
    np.testing.assert_allclose(counts / len(draws), probs, atol=0.03)
    greedy_rng = np.random.default_rng(1)
    assert agent.generate(prompt, 1, 0.0, greedy_rng)[-1] == agent.vocabulary[int(probs.argmax())]
    assert greedy_rng.random() == np.random.default_rng(1).random()


def test_text_report_scores_exactly_the_env_episodes(tiny_text):
    make, agent = tiny_text
    env = make("val")
    examples = labelled_examples(env)
    assert len(examples.labels) == len(env.unwrapped)
    obs, _ = env.reset(seed=0)
    for i in range(len(examples.labels)):
        _, _, _, _, info = env.step(0)
        np.testing.assert_array_equal(examples.inputs[i], obs)
        assert examples.labels[i] == info["label"]
        obs, _ = env.reset()
    report = agent.report(lambda: make("val"))
    for key in ("loss", "accuracy", "unigram", "bigram", "sample"):
        assert key in report
    assert "confusion_matrix" not in report or len(report["confusion_matrix"]) <= 20


def test_count_baselines_by_hand():
    # train 0 1 2 0 1 0: unigram counts (3, 2, 1); bigram rows 0: (0, 2, 0), 1: (1, 0, 1), 2: (1, 0, 0).
    train = np.array([0, 1, 2, 0, 1, 0])
    result = count_baselines(train, previous=np.array([0, 0]), targets=np.array([1, 2]), vocab_size=3,
                             smoothing=0.5)
    unigram = np.array([3.5, 2.5, 1.5]) / 7.5
    assert result["unigram"]["loss"] == pytest.approx(-(np.log(unigram[1]) + np.log(unigram[2])) / 2)
    assert result["unigram"]["accuracy"] == 0.0   # always guesses token 0
    row0 = np.array([0.5, 2.5, 0.5]) / 3.5
    assert result["bigram"]["loss"] == pytest.approx(-(np.log(row0[1]) + np.log(row0[2])) / 2)
    assert result["bigram"]["accuracy"] == 0.5    # after 0 it guesses 1: right, then wrong
