"""The tuner (`python -m rl_scratch.tune`): search-space table, config files, and tiny real studies.

Studies are Q-learning on the 5x5 GridWorld with 1500-step trials: each trial is a real
`python -m rl_scratch.train` subprocess of a few seconds. The PostgreSQL study is in
test_tune_postgres.py.
"""

from __future__ import annotations

import dataclasses
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

optuna = pytest.importorskip("optuna")  # the [tune] extra; CI installs it

from rl_scratch import config as cfg  # noqa: E402
from rl_scratch.agents.registry import AGENTS  # noqa: E402
from rl_scratch.agents.search_spaces import SPACES, BudgetFraction, Choice, Integer, Uniform  # noqa: E402
from rl_scratch.config import ConfigError  # noqa: E402
from rl_scratch.tune import cli, space as sp, storage as st  # noqa: E402

TINY = ["--env", "GridWorld", "--agent", "qlearning", "--steps", "1500"]
GOOD = {"lr": 0.5, "lr_end": 0.5, "gamma": 0.99, "epsilon_end": 0.05, "epsilon_decay_steps_frac": 0.2,
        "lr_decay_steps_frac": 0.1}
# Tiny step sizes and exploration over 90% of the budget: the greedy policy never finds the goal (-1).
HOPELESS = {"lr": 0.01, "lr_end": 0.001, "gamma": 0.9, "epsilon_end": 0.2, "epsilon_decay_steps_frac": 0.9,
            "lr_decay_steps_frac": 0.1}


def tune(*args, cwd: Path, timeout: float = 240) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "rl_scratch.tune", *map(str, args)], cwd=cwd, capture_output=True,
                          text=True, timeout=timeout)


def load(folder: Path, name: str = "GridWorld-qlearning"):
    storage = optuna.storages.JournalStorage(optuna.storages.journal.JournalFileBackend(str(folder / "journal.log")))
    return optuna.load_study(study_name=name, storage=storage)


def ran(study) -> list:
    """The trials that ran: both workers may ask for the study's last trial; the loser's trial is
    marked over_cap and failed without running (the report leaves it out)."""
    return [t for t in study.trials if not t.user_attrs.get("over_cap")]


def states(study) -> dict:
    out = {}
    for t in ran(study):
        out[t.state.name] = out.get(t.state.name, 0) + 1
    return out


# ------------------------------------------------------------------ unit
def test_every_search_space_names_real_hyperparameters_and_valid_values():
    for agent, space in SPACES.items():
        config_cls = AGENTS[agent].Config
        fields = cfg.config_fields(config_cls)
        # PPO's batch must fit in a rollout: test each value against the largest one (a trial that draws
        # a batch above its rollout is pruned as invalid)
        base = {"n_envs": 16, "n_steps": 256} if agent == "ppo" else {}
        for key, spec in space.items():
            assert key in fields, f"{agent}: {key} is not a hyperparameter"
            if isinstance(spec, Choice):
                values = spec.options
            elif isinstance(spec, (Uniform, Integer)):
                assert spec.low <= spec.high and (not spec.log or spec.low > 0), (agent, key)
                values = (spec.low, spec.high)
            else:
                assert isinstance(spec, BudgetFraction) and 0 <= spec.low <= spec.high <= 1, (agent, key)
                values = (sp.fraction_to_steps(spec.low, 10_000) or 1, sp.fraction_to_steps(spec.high, 10_000))
            for value in values:
                default = cfg.field_default(fields[key])
                config_cls(**{**base, key: cfg.check_value(value, default, key, "test")})  # raises if invalid


def test_trial_config_round_trips_through_the_trainers_config_file(tmp_path):
    hyper = {"lr": 0.1 + 0.2, "hidden": (64, 64), "normalize_obs": True, "activation": "relu", "n_steps": 32,
             "ent_coef": 1e-08}
    path = tmp_path / "t.toml"
    path.write_text(sp.config_toml({"env": "CartPole-v1", "agent": "ppo", "steps": 1000, "seed": 3}, hyper, "x\ny"))
    resolved = cfg.resolve({"hyperparameters": {}, "env_kwargs": {}}, cfg.load_config_file(str(path)))
    got = dataclasses.asdict(resolved.agent_config)
    assert {k: got[k] for k in hyper} == hyper  # floats exactly, the tuple back as a tuple
    assert (resolved.settings.steps, resolved.settings.seed) == (1000, 3)


