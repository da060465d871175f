"""The Stable-Baselines3-style library API: learn(env | factory | vector env), batched predict,
ready callbacks, evaluate, and the errors of library misuse."""

import doctest
import importlib
import inspect
import pkgutil

import gymnasium as gym
import numpy as np
import pytest

import rl_scratch  # noqa: F401  (registers the rl_scratch/... ids)
import rl_scratch.agents
from rl_scratch.agents import (AGENTS, DQN, PPO, QLearning, CheckpointCallback, EvalCallback, StopOnReward, evaluate,
                               load_agent)

SAME_STEP = gym.vector.AutoresetMode.SAME_STEP
VECTOR = {"reinforce": dict(hidden=(8,), n_envs=2, batch_episodes=2), "a2c": dict(hidden=(8,), n_envs=2),
          "ppo": dict(hidden=(8,), n_envs=2, n_steps=16, batch_size=16)}
SINGLE = {"qlearning": ("FrozenLake-v1", {}), "sarsa": ("FrozenLake-v1", {}),
          "dqn": ("CartPole-v1", dict(hidden=(8,), learning_starts=20, batch_size=8)),
          "supervised": ("rl_scratch/Iris-v0", dict(hidden=(8,)))}


def records_of(agent, env, steps):
    records = []
    agent.learn(env, steps, callback=records.append)
    return records


@pytest.mark.parametrize("name", sorted(VECTOR))
def test_vector_agents_learn_the_same_from_a_factory_an_env_and_a_vector_env(name):
    make = lambda: gym.make("CartPole-v1")  # noqa: E731
    cls, config = AGENTS[name], AGENTS[name].Config(**VECTOR[name])
    env = make()
    runs = []
    for given in (make, make(), gym.vector.SyncVectorEnv([make] * 2, autoreset_mode=SAME_STEP)):
        agent = cls(env.observation_space, env.action_space, config, seed=1)
        runs.append(records_of(agent, given, 200))
    assert runs[0] == runs[1] == runs[2] and len(runs[0]) > 2


@pytest.mark.parametrize("name", sorted(SINGLE))
def test_single_env_agents_learn_the_same_from_a_factory_an_env_and_a_vector_env_of_one(name):
    env_id, values = SINGLE[name]
    make = lambda: gym.make(env_id)  # noqa: E731
    cls = AGENTS[name]
    env = make()
    runs = []
    for given in (make, make(), gym.vector.SyncVectorEnv([make])):
        agent = cls(env.observation_space, env.action_space, cls.Config(**values), seed=1)
        runs.append(records_of(agent, given, 300))
    assert runs[0] == runs[1] == runs[2] and len(runs[0]) > 2


def test_a_users_env_is_not_closed_and_a_second_learn_continues_it():
    env = gym.make("FrozenLake-v1")
    agent = QLearning(env.observation_space, env.action_space, seed=0)
    agent.learn(env, 100)
    agent.learn(env, 100)  # same object: continues its episode, no reset
    assert agent.steps == 200
    env.step(0)  # still open and usable


def test_vector_envs_that_cannot_work_are_refused_with_the_fix():
    make = lambda: gym.make("CartPole-v1")  # noqa: E731
    env = make()
    ppo = PPO(env.observation_space, env.action_space, PPO.Config(**VECTOR["ppo"]))
    with pytest.raises(ValueError, match="n_envs=2; the vector env given has 3"):
        ppo.learn(gym.vector.SyncVectorEnv([make] * 3, autoreset_mode=SAME_STEP), 10)
    with pytest.raises(ValueError, match="autoreset_mode=SAME_STEP"):
        ppo.learn(gym.vector.SyncVectorEnv([make] * 2), 10)
    dqn = DQN(env.observation_space, env.action_space)
    with pytest.raises(ValueError, match="dqn steps one env; got a vector env of 2 envs"):
        dqn.learn(gym.vector.SyncVectorEnv([make] * 2), 10)
    with pytest.raises(TypeError, match="learn\\(\\) takes an env, a function that makes one, or a vector env"):
        dqn.learn("CartPole-v1", 10)


@pytest.mark.parametrize("name, env_id, other", [
    ("qlearning", "rl_scratch/GridWorld-v0", "FrozenLake-v1"),   # 25 states vs 16
    ("sarsa", "FrozenLake-v1", "FrozenLake8x8-v1"),              # 16 vs 64
    ("dqn", "CartPole-v1", "Acrobot-v1"),
    ("reinforce", "CartPole-v1", "Acrobot-v1"),
    ("a2c", "CartPole-v1", "Acrobot-v1"),
    ("ppo", "CartPole-v1", "Acrobot-v1"),
    ("supervised", "rl_scratch/Iris-v0", "CartPole-v1"),
])
def test_learn_checks_the_envs_spaces_and_names_both(name, env_id, other):
    env = gym.make(env_id)
    agent = AGENTS[name](env.observation_space, env.action_space)
    with pytest.raises(ValueError) as error:
        agent.learn(lambda: gym.make(other), 10)
    message = str(error.value)
    assert repr(env.observation_space) in message or repr(env.action_space) in message
    assert "but the env has" in message and agent.steps == 0


