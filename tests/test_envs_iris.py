"""Iris: split, standardization, episode order, rewards, dataset accessor, rendering."""

import os

os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")

import numpy as np
import pytest

from rl_scratch.envs import Iris
from rl_scratch.envs.iris import load_iris


def test_packaged_table():
    X, y, names = load_iris()
    assert X.shape == (150, 4) and y.dtype == np.int64
    assert names == ("setosa", "versicolor", "virginica")
    assert np.bincount(y).tolist() == [50, 50, 50]
    np.testing.assert_array_equal(X[0], [5.1, 3.5, 1.4, 0.2])  # first data row of the csv


@pytest.mark.parametrize("test_fraction,per_class", [(0.2, 10), (0.3, 15)])
def test_split_is_stratified_disjoint_and_complete(test_fraction, per_class):
    env = Iris(test_fraction=test_fraction)
    _, y_all, _ = load_iris()
    train, test = env.split_rows["train"], env.split_rows["test"]
    assert not set(train) & set(test)
    assert sorted(np.concatenate([train, test]).tolist()) == list(range(150))
    assert np.bincount(y_all[test]).tolist() == [per_class] * 3
    assert np.bincount(y_all[train]).tolist() == [50 - per_class] * 3
    assert np.bincount(env.dataset("test")[1]).tolist() == [per_class] * 3


def test_split_depends_on_split_seed_only():
    a, b, c = Iris(split_seed=0), Iris(split_seed=0), Iris(split_seed=1)
    np.testing.assert_array_equal(a.split_rows["test"], b.split_rows["test"])
    assert set(a.split_rows["test"]) != set(c.split_rows["test"])
    # The test set's order mixes the classes, so a short evaluation sees all three.
    assert len(set(a.dataset("test")[1][:6].tolist())) == 3


def test_standardization_uses_training_statistics_only():
    env = Iris()
    X_raw, y_raw, _ = load_iris()
    train_rows = env.split_rows["train"]
    np.testing.assert_allclose(env.mean, X_raw[train_rows].mean(axis=0))
    np.testing.assert_allclose(env.std, X_raw[train_rows].std(axis=0))
    X_train, y_train = env.dataset("train")
    X_test, y_test = env.dataset("test")
    assert X_train.dtype == np.float32 and y_train.dtype == np.int64
    np.testing.assert_allclose(X_train.mean(axis=0), 0.0, atol=1e-5)
    np.testing.assert_allclose(X_train.std(axis=0), 1.0, atol=1e-5)
    np.testing.assert_allclose(X_test, (X_raw[env.split_rows["test"]] - env.mean) / env.std, rtol=1e-5, atol=1e-6)
    # With full-data statistics the test features would be standardized differently.
    full = (X_raw[env.split_rows["test"]] - X_raw.mean(axis=0)) / X_raw.std(axis=0)
    assert not np.allclose(X_test, full, atol=1e-3)
    np.testing.assert_array_equal(y_test, y_raw[env.split_rows["test"]])
    assert all(x in env.observation_space for x in np.concatenate([X_train, X_test]))


def test_dataset_returns_copies():
    env = Iris()
    X, y = env.dataset()
    X[:] = 0
    y[:] = 0
    assert env.dataset()[0].any() and env.dataset()[1].any()
    with pytest.raises(ValueError, match="unknown split 'val'.*'test'"):
        env.dataset("val")


def test_test_mode_iterates_the_whole_test_set_in_order():
    env = Iris(split="test")
    X_test, y_test = env.dataset()
    assert len(env) == 30
    env.reset(seed=3)
    env.reset()
    obs, info = env.reset(seed=0)  # a seeded reset restarts at the first flower
    seen_obs, seen_labels = [obs], [info["label"]]
    for _ in range(len(env) - 1):
        obs, info = env.reset()
        seen_obs.append(obs)
        seen_labels.append(info["label"])
    np.testing.assert_array_equal(np.stack(seen_obs), X_test)
    assert seen_labels == y_test.tolist()
    obs, info = env.reset()  # cycles
    assert info["index"] == 0 and np.array_equal(obs, X_test[0])


def test_accuracy_over_the_test_set_is_exact():
    env = Iris(split="test")
    _, y_test = env.dataset()
    for policy, expected in [(lambda label: label, 1.0), (lambda label: 0, 1 / 3), (lambda label: (label + 1) % 3, 0.0)]:
        _, info = env.reset(seed=0)
        total = 0.0
        for i in range(len(env)):
            if i:
                _, info = env.reset()
            _, reward, terminated, truncated, step_info = env.step(policy(info["label"]))
            assert terminated is True and truncated is False and type(reward) is float
            assert step_info["label"] == info["label"] == y_test[i]
            total += reward
        assert total / len(env) == pytest.approx(expected)


def test_train_mode_sampling_is_seeded():
    def labels_and_indices(seed):
        env = Iris()
        out = [env.reset(seed=seed)[1]["index"]]
        out += [env.reset()[1]["index"] for _ in range(20)]
        return out

    assert labels_and_indices(4) == labels_and_indices(4)
    assert labels_and_indices(4) != labels_and_indices(5)
    unseeded = [labels_and_indices(None) for _ in range(2)]
    assert unseeded[0] != unseeded[1]
    assert len(set(unseeded[0])) > 10


def test_observation_matches_dataset_row():
    env = Iris()
    X, y = env.dataset()
    for _ in range(10):
        obs, info = env.reset()
        assert obs.dtype == np.float32 and obs.shape == (4,)
        np.testing.assert_array_equal(obs, X[info["index"]])
        assert info["label"] == y[info["index"]]
    obs, info = env.reset(options={"index": 7})
    assert info["index"] == 7 and np.array_equal(obs, X[7])
    with pytest.raises(ValueError, match=r"int in \[0, 120\)"):
        env.reset(options={"index": 120})


def test_bad_arguments_and_actions():
    with pytest.raises(ValueError, match="unknown split 'validation'"):
        Iris(split="validation")
    for fraction in (0.0, 1.0):
        with pytest.raises(ValueError, match=r"test_fraction must be in \(0, 1\)"):
            Iris(test_fraction=fraction)
    with pytest.raises(ValueError, match="at least one row per class"):
        Iris(test_fraction=0.005)
    env = Iris()
    with pytest.raises(RuntimeError, match="reset"):
        env.step(0)
    env.reset(seed=0)
    for action in (3, -1, 0.5):
        with pytest.raises(ValueError, match=rf"invalid action {action}.*\[0, 2\]"):
            env.step(action)


def test_render_modes():
    env = Iris(render_mode="rgb_array", split="test")
    _, info = env.reset(seed=0)
    before = env.render()
    assert before.shape == (300, 520, 3) and before.dtype == np.uint8
    env.step(info["label"])
    right = env.render()
    env.reset(seed=0)
    env.step((info["label"] + 1) % 3)
    wrong = env.render()
    assert not np.array_equal(before, right) and not np.array_equal(right, wrong)

    env = Iris(render_mode="ansi", split="test")
    _, info = env.reset(seed=0)
    env.step((info["label"] + 1) % 3)
    text = env.render()
    true_name = env.class_names[info["label"]]
    assert f"true: {true_name}" in text and "(wrong)" in text and "petal width" in text


def test_human_mode_with_dummy_driver():
    env = Iris(render_mode="human")
    env.metadata = {**env.metadata, "render_fps": 1000}
    env.reset(seed=0)
    env.step(0)
    assert env.render() is None
    env.close()
    env.close()