def test_space_file_overrides_fixes_and_removes(tmp_path):
    path = tmp_path / "space.toml"
    path.write_text('[space]\nlr = { low = 0.2, high = 0.9 }\ngamma = 0.97\nlr_end = "default"\n'
                    'epsilon_decay_steps = { fraction = [0.1, 0.3] }\ninitial_q = { choices = [0.0, 1.0] }\n')
    space, fixed = sp.load_space("qlearning", AGENTS["qlearning"], str(path))
    assert space["lr"] == Uniform(0.2, 0.9) and space["initial_q"] == Choice((0.0, 1.0))
    assert space["epsilon_decay_steps"] == BudgetFraction(0.1, 0.3)
    assert "lr_end" not in space and "gamma" not in space and fixed == {"gamma": 0.97}
    for bad in ('[space]\nnope = 1\n', '[space]\nlr = { low = 2, high = 1 }\n', '[other]\n', 'lr = [1'):
        path.write_text(bad)
        with pytest.raises(ConfigError):
            sp.load_space("qlearning", AGENTS["qlearning"], str(path))


def test_passwords_are_masked():
    assert st.mask("postgresql://tuner:hunter2@db:5432/x") == "postgresql://tuner:***@db:5432/x"
    with pytest.raises(ConfigError) as error:
        st.open_storage("bogus://tuner:hunter2@db/x", Path("."))
    assert "hunter2" not in str(error.value) and "***" in str(error.value)
    assert st.mask("connecting with hunter2 failed") == "connecting with *** failed"  # remembered once seen


