"""Resume is the same run: learn(N); learn(M) equals learn(N + M), and save -> load -> continue
equals an uninterrupted run, record for record and array for array, for every learning agent."""

import gymnasium as gym
import numpy as np
import pytest

import rl_scratch  # noqa: F401  (registers the rl_scratch/... ids)
from rl_scratch.agents import AGENTS, load_agent
from rl_scratch.agents.checkpoint import encode_value

# (agent, env id, env kwargs, config, total steps, three stop points)
CASES = {
    "qlearning": ("FrozenLake-v1", {}, {"epsilon_decay_steps": 500}, 1500, (1, 437, 1000)),
    "sarsa": ("rl_scratch/GridWorld-v0", {"slip_prob": 0.2}, {"epsilon_decay_steps": 500}, 1200, (3, 250, 777)),
    "dqn": ("CartPole-v1", {}, dict(hidden=(16,), learning_starts=50, buffer_size=300, batch_size=16,
                                    target_update_interval=40, exploration_steps=200), 600, (7, 203, 451)),
    "reinforce": ("CartPole-v1", {}, dict(hidden=(16,), n_envs=2, batch_episodes=3), 600, (2, 150, 402)),
    "a2c": ("Taxi-v4", {}, dict(hidden=(16,), n_envs=2, n_steps=5), 1600, (2, 96, 1001)),
    "ppo": ("CartPole-v1", {}, dict(hidden=(16,), n_envs=2, n_steps=32, batch_size=32, normalize_obs=True,
                                    anneal_lr=False), 512, (2, 64, 190)),
    "supervised": ("rl_scratch/Iris-v0", {}, dict(hidden=(8,), batch_size=16), 600, (16, 100, 333)),
}
# Annealed schedules span one learn call (as in Stable-Baselines3); a resumed process passes the rest
# of the budget, so its schedule ends where the uninterrupted one does.
ANNEALED = ("ppo", dict(hidden=(16,), n_envs=2, n_steps=32, batch_size=32, anneal_lr=True, anneal_clip=True))


def setup(name, config=None):
    env_id, kwargs, values, total, stops = CASES[name]
    make = lambda: gym.make(env_id, **kwargs)  # noqa: E731
    cls = AGENTS[name]
    env = make()
    agent = cls(env.observation_space, env.action_space, cls.Config(**(config or values)), seed=7)
    return agent, make, total, stops


def state_of(agent):
    arrays = {}
    state = {name: encode_value(getattr(agent, name), name, arrays) for name in agent.checkpoint_fields()}
    return state, arrays


def assert_same(a, b):
    (state_a, arrays_a), (state_b, arrays_b) = state_of(a), state_of(b)
    assert state_a == state_b
    assert arrays_a.keys() == arrays_b.keys()
    for key in arrays_a:
        np.testing.assert_array_equal(arrays_a[key], arrays_b[key], err_msg=key)


def uninterrupted(name, config=None):
    agent, make, total, _ = setup(name, config)
    records = []
    agent.learn(make, total, callback=records.append)
    return agent, records


def assert_two_pieces_match(name, stop, between, reference, reference_records):
    """learn(stop steps), `between(agent)` -> the agent that goes on, learn the rest: the uninterrupted run."""
    total = CASES[name][3]
    agent, make, _, _ = setup(name)
    records = []
    agent.learn(make, stop, callback=records.append)
    agent = between(agent)
    agent.learn(make, total - agent.steps, callback=records.append)
    assert records == reference_records, f"stopped at {stop}"
    assert_same(agent, reference)


@pytest.mark.parametrize("name", sorted(CASES))
def test_learn_in_pieces_is_the_uninterrupted_run(name):
    reference, reference_records = uninterrupted(name)
    assert len(reference_records) > 3
    for stop in CASES[name][4]:
        def check_stop(agent):
            step_size = getattr(agent.config, "n_envs", None) or getattr(agent.config, "batch_size", 1)
            assert stop <= agent.steps < stop + step_size
            return agent

        assert_two_pieces_match(name, stop, check_stop, reference, reference_records)


