"""The catalogue of bad input: flags, config files and damaged or tampered run files.

Every case must end with exit code 2, exactly one `error: ...` line naming the
problem, no traceback, and no run folder left behind (nor a run folder changed,
for --resume). Most cases call `rl_scratch.train.main` / `rl_scratch.play.main`
in this process (an uncaught exception fails the test just as a traceback would);
a sample runs as real processes to check the same at the process boundary.
"""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from rl_scratch import play, train

from cli_support import assert_one_error_line, play as play_process, train as train_process

DQN_TINY = ["--env", "GridWorld", "--agent", "dqn", "--hidden", "16", "--steps", "300", "--set", "learning_starts=100",
            "--set", "buffer_size=1000", "--eval-episodes", "2"]


def call(capsys, entry, *args) -> tuple[int, str]:
    try:
        code = entry([str(a) for a in args])
    except SystemExit as stop:  # argparse's errors
        code = stop.code
    return code, capsys.readouterr().err


def assert_refused(capsys, entry, args, *fragments) -> str:
    code, err = call(capsys, entry, *args)
    assert code == 2, (code, err)
    return assert_one_error_line(err, *fragments)


# ------------------------------------------------------------- flags and files
def config_file(tmp_path, text: str, name: str = "bad.json") -> str:
    path = tmp_path / name
    path.write_text(text)
    return str(path)


FLAG_CASES = {
    "nan-clip-range": (["--env", "GridWorld", "--set", "clip_range=nan"], ["clip_range=nan", "not a finite number"]),
    "nan-ent-coef": (["--env", "GridWorld", "--set", "ent_coef=nan"], ["ent_coef=nan"]),
    "inf-lr": (["--env", "GridWorld", "--lr", "inf"], ["lr=inf"]),
    "zero-lr": (["--env", "GridWorld", "--lr", "0"], ["lr must be a finite number > 0"]),
    "negative-clip-norm": (["--env", "GridWorld", "--agent", "dqn", "--set", "max_grad_norm=-1"],
                           ["max_grad_norm must be", "-1"]),
    "epsilon-above-one": (["--env", "GridWorld", "--agent", "dqn", "--set", "epsilon_start=2"],
                          ["epsilon_start must be a probability in [0, 1]"]),
    "gamma-above-one": (["--env", "GridWorld", "--gamma", "1.5"], ["gamma must be a probability"]),
    "negative-gae-lambda": (["--env", "GridWorld", "--set", "gae_lambda=-0.1"], ["gae_lambda"]),
    "zero-tau": (["--env", "GridWorld", "--agent", "dqn", "--set", "tau=0"], ["tau must be in (0, 1]"]),
    "zero-batch": (["--env", "GridWorld", "--set", "batch_size=0"], ["batch_size"]),
    "zero-hidden": (["--env", "GridWorld", "--hidden", "0"], ["hidden layer size"]),
    "word-for-int": (["--env", "GridWorld", "--set", "n_steps=lots"], ["n_steps='lots'", "integer"]),
    "huge-hidden": (["--env", "GridWorld", "--hidden", "1e12"], ["memory", "network", "PB", "more than this machine"]),
    "huge-rollout": (["--env", "GridWorld", "--set", "n_steps=1000000000"], ["memory", "rollout"]),
    "huge-buffer": (["--env", "GridWorld", "--agent", "dqn", "--set", "buffer_size=100000000000"],
                    ["memory", "replay buffer"]),
    "supervised-on-rl-env": (["--env", "GridWorld", "--agent", "supervised"], ["supervised learns labelled"]),
    "zero-eval-episodes": (["--env", "GridWorld", "--eval-episodes", "0"], ["--eval-episodes"]),
    "negative-seed": (["--env", "GridWorld", "--seed", "-1"], ["--seed"]),
    "render-every-zero": (["--env", "GridWorld", "--render", "--render-every", "0"], ["--render-every"]),
}


@pytest.mark.parametrize("case", list(FLAG_CASES))
def test_bad_flag_is_one_line_and_leaves_no_folder(tmp_path, monkeypatch, capsys, case):
    monkeypatch.chdir(tmp_path)
    args, fragments = FLAG_CASES[case]
    assert_refused(capsys, train.main, [*args, "--out", "run"], *fragments)
    assert not (tmp_path / "run").exists() and not (tmp_path / "runs").exists()