# -------------------------------------------------------------- bad input
@pytest.mark.parametrize("args, words", [
    (["--env", "GridWrld", "--agent", "qlearning"], ["unknown env", "did you mean", "GridWorld"]),
    (["--env", "GridWorld", "--agent", "qlearnin"], ["unknown agent", "did you mean", "qlearning"]),
    (["--env", "GridWorld", "--agent", "value_iteration"], ["no search space", "qlearning"]),
    (["--env", "GridWorld", "--agent", "qlearning", "--storage", "not a url"], ["malformed storage URL"]),
    (["--env", "GridWorld", "--agent", "qlearning", "--storage", "postgresql://tuner:hunter2@127.0.0.1:9/db"],
     ["cannot open storage", "***"]),
    (["--env", "GridWorld", "--agent", "qlearning", "--jobs", "0"], ["--jobs"]),
])
def test_bad_input_is_one_error_line_and_exit_2(tmp_path, capsys, args, words):
    out = tmp_path / "study"
    assert cli.main([*args, "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1 and "Traceback" not in err
    assert all(word in err for word in words), err
    assert "hunter2" not in err
    assert not out.exists()  # nothing half-made


def test_storage_url_can_come_from_the_environment(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv(st.STORAGE_VARIABLE, "postgresql://tuner:hunter2@127.0.0.1:9/db")
    assert cli.main([*TINY, "--out", str(tmp_path / "s")]) == 2
    err = capsys.readouterr().err
    assert "cannot open storage postgresql://tuner:***@127.0.0.1:9/db" in err and "hunter2" not in err


def test_a_study_made_for_another_agent_is_refused(tmp_path, capsys):
    folder = tmp_path / "study"
    args = cli.build_parser().parse_args([*TINY, "--out", str(folder), "--study", "shared"])
    cli.Setup(args).study()
    assert cli.main(["--env", "GridWorld", "--agent", "sarsa", "--out", str(folder), "--study", "shared"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: study 'shared'") and "--agent qlearning" in err and err.count("\n") == 1
    assert cli.main([*TINY[:-1], "3000", "--out", str(folder), "--study", "shared"]) == 2
    assert "another --steps" in capsys.readouterr().err


# ---------------------------------------------------------- real studies
def test_tiny_study_with_two_workers_resumes_and_its_best_toml_reproduces(tmp_path):
    folder = tmp_path / "study"
    done = tune(*TINY, "--trials", 4, "--jobs", 2, "--out", folder, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "4/4 trials done" in done.stdout and "Train with it:" in done.stdout
    for name in ("report.md", "history.png", "importance.png", "best.toml", "journal.log"):
        assert (folder / name).stat().st_size > 0, name
    study = load(folder)
    first = {t.number: (t.params, t.value) for t in ran(study)}
    assert len(first) == 4 and all(t.state.name == "COMPLETE" for t in ran(study))

    again = tune(*TINY, "--trials", 5, "--jobs", 2, "--out", folder, cwd=tmp_path)  # the same study, one more
    assert again.returncode == 0, again.stderr
    assert "(4 already there)" in again.stdout
    study = load(folder)
    assert len(ran(study)) == 5 and {t.number: (t.params, t.value) for t in ran(study)[:4]} == first
    text = (folder / "report.md").read_text()
    assert f"## Best: trial {study.best_trial.number}" in text and text.count("| complete |") == 5

    run = tmp_path / "best-run"
    trained = subprocess.run([sys.executable, "-m", "rl_scratch.train", "--config", str(folder / "best.toml"),
                              "--out", str(run)], cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert trained.returncode == 0, trained.stderr
    assert json.loads((run / "eval.json").read_text())["mean_return"] == study.best_value

    retrain = tune(*TINY, "--out", folder, "--trial", 1, cwd=tmp_path)
    assert retrain.returncode == 0, retrain.stderr
    assert (folder / "trial-1.toml").exists() and "Retraining trial 1" in retrain.stdout


def test_pruning_stops_a_hopeless_trial_early(tmp_path):
    folder = tmp_path / "study"
    args = cli.build_parser().parse_args([*TINY[:-1], "60000", "--out", str(folder)])
    study = cli.Setup(args).study()
    for params in (GOOD, dict(GOOD, lr=0.6), HOPELESS):
        study.enqueue_trial(params)
    # A longer budget than the other tests: the trainer must still be running when the pruner decides.
    done = tune(*TINY[:-1], 60_000, "--trials", 3, "--startup-trials", 1, "--out", folder, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    trials = load(folder).trials
    assert [t.state.name for t in trials] == ["COMPLETE", "COMPLETE", "PRUNED"], done.stdout
    assert [t.value for t in trials[:2]] == [pytest.approx(0.93)] * 2
    run = folder / "trials" / "0002" / "seed-0"
    evaluations = (run / "evaluations.csv").read_text().splitlines()
    assert not (run / "eval.json").exists() and int(evaluations[-1].split(",")[0]) < 45_000  # stopped early
    assert "trial 2 pruned: pruned at step" in done.stdout and "| pruned |" in (folder / "report.md").read_text()


def _children(pid: int, module: str) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            cmdline = (entry / "cmdline").read_bytes().decode(errors="replace")
        except OSError:
            continue
        if int(stat[1]) == pid and module in cmdline and stat[0] != "Z":
            found.append(int(entry.name))
    return found


def _wait_for(predicate, seconds: float = 120):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError("timed out waiting")


def _start(args, cwd):
    return subprocess.Popen([sys.executable, "-m", "rl_scratch.tune", *map(str, args)], cwd=cwd,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def test_sigkill_of_a_trial_or_of_a_whole_worker_leaves_a_consistent_study(tmp_path):
    folder = tmp_path / "study"
    args = [*TINY[:-1], "6000", "--trials", 3, "--jobs", 2, "--pruner", "none", "--out", folder]
    process = _start(args, tmp_path)
    victim = _wait_for(lambda: _children(process.pid, "rl_scratch.train"))[0]
    os.kill(victim, signal.SIGKILL)  # one trial's trainer dies; the other worker and the study go on
    out, err = process.communicate(timeout=240)
    assert process.returncode == 0, err
    study = load(folder)
    assert states(study) == {"COMPLETE": 3, "FAIL": 1}, out  # the cap counts only trials that ran to the end
    failed = [t for t in study.trials if t.state.name == "FAIL"][0]
    assert "killed by signal 9" in failed.user_attrs["error"]

    process = _start([*args[:-4], "--trials", 4, "--jobs", 1, "--out", folder], tmp_path)
    trainer = _wait_for(lambda: _children(process.pid, "rl_scratch.train"))[0]
    process.kill()  # the whole tuner dies mid-trial: its trainer goes with it, its trial stays RUNNING
    process.wait()
    _wait_for(lambda: not Path(f"/proc/{trainer}").exists() or "Z" in Path(f"/proc/{trainer}/stat").read_text())
    assert states(load(folder)) == {"COMPLETE": 3, "FAIL": 1, "RUNNING": 1}
    resumed = tune(*args[:-4], "--trials", 4, "--jobs", 1, "--out", folder, cwd=tmp_path)
    assert resumed.returncode == 0, resumed.stderr
    assert "is gone; marked failed" in resumed.stdout
    assert states(load(folder)) == {"COMPLETE": 4, "FAIL": 2}


def test_ctrl_c_marks_running_trials_failed_and_the_study_resumes(tmp_path):
    folder = tmp_path / "study"
    args = [*TINY[:-1], "6000", "--trials", 2, "--jobs", 2, "--out", folder]
    process = _start(args, tmp_path)
    _wait_for(lambda: len(_children(process.pid, "rl_scratch.train")) == 2)
    process.send_signal(signal.SIGINT)
    out, err = process.communicate(timeout=120)
    assert process.returncode == 130, err
    assert "run the same command again to resume" in out
    assert states(load(folder)) == {"FAIL": 2} and (folder / "report.md").exists()
    assert not _children(process.pid, "rl_scratch.train")
    resumed = tune(*args, cwd=tmp_path)
    assert resumed.returncode == 0, resumed.stderr
    assert states(load(folder)) == {"FAIL": 2, "COMPLETE": 2}
