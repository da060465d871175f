"""NextToken and CharTokenizer: encoding, labels, splits, corpus errors, rendering."""

import os

os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")

from importlib import resources
from pathlib import Path

import numpy as np
import pytest

from rl_scratch.envs import CharTokenizer, NextToken

CORPUS = resources.files("rl_scratch.envs").joinpath("data/default_corpus.txt").read_text(encoding="utf-8")


# ---------------------------------------------------------------- tokenizer
def test_default_corpus_is_packaged_and_sized():
    assert 5_000 <= len(CORPUS.encode("utf-8")) <= 20_000
    assert "grid" in CORPUS and "gradient" in CORPUS


def test_tokenizer_vocab_is_sorted_unique_characters():
    tok = CharTokenizer("hello, world")
    assert tok.chars == (" ", ",", "d", "e", "h", "l", "o", "r", "w")
    assert len(tok) == tok.vocab_size == 9
    assert tok.stoi["h"] == 4


def test_tokenizer_round_trip():
    tok = CharTokenizer(CORPUS)
    ids = tok.encode(CORPUS)
    assert ids.dtype == np.int64 and ids.shape == (len(CORPUS),)
    assert ids.min() == 0 and ids.max() == tok.vocab_size - 1
    assert tok.decode(ids) == CORPUS
    rng = np.random.default_rng(0)
    random_ids = rng.integers(tok.vocab_size, size=200)
    np.testing.assert_array_equal(tok.encode(tok.decode(random_ids)), random_ids)
    assert tok.decode([]) == "" and tok.encode("").shape == (0,)
    unicode = CharTokenizer("héllo wörld ☃")
    assert unicode.decode(unicode.encode("wö☃")) == "wö☃"


def test_tokenizer_errors():
    tok = CharTokenizer("abc")
    with pytest.raises(ValueError, match=r"1 character not in the tokenizer's vocabulary: 'z' \(first at position 2\)"):
        tok.encode("abzc")
    # every unknown character is named once, in order, beside the vocabulary
    with pytest.raises(ValueError, match=r"2 characters not in the tokenizer's vocabulary: 'Z', 'e' \(first at "
                                         r"position 0\); its 3 characters are 'abc'"):
        tok.encode("ZebZa")
    with pytest.raises(ValueError, match=r"'€'"):
        tok.encode("€")  # code point beyond the lookup table
    with pytest.raises(ValueError, match=r"token id 3 is outside the vocabulary \[0, 3\)"):
        tok.decode([0, 3])
    with pytest.raises(ValueError, match="token id -1"):
        tok.decode([-1])
    with pytest.raises(ValueError, match="integer ids"):
        tok.decode([0.5])
    with pytest.raises(ValueError, match="non-empty"):
        CharTokenizer("")


# ------------------------------------------------------------------ episodes
def test_observation_followed_by_label_is_the_corpus_slice():
    env = NextToken(context=16)
    env.reset(seed=0)
    for _ in range(50):
        obs, info = env.reset()
        t = info["position"]
        assert obs.dtype == np.int64 and obs.shape == (16,) and obs in env.observation_space
        assert 16 <= t < env.n_train
        window = np.append(obs, info["label"])
        np.testing.assert_array_equal(window, env.tokens[t - 16 : t + 1])
        assert env.tokenizer.decode(window) == CORPUS[t - 16 : t + 1]
        _, reward, terminated, truncated, step_info = env.step(info["label"])
        assert (reward, terminated, truncated, step_info) == (1.0, True, False, info)


def test_wrong_guess_gets_zero():
    env = NextToken()
    _, info = env.reset(seed=1)
    _, reward, terminated, _, _ = env.step((info["label"] + 1) % env.action_space.n)
    assert reward == 0.0 and terminated


def test_split_is_first_90_and_last_10_percent():
    env = NextToken()
    n = len(CORPUS)
    assert env.n_train == int(n * 0.9)
    train, val = env.dataset("train"), env.dataset("val")
    assert train.dtype == np.int64
    np.testing.assert_array_equal(np.concatenate([train, val]), env.tokenizer.encode(CORPUS))
    assert len(NextToken(split="val")) == len(val)
    assert len(env) == len(train) - env.context
    with pytest.raises(ValueError, match="unknown split 'test'"):
        env.dataset("test")


def test_val_mode_iterates_positions_in_order_and_cycles():
    env = NextToken(split="val", context=8)
    _, info = env.reset(seed=0)
    positions = [info["position"]]
    for _ in range(len(env) - 1):
        positions.append(env.reset()[1]["position"])
    assert positions == list(range(env.n_train, len(CORPUS)))
    assert env.reset()[1]["position"] == env.n_train
    assert env.reset(seed=5)[1]["position"] == env.n_train