FILE_CASES = {
    "agent-is-a-number": ('{"env": "GridWorld", "agent": 7}', ["agent must be a name", "7"]),
    "env-is-a-number": ('{"env": 5}', ["env must be a name"]),
    "steps-is-a-word": ('{"env": "GridWorld", "steps": "many"}', ["steps='many'", "integer"]),
    "lr-is-a-word": ('{"env": "GridWorld", "hyperparameters": {"lr": "fast"}}', ["lr='fast'", "number"]),
    "lr-is-nan": ('{"env": "GridWorld", "hyperparameters": {"lr": NaN}}', ["lr=nan", "not a finite number",
                                                                            "bad.json"]),
    "hyperparameters-a-list": ('{"env": "GridWorld", "hyperparameters": [1, 2]}', ["hyperparameters must be"]),
    "eval-options-change-the-observation": (
        '{"env": "GridWorld", "eval_env_kwargs": {"obs_mode": "coords"}}',
        ["eval_env_kwargs", "observation_space"]),
    "unknown-key": ('{"env": "GridWorld", "learning_rate": 0.1}', ["unknown key(s) ['learning_rate']"]),
    "not-json": ('{"env": "GridWorld",', ["does not parse"]),
}


@pytest.mark.parametrize("case", list(FILE_CASES))
def test_bad_config_file_is_one_line_and_leaves_no_folder(tmp_path, monkeypatch, capsys, case):
    monkeypatch.chdir(tmp_path)
    text, fragments = FILE_CASES[case]
    assert_refused(capsys, train.main, ["--config", config_file(tmp_path, text), "--out", "run"], *fragments)
    assert not (tmp_path / "run").exists() and not (tmp_path / "runs").exists()


# ------------------------------------------------------------ damaged run files
@pytest.fixture(scope="module")
def finished_runs(tmp_path_factory):
    """A finished DQN run and a finished PPO run on the same GridWorld, to damage copies of."""
    root = tmp_path_factory.mktemp("bad_input_runs")
    dqn = train_process(*DQN_TINY, "--out", root / "dqn", cwd=root)
    ppo = train_process("--env", "GridWorld", "--agent", "ppo", "--steps", "256", "--eval-episodes", "2",
                        "--set", "n_envs=2", "--set", "n_steps=64", "--out", root / "ppo", cwd=root)
    assert dqn.returncode == 0 and ppo.returncode == 0, dqn.stderr + ppo.stderr
    return root


def _rewrite_npz(path, change) -> None:
    with np.load(path) as data:
        arrays = {k: data[k] for k in data.files}
    meta = json.loads(arrays["__meta__"].tobytes())
    meta = change(meta, arrays)
    arrays["__meta__"] = np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8)
    with open(path, "wb") as f:
        np.savez(f, **arrays)


def _set_rng(meta, arrays):
    meta["state"]["rng"] = {"__rng__": {"bit_generator": "PCG64", "state": "garbage"}}
    return meta


def _nan_weights(meta, arrays):
    name = next(k for k in arrays if k.endswith("weight"))
    arrays[name] = np.full_like(arrays[name], np.nan)
    return meta


def _huge_layers(meta, arrays):
    meta["config"]["hidden"] = [10**7, 10**7]
    return meta


def _steps_many(meta, arrays):
    meta["state"]["steps"] = "many"
    return meta


def _plain_npy(folder):
    np.save(open(folder / "checkpoint.npz", "wb"), np.zeros(3))


def _meta_a_list(folder):
    with np.load(folder / "checkpoint.npz") as data:
        arrays = {k: data[k] for k in data.files}
    arrays["__meta__"] = np.frombuffer(b"[1, 2, 3]", dtype=np.uint8)
    with open(folder / "checkpoint.npz", "wb") as f:
        np.savez(f, **arrays)


def _other_agents_checkpoint(folder):
    shutil.copy(folder.parent / "ppo" / "checkpoint.npz", folder / "checkpoint.npz")


