"""Attention policies on GridWorld: the network tells the agent's cells apart from the start, the
trainer picks the (agent, env, "attention") tuned entry, and a policy learns the optimal path."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest

import rl_scratch  # noqa: F401  (registers the ids)
from rl_scratch import config as cfg
from rl_scratch.agents import DQN, evaluate
from rl_scratch.agents.normalize import RunningMeanStd
from rl_scratch.agents.tuned import TUNED
from rl_scratch.agents.policies import TokenAttention, build_network
from rl_scratch.nets import no_grad
from rl_scratch.nets.transformer import AttentionEncoder


def floor_observations(env) -> np.ndarray:
    u = env.unwrapped
    return np.stack([u._obs(s) for s in range(u.n_states) if u.grid.flat[s] in "S."])


def test_features_differ_between_cells_as_much_as_they_are_large():
    """The diagnostic behind the fix: at initialisation the mean-pooled encoder's features moved
    by 1/40 of their size from cell to cell, so the heads learnt one action for every cell."""
    obs = floor_observations(gym.make("rl_scratch/GridWorld-v0", obs_mode="grid"))
    normalizer = RunningMeanStd(obs.shape[1:])
    normalizer.update(obs)
    obs = normalizer.normalize(obs)  # as normalize_obs feeds the network
    for seed in range(3):
        token = TokenAttention(obs.shape[1:], dim=16, n_heads=2, n_layers=1, rng=np.random.default_rng(seed),
                               dtype=np.float32)
        pooled = AttentionEncoder(6, 25, dim=16, n_heads=2, n_layers=1, rng=np.random.default_rng(seed))
        with no_grad():
            for net, at_least, below in ((token, 0.5, np.inf), (pooled, 0, 0.2)):
                features = net(obs).data
                spread, size = features.std(axis=0).mean(), np.abs(features).mean()
                assert at_least * size < spread < below * size, (net, spread, size)


def test_the_tokens_features_stay_in_place():
    obs = floor_observations(gym.make("rl_scratch/GridWorld-v0", obs_mode="grid"))
    net = build_network("attention", obs.shape[1:], 4, (8,), np.random.default_rng(0), attention_dim=8)
    logits = net(obs).data
    assert logits.shape == (len(obs), 4)
    assert len({tuple(np.round(row, 6)) for row in logits}) == len(obs)  # every cell its own output


@pytest.mark.parametrize("agent", ["ppo", "dqn", "reinforce"])
def test_policy_attention_takes_its_own_tuned_entry(agent):
    resolved = cfg.resolve({"env": "GridWorld", "agent": agent, "hyperparameters": {"policy": "attention"}}, {})
    entry = TUNED[(agent, "rl_scratch/GridWorld-v0", "attention")]
    assert resolved.agent_config.policy == "attention" and resolved.agent_config.attention_dim == entry["attention_dim"]
    assert resolved.hyperparameter_sources["attention_dim"].endswith(", attention)")
    assert resolved.settings.env_kwargs == {"obs_mode": "grid"}
    mlp = cfg.resolve({"env": "GridWorld", "agent": agent}, {})
    assert mlp.agent_config.attention_dim == 32  # the MLP run is untouched by the attention entry


def test_reinforce_with_attention_walks_the_optimal_path():
    resolved = cfg.resolve({"env": "GridWorld", "agent": "reinforce", "hyperparameters": {"policy": "attention"}},
                           {})
    make_env = lambda: gym.make("rl_scratch/GridWorld-v0", **resolved.settings.env_kwargs)  # noqa: E731
    env = make_env()
    agent = resolved.agent_cls(env.observation_space, env.action_space, resolved.agent_config, seed=0)
    agent.learn(make_env, 20_000)
    result = evaluate(agent, env, episodes=3, seed=0)
    assert result["mean_return"] == pytest.approx(0.93)  # the value-iteration optimum: the 8-step path


def test_dqn_normalizes_observations_and_saves_the_statistics(tmp_path):
    make = lambda: gym.make("rl_scratch/GridWorld-v0", obs_mode="grid")  # noqa: E731
    env = make()
    config = DQN.Config(policy="attention", normalize_obs=True, hidden=(16,), attention_dim=8, learning_starts=32,
                        batch_size=16, train_freq=8)
    agent = DQN(env.observation_space, env.action_space, config, seed=0).learn(make, 200)
    assert agent.updates > 0 and agent.normalizer.count > 200  # every step's observation and each reset's
    features = agent.encoder.one(env.reset(seed=0)[0])
    np.testing.assert_allclose(agent.q_values(features), agent.q_net.predict(agent.normalizer.normalize(features)))
    agent.save(tmp_path / "dqn.npz")
    loaded = DQN.load(tmp_path / "dqn.npz")
    np.testing.assert_array_equal(loaded.normalizer.mean, agent.normalizer.mean)
    np.testing.assert_array_equal(loaded.q_values(features), agent.q_values(features))