@pytest.mark.parametrize("name", sorted(CASES))
def test_save_load_continue_is_the_uninterrupted_run(name, tmp_path):
    reference, reference_records = uninterrupted(name)
    def save_and_load(agent):
        agent.save(tmp_path / "agent.npz")
        return load_agent(tmp_path / "agent.npz")

    for stop in CASES[name][4]:
        assert_two_pieces_match(name, stop, save_and_load, reference, reference_records)


@pytest.mark.parametrize("name", sorted(CASES))
def test_a_checkpoint_taken_by_the_callback_that_stops_resumes_exactly(name, tmp_path):
    """What the trainer does on Ctrl-C: the episode callback saves and returns False."""
    reference, reference_records = uninterrupted(name)
    total = CASES[name][3]
    stop_episode = reference_records[len(reference_records) // 2]["episode"]
    agent, make, _, _ = setup(name)
    records = []

    def callback(record):
        records.append(record)
        if record["episode"] == stop_episode:
            agent.save(tmp_path / "agent.npz")
            return False
        return True

    agent.learn(make, total, callback=callback)
    resumed = load_agent(tmp_path / "agent.npz")
    resumed.learn(make, total - resumed.steps, callback=records.append)
    assert records == reference_records
    assert_same(resumed, reference)


def test_an_annealed_run_resumes_exactly_with_the_rest_of_its_budget(tmp_path):
    name, config = ANNEALED
    reference, reference_records = uninterrupted(name, config)
    agent, make, total, _ = setup(name, config)
    records = []
    agent.learn(make, total, callback=lambda r: records.append(r) or len(records) < 4)
    agent.save(tmp_path / "agent.npz")
    resumed = load_agent(tmp_path / "agent.npz")
    # the trainer's call: the rest of the run's budget, so the schedule still ends at `total`
    resumed.learn(make, total - resumed.steps, callback=records.append)
    assert records == reference_records
    assert_same(resumed, reference)


def test_evaluation_does_not_touch_the_agents_generator():
    from rl_scratch.agents import evaluate

    env_id = "FrozenLake-v1"
    agent, make, total, _ = setup("qlearning")
    plain, _, _, _ = setup("qlearning")
    records, plain_records = [], []
    agent.learn(make, total, callback=lambda r: records.append(r) or evaluate(agent, gym.make(env_id), 3) and None)
    plain.learn(make, total, callback=plain_records.append)
    assert records == plain_records
    assert_same(agent, plain)


def test_an_env_whose_state_cannot_be_saved_starts_fresh_episodes_and_says_so(capsys):
    agent, _, _, _ = setup("qlearning")
    make = lambda: gym.wrappers.RecordEpisodeStatistics(gym.make("FrozenLake-v1"))  # noqa: E731
    agent.learn(make, 50)
    agent.learn(make, 50)
    assert agent.steps == 100
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "RecordEpisodeStatistics" in err[0] and "fresh episodes" in err[0]


def test_a_history_window_resumes_with_the_env():
    from rl_scratch.envs import HistoryObservation

    make = lambda: HistoryObservation(gym.make("CartPole-v1"), 3)  # noqa: E731
    env = make()
    config = AGENTS["ppo"].Config(hidden=(8,), n_envs=2, n_steps=16, batch_size=16, anneal_lr=False, history=3)
    reference = AGENTS["ppo"](env.observation_space, env.action_space, config, seed=0)
    expected = []
    reference.learn(make, 160, callback=expected.append)
    agent = AGENTS["ppo"](env.observation_space, env.action_space, config, seed=0)
    records = []
    agent.learn(make, 50, callback=records.append)
    agent.learn(make, 110, callback=records.append)
    assert records == expected and len(records) > 3
    assert_same(agent, reference)
