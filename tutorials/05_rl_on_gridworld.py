# ---
# jupyter:
#   jupytext:
#     formats: py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 5. Reinforcement learning on GridWorld
#
# An *agent* moves on a grid: from the start `S` to the goal, around walls, without
# falling into the pit. Each step it sees a *state* (its cell), picks an *action* (up,
# right, down, left) and gets a *reward*: +1 for the goal, -1 for the pit, -0.01 for any
# other step. A *policy* says which action to take in each state; the best policy
# maximises the *return*, the sum of rewards, each discounted by `gamma` per step of
# delay. The shortest path here is 8 moves, so the best return is `1 - 7 * 0.01 = 0.93`.
#
# We first compute the best policy exactly from the rules of the grid, then watch
# agents that only play the game find it: a Q-table, a deep Q-network, two policy
# gradient methods, and finally an attention policy on a task that needs memory.

# %%
import os
from pathlib import Path

import gymnasium as gym
import numpy as np

import rl_scratch  # noqa: F401  (registers the rl_scratch/... environments)
from rl_scratch import pictures
from rl_scratch.agents import DQN, PPO, REINFORCE, QLearning, ValueIteration, evaluate
from rl_scratch.config import make_env, tuned_budget, tuned_hyperparameters
from rl_scratch.envs.memory import RIGHT
from rl_scratch.runtime import configure_for_small_networks

QUICK = os.environ.get("RL_SCRATCH_TUTORIAL_QUICK") == "1"
OUT = Path(os.environ.get("RL_SCRATCH_TUTORIAL_OUT", "tutorial_output"))
# NumPy as the trainer runs it: one BLAS thread (these networks are small; more threads only wait
# on each other) and freed memory kept for the next step.
configure_for_small_networks()
GRID = "rl_scratch/GridWorld-v0"

env = gym.make(GRID, render_mode="ansi")   # obs_mode="index": the state is the cell number
env.reset(seed=0)
print(env.render())

# %% [markdown]
# ## The exact optimum: value iteration
#
# The grid's rules are known (`transition_model()` lists, for every state and action,
# where the agent lands and what it gets), so the value of every state under the best
# policy can be computed exactly. Value iteration repeats the Bellman optimality backup
# `V(s) <- max_a [r(s, a) + gamma * V(s')]` over all states until nothing changes. The
# greedy policy with respect to those values is optimal.

# %%
planner = ValueIteration(env.observation_space, env.action_space, ValueIteration.Config(gamma=0.99)).learn(env)
optimum = evaluate(planner, env, episodes=1)["mean_return"]
print(f"converged in {planner.iterations} sweeps; the greedy policy's return: {optimum:.2f}")
fig = pictures.grid_values(planner, env, title="value iteration: V*(s) and the optimal policy",
                           path=OUT / "05_value_iteration.png")
fig

# %% [markdown]
# ## Q-learning: learning the same thing by playing
#
# A Q-learning agent does not know the rules. It keeps a table `Q(s, a)`, the return it
# expects from taking action `a` in state `s`, tries actions (at random at first, less
# and less over time: epsilon-greedy exploration), and after every step moves its entry
# towards what it just saw: `Q(s, a) <- Q(s, a) + lr * (r + gamma * max_a' Q(s', a') - Q(s, a))`.
# On this deterministic grid a step size of 1 makes each update an exact backup (the
# tuned settings in `agents/tuned.py`). We record after every episode how far the
# table's values `max_a Q(s, a)` are from the optimum along the optimal path.

# %%
q_config = QLearning.Config(**tuned_hyperparameters("qlearning", GRID))
assert q_config.gamma == planner.config.gamma
q_agent = QLearning(env.observation_space, env.action_space, q_config, seed=0)

path_states, state = [], env.reset(seed=0)[0]
while state not in env.unwrapped.goal_states:    # the cells the optimal policy walks through
    path_states.append(state)
    state = env.step(planner.act(state))[0]
gap_steps, gaps = [], []


def record_gap(record):
    gap_steps.append(record["step"])
    gaps.append(float(np.abs(q_agent.q_table[path_states].max(axis=1) - planner.values[path_states]).max()))


q_agent.learn(env, 10_000, callback=record_gap)
print(f"after {q_agent.steps} steps: greedy return {evaluate(q_agent, env, episodes=1)['mean_return']:.2f}, "
      f"largest error on the optimal path {gaps[-1]:.2e}")

fig, (left, middle, right) = pictures.panels(3, 1, (4.6, 4.0))
pictures.grid_q_values(q_agent, env, ax=left, title="Q-learning: Q(s, a) after 10k steps")
pictures.value_heatmap(env, planner.values, planner.policy, ax=middle, title="the optimum (value iteration)")
right.plot(gap_steps, gaps, color="#0f766e")
right.set_xlabel("environment steps")
right.set_title("max |V_Q - V*| on the optimal path", fontsize=10)
right.grid(alpha=0.3)
pictures.save(fig, OUT / "05_q_learning.png")
fig

# %% [markdown]
# ## Deep Q-learning with our MLP
#
# A table needs one row per state. DQN replaces it with a neural network, here an MLP
# from `rl_scratch.nets` that reads the cell as a one-hot vector and outputs 4
# Q-values. It learns from random mini-batches of past steps (a replay buffer) against a
# slowly updated copy of itself (the target network). The same heatmap works for any
# agent with action values.

