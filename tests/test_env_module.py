"""`--env some_module:EnvId-v0`: the trainer imports the user's module, which registers its env
(Gymnasium's module:id syntax), and trains on it; a module that does not import is a one-line error."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from rl_scratch import config as cfg

# A two-cell walk written as a user would: reach the right end for reward 1 (Discrete states).
USER_MODULE = '''
import gymnasium as gym
from gymnasium import spaces


class Walk(gym.Env):
    metadata = {"render_modes": []}

    def __init__(self, length=3):
        self.length = length
        self.observation_space = spaces.Discrete(length)
        self.action_space = spaces.Discrete(2)

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.position = 0
        return self.position, {}

    def step(self, action):
        self.position = max(0, min(self.length - 1, self.position + (1 if action == 1 else -1)))
        done = self.position == self.length - 1
        return self.position, float(done), done, False, {}


gym.register("UserWalk-v0", entry_point=Walk, max_episode_steps=20)
'''


def train(*args, cwd: Path, pythonpath: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": f"{pythonpath}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    return subprocess.run([sys.executable, "-m", "rl_scratch.train", *map(str, args)], cwd=cwd, capture_output=True,
                          text=True, timeout=120, env=env)


@pytest.fixture
def user_module(tmp_path) -> Path:
    (tmp_path / "user_walk_envs.py").write_text(USER_MODULE)
    return tmp_path


def test_trains_on_the_env_a_user_module_registers(user_module, tmp_path):
    result = train("--env", "user_walk_envs:UserWalk-v0", "--steps", "400", "--eval-episodes", "2",
                   "--out", "run", cwd=tmp_path, pythonpath=user_module)
    assert result.returncode == 0, result.stderr
    config = json.loads((tmp_path / "run" / "config.json").read_text())
    assert config["env"] == "user_walk_envs:UserWalk-v0"
    assert config["agent"] == "qlearning"  # Discrete states: the tabular default
    assert json.loads((tmp_path / "run" / "eval.json").read_text())["mean_return"] == 1.0


def test_a_module_that_does_not_import_is_a_one_line_error(tmp_path):
    result = train("--env", "no_such_user_module_xyz:Thing-v0", "--steps", "10", cwd=tmp_path, pythonpath=tmp_path)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:") and "no_such_user_module_xyz" in lines[0]
    assert not any(tmp_path.iterdir())  # nothing half-written


def test_a_module_without_that_env_names_what_it_registers(user_module, monkeypatch):
    monkeypatch.syspath_prepend(str(user_module))
    with pytest.raises(cfg.ConfigError, match="does not register an env 'Walk-v9'"):
        cfg.resolve_env_id("user_walk_envs:Walk-v9")