DAMAGE = {
    "checkpoint-meta-a-json-list": (_meta_a_list, ["checkpoint.npz", "JSON list"]),
    "checkpoint-garbage-rng-state": (lambda f: _rewrite_npz(f / "checkpoint.npz", _set_rng), ["checkpoint.npz"]),
    "checkpoint-absurd-layers": (lambda f: _rewrite_npz(f / "checkpoint.npz", _huge_layers),
                                 ["checkpoint.npz", "memory"]),
    "checkpoint-plain-npy": (_plain_npy, ["checkpoint.npz", "plain .npy"]),
    "checkpoint-steps-many": (lambda f: _rewrite_npz(f / "checkpoint.npz", _steps_many), ["checkpoint.npz", "many"]),
    "checkpoint-nan-weights": (lambda f: _rewrite_npz(f / "checkpoint.npz", _nan_weights),
                               ["checkpoint.npz", "NaN"]),
    "checkpoint-of-another-agent": (_other_agents_checkpoint, ["'dqn'", "'ppo'", "another run"]),
    "config-json-not-json": (lambda f: (f / "config.json").write_text("{not json"), ["config.json", "JSON"]),
    "config-json-steps-a-word": (lambda f: _edit_json(f / "config.json", steps="lots"), ["config.json", "steps"]),
    "config-json-a-list": (lambda f: (f / "config.json").write_text("[]"), ["config.json", "object"]),
    "trainer-state-not-json": (lambda f: (f / "trainer_state.json").write_text("{"), ["trainer_state.json"]),
    "trainer-state-wrong-type": (lambda f: _edit_json(f / "trainer_state.json", best_return="high"),
                                 ["trainer_state.json", "best_return"]),
    "metrics-not-utf8": (lambda f: (f / "metrics.csv").write_bytes(b"step,episode\n\xff\xfe\x00bad\n"),
                         ["metrics.csv", "UTF-8"]),
    "metrics-garbled-row": (lambda f: _append(f / "metrics.csv", "x,y,z\n"), ["metrics.csv", "line"]),
}


def _edit_json(path, **changes):
    data = json.loads(path.read_text())
    data.update(changes)
    path.write_text(json.dumps(data))


def _append(path, text):
    with open(path, "a") as f:
        f.write(text)


@pytest.mark.parametrize("case", list(DAMAGE))
def test_resuming_a_damaged_run_is_one_line_naming_the_file(finished_runs, tmp_path, monkeypatch, capsys, case):
    folder = tmp_path / "dqn"
    shutil.copytree(finished_runs / "dqn", folder)
    (tmp_path / "ppo").symlink_to(finished_runs / "ppo")
    damage, fragments = DAMAGE[case]
    damage(folder)
    before = {p.name: p.read_bytes() for p in folder.iterdir()}
    monkeypatch.chdir(tmp_path)
    assert_refused(capsys, train.main, ["--resume", folder, "--steps", 600], *fragments)
    assert {p.name: p.read_bytes() for p in folder.iterdir()} == before, "a refused resume changes nothing"


PLAY_DAMAGE = ["checkpoint-meta-a-json-list", "checkpoint-plain-npy", "checkpoint-absurd-layers",
               "checkpoint-nan-weights", "checkpoint-of-another-agent", "config-json-not-json"]


@pytest.mark.parametrize("case", PLAY_DAMAGE)
def test_playing_a_damaged_run_is_one_line_naming_the_file(finished_runs, tmp_path, monkeypatch, capsys, case):
    folder = tmp_path / "dqn"
    shutil.copytree(finished_runs / "dqn", folder)
    (tmp_path / "ppo").symlink_to(finished_runs / "ppo")
    (folder / "best.npz").unlink()  # play the damaged checkpoint.npz
    damage, fragments = DAMAGE[case]
    damage(folder)
    monkeypatch.chdir(tmp_path)
    assert_refused(capsys, play.main, [folder, "--record", tmp_path / "x.gif"], *fragments)


def test_play_refuses_an_empty_prompt(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert call(capsys, train.main, "--env", "NextToken", "--steps", 32, "--out", "text")[0] == 0
    assert_refused(capsys, play.main, [tmp_path / "text", "--prompt", ""], "--prompt is empty")


# ------------------------------------------------------ the same, as processes
@pytest.mark.parametrize("args, fragment", [
    (["--env", "GridWorld", "--set", "clip_range=nan"], "clip_range=nan"),
    (["--env", "GridWorld", "--hidden", "1e12"], "memory"),
    (["--env", "GridWorld", "--agent", "supervised"], "supervised learns labelled"),
], ids=["nan", "memory", "supervised-on-rl-env"])
def test_bad_input_as_a_process(tmp_path, args, fragment):
    result = train_process(*args, "--out", "run", cwd=tmp_path)
    assert_one_error_line(result, fragment)
    assert not (tmp_path / "run").exists()


def test_damaged_checkpoint_as_a_process(finished_runs, tmp_path):
    folder = tmp_path / "dqn"
    shutil.copytree(finished_runs / "dqn", folder)
    _meta_a_list(folder)
    assert_one_error_line(train_process("--resume", folder, "--steps", 600, cwd=tmp_path), "checkpoint.npz")
    assert_one_error_line(play_process(folder, "--checkpoint", "last", "--record", tmp_path / "x.gif",
                                       cwd=tmp_path), "checkpoint.npz")