def test_train_sampling_is_seeded_and_unseeded_resets_differ():
    def positions(seed):
        env = NextToken()
        return [env.reset(seed=seed)[1]["position"]] + [env.reset()[1]["position"] for _ in range(10)]

    assert positions(3) == positions(3)
    assert positions(3) != positions(4)
    assert positions(None) != positions(None)


def test_reset_index_option():
    env = NextToken(context=4)
    obs, info = env.reset(options={"index": 0})
    assert info["position"] == 4
    np.testing.assert_array_equal(obs, env.tokens[:4])
    with pytest.raises(ValueError, match="options"):
        env.reset(options={"index": len(env)})


def test_invalid_actions():
    env = NextToken()
    with pytest.raises(RuntimeError, match="reset"):
        env.step(0)
    env.reset(seed=0)
    vocab = env.action_space.n
    for action in (vocab, -1, 2.0, "a"):
        with pytest.raises(ValueError, match=rf"expected a token id in \[0, {vocab - 1}\]"):
            env.step(action)


# ------------------------------------------------------------------- corpora
def test_custom_corpus(tmp_path):
    path = tmp_path / "tiny.txt"
    path.write_text("abcabcabcabd", encoding="utf-8")
    env = NextToken(corpus_path=path, context=3)
    assert env.tokenizer.chars == ("a", "b", "c", "d")
    assert env.corpus_name == str(path)
    _, info = env.reset(seed=0)
    assert 3 <= info["position"] < env.n_train


def test_minimum_length_corpus_has_one_example_per_split(tmp_path):
    path = tmp_path / "short.txt"
    path.write_text("0123456789", encoding="utf-8")
    env = NextToken(corpus_path=path, context=8)  # exactly context + 2 characters
    assert len(env) == 1 and len(NextToken(corpus_path=path, context=8, split="val")) == 1
    assert env.reset(seed=0)[1]["position"] == 8
    with pytest.raises(ValueError, match=r"short.txt' is too short: 10 characters, but context=9 needs at least 11"):
        NextToken(corpus_path=path, context=9)


@pytest.mark.parametrize(
    "content,message",
    [
        (None, "does not exist"),
        (b"", "is empty"),
        (b"caf\xe9 au lait, plain latin-1", r"is not UTF-8 text: byte 0xe9 at offset 3"),
    ],
)
def test_bad_corpus_files(tmp_path, content, message):
    path = tmp_path / "corpus.txt"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(ValueError, match=rf"corpus file '.*corpus.txt' {message}"):
        NextToken(corpus_path=path)


def test_directory_and_unreadable_corpus(tmp_path, monkeypatch):
    with pytest.raises(ValueError, match="is a directory"):
        NextToken(corpus_path=tmp_path)
    path = tmp_path / "locked.txt"
    path.write_text("x" * 100)

    def deny(self):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(Path, "read_bytes", deny)
    with pytest.raises(ValueError, match="locked.txt' cannot be read: Permission denied"):
        NextToken(corpus_path=path)


def test_bad_constructor_arguments():
    with pytest.raises(ValueError, match="unknown split 'test'"):
        NextToken(split="test")
    with pytest.raises(ValueError, match="context must be a positive int"):
        NextToken(context=0)


# ----------------------------------------------------------------- rendering
def test_render_modes():
    env = NextToken(render_mode="rgb_array")
    _, info = env.reset(seed=0)
    pending = env.render()
    assert pending.shape == (170, 800, 3) and pending.dtype == np.uint8
    env.step(info["label"])
    right = env.render()
    assert not np.array_equal(pending, right)

    env = NextToken(render_mode="ansi", context=8)
    _, info = env.reset(seed=0)
    t = info["position"]
    wrong = (info["label"] + 1) % env.action_space.n
    env.step(wrong)
    text = env.render()
    expected = (
        f"{CORPUS[t - 8:t]!r} -> chosen {env.tokenizer.chars[wrong]!r} vs true {CORPUS[t]!r} (wrong)"
    )
    assert expected in text


def test_long_context_picture_is_capped():
    env = NextToken(render_mode="rgb_array", context=300)
    env.reset(seed=0)
    assert env.render().shape == (140 + 30 * 3, 800, 3)


def test_human_mode_with_dummy_driver():
    env = NextToken(render_mode="human")
    env.metadata = {**env.metadata, "render_fps": 1000}
    env.reset(seed=0)
    env.step(0)
    assert env.render() is None
    env.close()
    env.close()