# %%
onehot = gym.make(GRID, obs_mode="onehot")
dqn_steps = 5_000 if QUICK else 10_000
dqn = DQN(onehot.observation_space, onehot.action_space, DQN.Config(**tuned_hyperparameters("dqn", GRID)), seed=0)
dqn.learn(onehot, dqn_steps)
print(f"DQN after {dqn_steps} steps: greedy return {evaluate(dqn, onehot, episodes=1)['mean_return']:.2f} "
      f"(optimum {optimum:.2f})")
fig = pictures.grid_values(dqn, onehot, title=f"DQN: max_a Q(s, a) after {dqn_steps} steps",
                           path=OUT / "05_dqn.png")
fig

# %% [markdown]
# ## Policy gradients: REINFORCE and PPO
#
# Instead of values, these learn the policy itself: a network that outputs the
# probability of each action. REINFORCE plays whole episodes and makes the actions of
# better-than-expected episodes more likely. PPO does the same from shorter rollouts of
# several envs at once, with a learned value baseline and a clipped objective that keeps
# each update close to the policy that collected the data. Each is trained on several
# seeds; the curves show the mean episode return and a 95% confidence band.

# %%
pg_steps, seeds = (6_000, (0, 1)) if QUICK else (10_000, (0, 1, 2))


def make_onehot():
    return gym.make(GRID, obs_mode="onehot")


curves, finals = {}, {}
for agent_class in (REINFORCE, PPO):
    name = agent_class.name
    curves[name], finals[name] = [], []
    for seed in seeds:
        episodes = []
        agent = agent_class(onehot.observation_space, onehot.action_space,
                            agent_class.Config(**tuned_hyperparameters(name, GRID)), seed=seed)
        agent.learn(make_onehot, pg_steps, callback=episodes.append)
        curves[name].append(([e["step"] for e in episodes], [e["return"] for e in episodes]))
        finals[name].append(round(evaluate(agent, onehot, episodes=1)["mean_return"], 2))
    print(f"{name}: final greedy return per seed {finals[name]} (optimum {optimum:.2f})")

fig = pictures.learning_curves(curves, target=optimum, target_label=f"optimum {optimum:.2f}", smooth=20,
                               ylabel="episode return (moving average of 20)", path=OUT / "05_policy_gradients.png",
                               title="REINFORCE and PPO on GridWorld (mean and 95% band over seeds)")
fig

# %% [markdown]
# ## Memory: an attention policy on CueCorridor
#
# In `CueCorridor-v0` the first observation shows which of two goals at the end of a
# corridor pays +1 (the other pays -1); later observations do not. A policy that sees
# only the current observation must guess at the junction. An attention policy that
# reads the last 6 observations as tokens can look back at the cue. We train PPO with
# the tuned attention settings (`history=6`) and budget, draw what its heads attend to at the
# junction, and compare its return with the optimum and with the best any memoryless
# policy can do. (In quick mode the budget is far too small to learn the task; the
# full run takes a few minutes.) The picture shows where each head's attention goes,
# not all that the policy uses: it reads every step's encoding in its own place, so
# the cue reaches the action even where the current step attends elsewhere.

# %%
CUE = "rl_scratch/CueCorridor-v0"
settings = tuned_hyperparameters("ppo", CUE) | tuned_hyperparameters("ppo", CUE, "attention")
memory_config = PPO.Config(**settings, policy="attention")
memory_env = make_env(CUE, {}, render_mode="rgb_array", history=memory_config.history)
memory_agent = PPO(memory_env.observation_space, memory_env.action_space, memory_config, seed=0)
memory_steps = 1_000 if QUICK else tuned_budget("ppo", CUE, "attention")  # 30k
memory_agent.learn(lambda: make_env(CUE, {}, history=memory_config.history), memory_steps)
score = evaluate(memory_agent, memory_env, episodes=20)["mean_return"]
corridor = memory_env.unwrapped
print(f"attention PPO after {memory_steps} steps: mean return {score:.2f} "
      f"(optimum {corridor.optimum:.2f}, best without memory {corridor.memoryless_optimum:.2f})")

obs, _ = memory_env.reset(seed=1)
for _ in range(corridor.length - 1):                 # walk to the junction, where the cue matters
    obs = memory_env.step(RIGHT)[0]
fig = pictures.policy_attention(memory_agent, memory_env, obs, path=OUT / "05_attention_policy.png",
                                title="at the junction: each head's weights on the last 6 steps (oldest left)")
fig

# %% [markdown]
# ## Exercise
#
# Value iteration found `V*(start)` with `gamma = 0.99`. The optimal path takes 8 moves:
# 7 steps worth -0.01 each, then the goal's +1, each reward discounted by `gamma` once
# per step before it. Write `V*(start)` as that sum (the expression filled in is one
# answer: replace it with yours) and run the check.

# %%
gamma = 0.99
my_start_value = sum(-0.01 * gamma ** t for t in range(7)) + gamma ** 7 * 1.0

exact = float(planner.values[env.unwrapped.start_state])
assert abs(my_start_value - exact) < 1e-9, (
    f"you have {my_start_value:.6f}, value iteration says {exact:.6f}. Hint: the reward of step t (t = 0, 1, ...) "
    "counts gamma ** t times; the goal is reached on step 7.")
print("exercise: correct")
