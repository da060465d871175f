"""history=K: windows of the last K observations (HistoryObservation), attention causal over them.
The window never leaks across episodes or between vector envs, it is saved with the env's state,
the trainer wraps the envs for it, and on CueCorridor attention with history solves what an MLP
over the current observation cannot."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import gymnasium as gym
import numpy as np
import pytest

import rl_scratch  # noqa: F401  (registers the ids)
from rl_scratch import config as cfg
from rl_scratch.agents import A2C, DQN, PPO, REINFORCE, evaluate
from rl_scratch.agents.env_state import get_env_state, set_env_state
from rl_scratch.envs import CueCorridor, HistoryObservation

K = 4


def test_windows_hold_the_current_episode_of_their_own_env_only():
    n_envs = 3
    envs = gym.vector.SyncVectorEnv([lambda: HistoryObservation(gym.make("rl_scratch/CueCorridor-v0", length=3), K)
                                     for _ in range(n_envs)], autoreset_mode=gym.vector.AutoresetMode.SAME_STEP)
    obs, info = envs.reset(seed=0)
    episodes = [[row] for row in obs[:, -1]]           # the rows of each env's current episode, from the envs
    cues = list(info["cue"])
    rng = np.random.default_rng(0)
    ends = 0
    for _ in range(200):
        obs, _, terminated, truncated, info = envs.step(rng.integers(0, 4, n_envs))
        for i in range(n_envs):
            if terminated[i] or truncated[i]:
                episodes[i], cues[i] = [], info["cue"][i]  # the reset observation starts a new episode
                ends += 1
            episodes[i].append(obs[i, -1])
            real = episodes[i][-K:]
            np.testing.assert_array_equal(obs[i, K - len(real):], np.stack(real))
            assert not obs[i, :K - len(real)].any()       # padding before the episode's first step
            if len(episodes[i]) <= K:                     # the cue of this env's own episode, in the first row
                assert obs[i, K - len(episodes[i]), 3 + cues[i]] == 1.0
    assert ends > 20


def test_window_is_part_of_the_saved_env_state():
    env = HistoryObservation(gym.make("rl_scratch/CueCorridor-v0"), K)
    env.reset(seed=3)
    env.step(0)
    state = get_env_state(env)
    expected = env.step(0)[0]
    other = HistoryObservation(gym.make("rl_scratch/CueCorridor-v0"), K)
    other.reset(seed=9)
    set_env_state(other, json.loads(json.dumps(state, default=lambda a: a.tolist())))
    np.testing.assert_array_equal(other.step(0)[0], expected)


def test_history_one_is_the_plain_observation_and_agents_check_the_window():
    env = gym.make("rl_scratch/CueCorridor-v0")
    assert cfg.make_env("rl_scratch/CueCorridor-v0", {}).observation_space == env.observation_space
    wrapped = cfg.make_env("rl_scratch/CueCorridor-v0", {}, history=K)
    assert wrapped.observation_space.shape == (K, env.observation_space.shape[0] + 1)
    for agent_cls in (PPO, DQN, REINFORCE):
        agent_cls(wrapped.observation_space, wrapped.action_space, agent_cls.Config(policy="attention", history=K))
        with pytest.raises(ValueError, match=r"HistoryObservation\(env, 4\)"):
            agent_cls(env.observation_space, env.action_space, agent_cls.Config(policy="attention", history=K))


@pytest.mark.parametrize("agent_cls", [PPO, A2C, DQN, REINFORCE])
def test_every_agent_learns_from_windows(agent_cls):
    """Rollouts and the replay buffer hold windows: a short run on wrapped envs, then a greedy episode."""
    make_env = lambda: cfg.make_env("rl_scratch/CueCorridor-v0", {}, history=K)  # noqa: E731
    env = make_env()
    config = agent_cls.Config(policy="attention", history=K, attention_dim=8, hidden=(16,))
    agent = agent_cls(env.observation_space, env.action_space, config, seed=0)
    agent.learn(make_env, 300)
    assert agent.steps >= 300
    assert len(evaluate(agent, env, episodes=2, seed=0)["returns"]) == 2


def test_attention_with_history_solves_the_memory_task_and_an_mlp_stays_at_chance():
    chance = CueCorridor().memoryless_optimum
    scores = {}
    for policy in ("attention", "mlp"):
        resolved = cfg.resolve({"env": "CueCorridor", "hyperparameters": {"policy": policy}}, {})
        history = cfg.agent_history(resolved.agent_config)
        make_env = lambda: cfg.make_env(resolved.settings.env, {}, history=history)  # noqa: E731
        env = make_env()
        agent = resolved.agent_cls(env.observation_space, env.action_space, resolved.agent_config, seed=0)
        agent.learn(make_env, resolved.settings.steps)
        scores[policy] = evaluate(agent, env, episodes=100, seed=0)["mean_return"]
    assert scores["attention"] == pytest.approx(CueCorridor().optimum)   # 0.97: every episode the right goal
    assert scores["mlp"] <= chance + 0.2                                  # a coin flip at best: -0.03


def test_train_and_play_keep_the_window(tmp_path):
    env = {**os.environ, "SDL_VIDEODRIVER": "dummy"}
    run = subprocess.run([sys.executable, "-m", "rl_scratch.train", "--env", "CueCorridor", "--steps", "512",
                          "--eval-episodes", "2", "--out", "run"], cwd=tmp_path, capture_output=True, text=True,
                         timeout=180, env=env)
    assert run.returncode == 0, run.stderr
    config = json.loads((tmp_path / "run" / "config.json").read_text())
    tuned = cfg.resolve({"env": "CueCorridor"}, {}).agent_config  # the env's default agent and its entry
    assert config["hyperparameters"]["history"] == tuned.history > 1
    assert config["hyperparameters"]["policy"] == "attention"
    play = subprocess.run([sys.executable, "-m", "rl_scratch.play", "run", "--episodes", "1", "--attention",
                           "--record", "episode.gif"], cwd=tmp_path, capture_output=True, text=True, timeout=180,
                          env=env)
    assert play.returncode == 0, play.stderr
    from PIL import Image

    gif = Image.open(tmp_path / "episode.gif")
    frame_height = 3 * CueCorridor().cell_size
    assert gif.size[1] > frame_height  # the frames carry the attention strip under the corridor


def test_play_attention_draws_each_head(tmp_path):
    """`play --attention`: per head, the cells (GridWorld) or the window's steps (history) in the frames."""
    from PIL import Image

    from rl_scratch import attention_view
    from rl_scratch.agents import PPO

    grid = cfg.make_env("rl_scratch/GridWorld-v0", {"obs_mode": "grid"}, render_mode="rgb_array")
    agent = PPO(grid.observation_space, grid.action_space, PPO.Config(policy="attention", attention_heads=2))
    obs, _ = grid.reset(seed=0)
    weights = agent.attention_weights(obs)
    assert weights.shape == (2, 25) and np.allclose(weights.sum(axis=1), 1.0, atol=1e-5)
    frame = grid.render()
    drawn = attention_view.draw(frame, weights, grid, history=1)
    assert drawn.shape == (frame.shape[0], 2 * frame.shape[1] + 4, 3)        # one tinted copy per head
    Image.fromarray(drawn).save(tmp_path / "cells.png")
    mlp = PPO(grid.observation_space, grid.action_space, PPO.Config(policy="mlp"))
    assert mlp.attention_weights(obs) is None

    corridor = cfg.make_env("rl_scratch/CueCorridor-v0", {}, render_mode="rgb_array", history=K)
    for agent_cls in (PPO, DQN, REINFORCE):
        agent = agent_cls(corridor.observation_space, corridor.action_space,
                          agent_cls.Config(policy="attention", history=K, attention_heads=2))
        obs, _ = corridor.reset(seed=0)
        weights = agent.attention_weights(obs)
        assert weights.shape == (2, K) and np.allclose(weights.sum(axis=1), 1.0, atol=1e-5)
    frame = corridor.render()
    drawn = attention_view.draw(frame, weights, corridor, history=K)
    assert drawn.shape[0] > frame.shape[0] and drawn.shape[1] == frame.shape[1]  # a row of K boxes per head
    Image.fromarray(drawn).save(tmp_path / "steps.png")
