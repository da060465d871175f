"""DQN's learning loop: what it stores for time limits and terminations, and a CartPole policy that holds."""

import gymnasium as gym
import numpy as np
import pytest

from rl_scratch.agents import DQN


class Countdown(gym.Env):
    """obs = [steps into the episode, episode number]. Even episodes terminate after 3 steps;
    odd ones run until the TimeLimit around it truncates them after 5."""

    observation_space = gym.spaces.Box(0.0, np.inf, (2,), np.float32)
    action_space = gym.spaces.Discrete(2)

    def __init__(self):
        self.episode = -1

    def reset(self, seed=None, options=None):
        super().reset(seed=seed)
        self.episode += 1
        self.t = 0
        return np.array([0.0, self.episode], np.float32), {}

    def step(self, action):
        self.t += 1
        terminated = self.episode % 2 == 0 and self.t == 3
        return np.array([self.t, self.episode], np.float32), 1.0, terminated, False, {}


def test_dqn_stores_terminations_not_time_limits_and_the_true_next_observation():
    env = gym.wrappers.TimeLimit(Countdown(), max_episode_steps=5)
    agent = DQN(env.observation_space, env.action_space, DQN.Config(hidden=(4,), learning_starts=10_000), seed=0)
    agent.learn(env, 36)  # 4 episodes of 3 steps and 4 of 5, a fifth of 3, and one step of a sixth
    data = agent.buffer.state_dict()
    obs, next_obs, terminated = data["obs"], data["next_obs"], data["terminated"]
    assert len(obs) == 36
    # Every transition's next observation is the step after it, also at the end of an episode
    # (never the reset observation of the next one).
    np.testing.assert_array_equal(next_obs[:, 0], obs[:, 0] + 1)
    np.testing.assert_array_equal(next_obs[:, 1], obs[:, 1])
    ends = next_obs[:, 0] == np.where(obs[:, 1] % 2 == 0, 3, 5)
    assert ends.sum() == 9
    # Only the real terminations stop bootstrapping; the time limit at step 5 does not.
    np.testing.assert_array_equal(terminated, ends & (obs[:, 1] % 2 == 0))
    assert terminated.sum() == 5


def test_multi_step_transitions_sum_discounted_rewards_up_to_the_episode_end():
    env = gym.wrappers.TimeLimit(Countdown(), max_episode_steps=5)
    gamma = 0.5
    agent = DQN(env.observation_space, env.action_space,
                DQN.Config(hidden=(4,), n_step=3, gamma=gamma, learning_starts=10_000), seed=0)
    agent.learn(env, 16)  # two episodes of 3 and 5 steps each
    data = agent.buffer.state_dict()
    obs, next_obs, horizons = data["obs"], data["next_obs"], data["horizons"]
    assert len(obs) == 16
    end = np.where(obs[:, 1] % 2 == 0, 3, 5)
    # Three steps ahead, or as many as the episode has left; never into the next episode.
    np.testing.assert_array_equal(horizons, np.minimum(3, end - obs[:, 0]))
    np.testing.assert_array_equal(next_obs[:, 0], obs[:, 0] + horizons)
    np.testing.assert_array_equal(next_obs[:, 1], obs[:, 1])
    np.testing.assert_allclose(data["rewards"], (1 - gamma ** horizons) / (1 - gamma))  # 1 + 0.5 + 0.25 for 3
    # The terminating episodes' last transitions do not bootstrap; the time limit's do.
    np.testing.assert_array_equal(data["terminated"], (obs[:, 1] % 2 == 0) & (next_obs[:, 0] == 3))


def test_multi_step_run_resumes_exactly_from_a_checkpoint_taken_mid_episode(tmp_path):
    from rl_scratch.agents import load_agent

    config = DQN.Config(hidden=(16,), n_step=3, learning_starts=50, buffer_size=300, batch_size=16,
                        target_update_interval=40, exploration_steps=200)
    make = lambda: gym.make("CartPole-v1")  # noqa: E731
    env = make()
    reference = DQN(env.observation_space, env.action_space, config, seed=7)
    reference_records = []
    reference.learn(make, 400, callback=reference_records.append)
    agent = DQN(env.observation_space, env.action_space, config, seed=7)
    records = []
    agent.learn(make, 203, callback=records.append)
    assert agent.run.vars["window"]["actions"].size > 0  # stopped with steps not yet in the buffer
    agent.save(tmp_path / "agent.npz")
    resumed = load_agent(tmp_path / "agent.npz")
    resumed.learn(make, 400 - resumed.steps, callback=records.append)
    assert records == reference_records
    for name in ("obs", "rewards", "horizons", "terminated"):
        np.testing.assert_array_equal(resumed.buffer.state_dict()[name], reference.buffer.state_dict()[name])
    for a, b in zip(resumed.q_net.parameters(), reference.q_net.parameters()):
        np.testing.assert_array_equal(a.data, b.data)


def test_dqn_final_policy_balances_cartpole():
    """The policy the tuned DQN ends a short run with (test-sized budget: 12k of the default 100k)."""
    from rl_scratch.agents import evaluate
    from rl_scratch.agents.tuned import TUNED

    make = lambda: gym.make("CartPole-v1")  # noqa: E731
    env = make()
    agent = DQN(env.observation_space, env.action_space, DQN.Config(**TUNED[("dqn", "CartPole-v1")]), seed=0)
    agent.learn(make, 12_000)
    # Seed 0 ends at 212 here (seed 1: 213; the zoo recipe without 3-step squared targets: 162);
    # 150 leaves room for float-level changes.
    assert evaluate(agent, env, episodes=5, seed=0)["mean_return"] >= 150