@pytest.mark.parametrize("name", sorted(AGENTS))
def test_predict_takes_one_observation_or_a_batch(name):
    obs_mode = "index" if name in ("qlearning", "sarsa", "value_iteration", "policy_iteration") else "onehot"
    make = lambda: gym.make("rl_scratch/GridWorld-v0", obs_mode=obs_mode)  # noqa: E731
    env = make()
    agent = AGENTS[name](env.observation_space, env.action_space, seed=0)
    if name in ("value_iteration", "policy_iteration"):
        agent.learn(make)
    if name in ("qlearning", "sarsa"):  # no ties: greedy ties are broken with the agent's generator
        agent.q_table[...] = np.random.default_rng(0).normal(size=agent.q_table.shape)
    observations = [env.reset(options={"state": s})[0] for s in (0, 1, 2, 5)]
    batch = np.stack([np.asarray(o) for o in observations])
    actions, state = agent.predict(batch)
    assert state is None and actions.shape == (4,) and actions.dtype == np.int64
    assert list(actions) == [agent.act(o, deterministic=True) for o in observations]
    one, _ = agent.predict(observations[0])
    assert isinstance(one, int) and one == actions[0]


def test_eval_callback_keeps_the_best_agent_and_checkpoints_follow_the_schedule(tmp_path):
    env = gym.make("FrozenLake-v1", is_slippery=False)
    agent = QLearning(env.observation_space, env.action_space, QLearning.Config(epsilon_decay_steps=1000), seed=0)
    best = EvalCallback(gym.make("FrozenLake-v1", is_slippery=False), eval_every=500, episodes=2,
                        best_model_path=tmp_path / "best.npz")
    checkpoints = CheckpointCallback(1000, tmp_path / "ckpt")
    agent.learn(env, 3000, callback=[best, checkpoints])
    assert [step // 500 for step, _ in best.evaluations] == [1, 2, 3, 4, 5]
    assert best.best_mean == max(mean for _, mean in best.evaluations)
    assert load_agent(tmp_path / "best.npz").steps == [s for s, m in best.evaluations if m == best.best_mean][0]
    steps = [load_agent(p).steps for p in checkpoints.paths]
    assert [s // 1000 for s in steps] == [1, 2]  # the first episode end past each 1000 (the run ends before 3000's)


def test_stop_on_reward_stops_learning_and_the_list_stops_when_any_does():
    env = gym.make("FrozenLake-v1", is_slippery=False)
    agent = QLearning(env.observation_space, env.action_space, QLearning.Config(epsilon_decay_steps=2000), seed=0)
    stop = StopOnReward(0.9, window=10)
    seen = []
    agent.learn(env, 100_000, callback=[seen.append, stop])
    assert stop.stopped_at == agent.steps < 100_000
    assert np.mean([r["return"] for r in seen[-10:]]) >= 0.9
    evaluations = EvalCallback(gym.make("FrozenLake-v1", is_slippery=False), eval_every=200, episodes=1)
    later = QLearning(env.observation_space, env.action_space, QLearning.Config(epsilon_decay_steps=2000), seed=0)
    later.learn(env, 100_000, callback=[evaluations, StopOnReward(1.0, evaluations=evaluations)])
    assert later.steps < 100_000 and evaluations.evaluations[-1][1] == 1.0


def test_progress_bar_and_bad_callbacks(capsys):
    env = gym.make("FrozenLake-v1")
    agent = QLearning(env.observation_space, env.action_space)
    agent.learn(env, 500, progress_bar=True)
    assert agent.steps == 500
    with pytest.raises(TypeError, match="a callback must be callable"):
        agent.learn(env, 10, callback=5)


def test_evaluate_caps_endless_episodes_and_reads_success_from_info():
    from rl_scratch.config import make_env

    loops = gym.make("CliffWalking-v1")  # no time limit; a zero Q-table walks into the wall forever
    agent = QLearning(loops.observation_space, loops.action_space)
    result = evaluate(agent, loops, episodes=2, max_steps=300)
    assert result["capped_episodes"] == 2 and result["lengths"] == [300, 300]
    grid = gym.make("rl_scratch/GridWorld-v0")
    planner = AGENTS["value_iteration"](grid.observation_space, grid.action_space).learn(grid)
    assert evaluate(planner, grid, 3)["success_rate"] == 1.0
    lake = lambda: make_env("FrozenLake-v1", {})  # noqa: E731  (the trainer's envs report is_success)
    solved = AGENTS["value_iteration"](gym.spaces.Discrete(16), gym.spaces.Discrete(4)).learn(lake)
    assert 0.5 < evaluate(solved, lake, 50)["success_rate"] <= 1.0
    assert "success_rate" not in evaluate(solved, gym.make("FrozenLake-v1"), 5)  # no class-name guessing


def public_objects():
    for info in pkgutil.iter_modules(rl_scratch.agents.__path__):
        module = importlib.import_module(f"rl_scratch.agents.{info.name}")
        for name, obj in vars(module).items():
            if (not name.startswith("_") and (inspect.isclass(obj) or inspect.isfunction(obj))
                    and obj.__module__ == module.__name__):
                yield module, name, obj


def test_every_public_class_and_function_has_an_example_and_the_examples_run():
    """Every public class and function of agents/ has a docstring with an example; they all run (doctest)."""
    objects = list(public_objects())
    missing = [f"{module.__name__}.{name}" for module, name, obj in objects if ">>>" not in (obj.__doc__ or "")]
    assert not missing, f"no example in the docstring of {missing}"
    modules = {module for module, _, _ in objects} | {rl_scratch.agents}
    for module in sorted(modules, key=lambda m: m.__name__):
        result = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
        assert result.failed == 0, f"{result.failed} failing docstring example(s) in {module.__name__}"
