"""Agent benchmarks: tabular Q-learning against exact optima, DQN and REINFORCE on CartPole
against Stable-Baselines3 (rl-zoo hyperparameters), and Acrobot.

    python benchmarks/agents.py                    # everything, 3 seeds (about 30-40 min on 2 busy cores)
    python benchmarks/agents.py --quick            # 1 seed
    python benchmarks/agents.py --only cartpole_dqn --seeds 5

Sections (--only):
  frozenlake          Q-learning on FrozenLake-v1 4x4 slippery (100-step limit): success rate over
                      1000 episodes, target >= 0.72; optimum 0.744 by finite-horizon value iteration.
  taxi                Q-learning on Taxi-v4: mean return over 1000 episodes, target >= 7.5;
                      optimum by finite-horizon value iteration on the env's own table (~7.93).
  cartpole_dqn        our DQN, then SB3 DQN (rl-zoo hyperparameters);
  cartpole_reinforce  our REINFORCE, then SB3 PPO (rl-zoo hyperparameters): every EVAL_EVERY env
                      steps, 20 deterministic evaluation episodes; reported: the first step whose
                      evaluation averages >= 475 and the training wall time up to it (evaluation
                      excluded). Ours is evaluated at the first episode end after each mark (our
                      callback runs per episode), SB3 exactly at the mark.
  acrobot             REINFORCE and DQN on Acrobot-v1, target >= -100 (20 deterministic episodes)
                      with at least one of them.

Hyperparameters of ours come from rl_scratch.agents.tuned.TUNED, so this measures what the
trainer uses. BLAS threads: with 2 cores shared by other processes, multithreaded OpenBLAS
made a (64, 128) @ (128, 128) matmul 70x slower, so both libraries run single-threaded here
(OPENBLAS_NUM_THREADS=1, torch.set_num_threads(1)).
"""

from __future__ import annotations

import os

for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import statistics  # noqa: E402
import time  # noqa: E402

import gymnasium as gym  # noqa: E402
import numpy as np  # noqa: E402

from rl_scratch.agents import DQN, REINFORCE, QLearning, evaluate  # noqa: E402
from rl_scratch.agents.planning import finite_horizon_value_iteration, tabular_model  # noqa: E402
from rl_scratch.agents.tuned import TUNED  # noqa: E402
from rl_scratch.envs.success import IsSuccess  # noqa: E402

EVAL_EVERY = 2500
EVAL_EPISODES = 20
CARTPOLE_THRESHOLD = 475.0
ACROBOT_THRESHOLD = -100.0
ACROBOT_AGENTS = ((REINFORCE, 300_000), (DQN, 100_000))  # (agent, env-step budget)

# rl-baselines3-zoo hyperparams/dqn.yml and ppo.yml, CartPole-v1.
ZOO_DQN = dict(learning_rate=2.3e-3, batch_size=64, buffer_size=100_000, learning_starts=1000, gamma=0.99,
               target_update_interval=10, train_freq=256, gradient_steps=128, exploration_fraction=0.16,
               exploration_final_eps=0.04, policy_kwargs=dict(net_arch=[256, 256]))
ZOO_DQN_STEPS = 50_000
ZOO_PPO_ENVS = 8
ZOO_PPO = dict(n_steps=32, batch_size=256, gae_lambda=0.8, gamma=0.98, n_epochs=20, ent_coef=0.0)
ZOO_PPO_LR, ZOO_PPO_CLIP = 1e-3, 0.2  # both annealed linearly to 0
ZOO_PPO_STEPS = 100_000


def config_for(agent_cls, env_id: str):
    return agent_cls.Config(**TUNED.get((agent_cls.name, env_id), {}))


def median(values):
    """Median over runs; None ("not reached") when most runs did not reach the target."""
    reached = [v for v in values if v is not None]
    if len(reached) <= len(values) // 2:
        return None
    return statistics.median(reached + [float("inf")] * (len(values) - len(reached)))


def fmt(value, digits=3):
    if value is None:
        return "not reached"
    return f"{value:.{digits}f}" if isinstance(value, float) else str(value)


def print_table(title: str, header: list, rows: list) -> None:
    widths = [max(len(str(h)), *(len(str(r[i])) for r in rows)) for i, h in enumerate(header)]
    print(f"\n{title}")
    print("  ".join(str(h).ljust(w) for h, w in zip(header, widths)))
    for row in rows:
        print("  ".join(str(c).ljust(w) for c, w in zip(row, widths)))


# ------------------------------------------------------------------ tabular
def tabular(env_id: str, steps: int, seeds: int, metric: str, target: float) -> bool:
    env = gym.make(env_id)
    horizon = env.spec.max_episode_steps
    values, _, _ = finite_horizon_value_iteration(tabular_model(env.unwrapped.P), horizon, gamma=1.0)
    start_distribution = env.unwrapped.initial_state_distrib
    optimum = float(values @ start_distribution)
    config = config_for(QLearning, env_id)
    scores, times = [], []
    for seed in range(seeds):
        agent = QLearning(env.observation_space, env.action_space, config, seed=seed)
        start = time.perf_counter()
        agent.learn(lambda: gym.make(env_id), steps)
        times.append(time.perf_counter() - start)
        result = evaluate(agent, IsSuccess(gym.make(env_id)), episodes=1000, seed=10_000 + seed)
        scores.append(result[metric])
        print(f"  {env_id} seed {seed}: {metric} {result[metric]:.3f} after {steps} steps ({times[-1]:.1f} s)", flush=True)
    score = statistics.median(scores)
    print_table(f"{env_id}: Q-learning, {steps} env steps, 1000 evaluation episodes, {seeds} seeds",
                ["metric", "median", "min", "optimum (finite-horizon VI)", "ours/optimum", "train s", "target"],
                [[metric, f"{score:.3f}", f"{min(scores):.3f}", f"{optimum:.3f}", f"{score / optimum:.3f}",
                  f"{statistics.median(times):.1f}", f">= {target}"]])
    return score >= target


def frozenlake(seeds: int) -> bool:
    return tabular("FrozenLake-v1", 200_000, seeds, "success_rate", 0.72)


def taxi(seeds: int) -> bool:
    return tabular("Taxi-v4", 100_000, seeds, "mean_return", 7.5)


# --------------------------------------------------------- timing harnesses
def train_ours_until(agent, env_id: str, budget: int, threshold: float, eval_every: int = EVAL_EVERY) -> dict:
    """Train with periodic deterministic evaluation (excluded from the time); stop at `threshold`."""
    eval_env = gym.make(env_id)
    state = {"time": 0.0, "start": time.perf_counter(), "next_eval": eval_every, "reached": None, "best": -np.inf}

    def callback(record):
        if record["step"] < state["next_eval"]:
            return True
        state["time"] += time.perf_counter() - state["start"]
        score = evaluate(agent, eval_env, EVAL_EPISODES, seed=1000)["mean_return"]
        state["best"] = max(state["best"], score)
        state["next_eval"] = (record["step"] // eval_every + 1) * eval_every
        if score >= threshold:
            state["reached"] = (record["step"], state["time"])
            return False
        state["start"] = time.perf_counter()
        return True

    agent.learn(lambda: gym.make(env_id), budget, callback)
    if state["reached"] is None:
        state["time"] += time.perf_counter() - state["start"]
    final = evaluate(agent, eval_env, EVAL_EPISODES, seed=1000)["mean_return"]
    return {"reached": state["reached"], "best": max(state["best"], final), "final": final,
            "steps": agent.steps, "time": state["time"]}


def train_sb3_until(model, env_id: str, budget: int, threshold: float, eval_every: int = EVAL_EVERY) -> dict:
    from stable_baselines3.common.callbacks import BaseCallback

    eval_env = gym.make(env_id)
    state = {"time": 0.0, "start": None, "next_eval": eval_every, "reached": None, "best": -np.inf}

    def sb3_evaluate():
        returns = []
        obs, _ = eval_env.reset(seed=1000)
        for _ in range(EVAL_EPISODES):
            done, total = False, 0.0
            while not done:
                action, _ = model.predict(obs, deterministic=True)
                obs, reward, terminated, truncated, _ = eval_env.step(int(action))
                total += reward
                done = terminated or truncated
            returns.append(total)
            obs, _ = eval_env.reset()
        return float(np.mean(returns))

    class Timer(BaseCallback):
        def _on_training_start(self):
            state["start"] = time.perf_counter()

        def _on_step(self):
            if self.num_timesteps < state["next_eval"]:
                return True
            state["time"] += time.perf_counter() - state["start"]
            score = sb3_evaluate()
            state["best"] = max(state["best"], score)
            state["next_eval"] = (self.num_timesteps // eval_every + 1) * eval_every
            if score >= threshold:
                state["reached"] = (self.num_timesteps, state["time"])
                return False
            state["start"] = time.perf_counter()
            return True

    model.learn(budget, callback=Timer())
    if state["reached"] is None:
        state["time"] += time.perf_counter() - state["start"]
    return {"reached": state["reached"], "best": state["best"], "steps": model.num_timesteps, "time": state["time"]}


def sb3_available() -> bool:
    try:
        import stable_baselines3  # noqa: F401
        import torch
    except ImportError:
        print("  (stable-baselines3/torch not installed: SB3 comparison skipped; pip install -e '.[bench]')")
        return False
    torch.set_num_threads(1)
    return True


def sb3_dqn(seed: int) -> dict:
    from stable_baselines3 import DQN as SB3DQN
    model = SB3DQN("MlpPolicy", gym.make("CartPole-v1"), seed=seed, verbose=0, **ZOO_DQN)
    return train_sb3_until(model, "CartPole-v1", ZOO_DQN_STEPS, CARTPOLE_THRESHOLD)


def sb3_ppo(seed: int) -> dict:
    from stable_baselines3 import PPO as SB3PPO
    from stable_baselines3.common.env_util import make_vec_env
    envs = make_vec_env("CartPole-v1", n_envs=ZOO_PPO_ENVS, seed=seed)
    model = SB3PPO("MlpPolicy", envs, seed=seed, verbose=0, learning_rate=lambda f: ZOO_PPO_LR * f,
                   clip_range=lambda f: ZOO_PPO_CLIP * f, **ZOO_PPO)
    return train_sb3_until(model, "CartPole-v1", ZOO_PPO_STEPS, CARTPOLE_THRESHOLD)


def ours(agent_cls, env_id: str, seed: int, budget: int, threshold: float) -> dict:
    env = gym.make(env_id)
    agent = agent_cls(env.observation_space, env.action_space, config_for(agent_cls, env_id), seed=seed)
    return train_ours_until(agent, env_id, budget, threshold)


def report_runs(label: str, runs: list) -> list:
    steps = median([r["reached"][0] if r["reached"] else None for r in runs])
    seconds = median([r["reached"][1] if r["reached"] else None for r in runs])
    reached = sum(r["reached"] is not None for r in runs)
    return [label, f"{reached}/{len(runs)}", fmt(steps), fmt(seconds, 1),
            f"{statistics.median(r['best'] for r in runs):.1f}"]


def cartpole_versus(ours_cls, sb3_run, sb3_label: str, budget: int, seeds: int) -> bool:
    our_runs, sb3_runs = [], []
    for seed in range(seeds):
        run = ours(ours_cls, "CartPole-v1", seed, budget, CARTPOLE_THRESHOLD)
        our_runs.append(run)
        print(f"  ours {ours_cls.name} seed {seed}: reached {run['reached']} best {run['best']:.1f} "
              f"(trained {run['time']:.1f} s)", flush=True)
    if sb3_available():
        for seed in range(seeds):
            run = sb3_run(seed)
            sb3_runs.append(run)
            print(f"  SB3 {sb3_label} seed {seed}: reached {run['reached']} best {run['best']:.1f} "
                  f"(trained {run['time']:.1f} s)", flush=True)
    rows = [report_runs(f"ours {ours_cls.name}", our_runs)]
    ok = rows[0][2] != "not reached"
    if sb3_runs:
        rows.append(report_runs(f"SB3 {sb3_label} (zoo)", sb3_runs))
        ours_time = median([r["reached"][1] if r["reached"] else None for r in our_runs])
        sb3_time = median([r["reached"][1] if r["reached"] else None for r in sb3_runs])
        ratio = "n/a" if ours_time is None or sb3_time is None else f"{ours_time / sb3_time:.2f}"
        rows.append(["time ratio ours/SB3", "", "", ratio, ""])
    print_table(f"CartPole-v1: first evaluation >= {CARTPOLE_THRESHOLD} ({EVAL_EPISODES} deterministic episodes "
                f"every {EVAL_EVERY} steps), medians over {seeds} seeds",
                ["agent", "reached", "env steps", "train s", "best eval"], rows)
    return ok


def cartpole_dqn(seeds: int) -> bool:
    return cartpole_versus(DQN, sb3_dqn, "DQN", 100_000, seeds)


def cartpole_reinforce(seeds: int) -> bool:
    return cartpole_versus(REINFORCE, sb3_ppo, "PPO", 300_000, seeds)


def acrobot(seeds: int) -> bool:
    rows, ok = [], False
    for agent_cls, budget in ACROBOT_AGENTS:
        runs = []
        for seed in range(seeds):
            run = ours(agent_cls, "Acrobot-v1", seed, budget, ACROBOT_THRESHOLD)
            runs.append(run)
            print(f"  {agent_cls.name} seed {seed}: reached {run['reached']} best {run['best']:.1f} "
                  f"final {run['final']:.1f} ({run['time']:.1f} s)", flush=True)
        rows.append(report_runs(agent_cls.name, runs))
        ok |= rows[-1][2] != "not reached"
    print_table(f"Acrobot-v1: first evaluation >= {ACROBOT_THRESHOLD}, medians over {seeds} seeds",
                ["agent", "reached", "env steps", "train s", "best eval"], rows)
    return ok


SECTIONS = {"frozenlake": frozenlake, "taxi": taxi, "cartpole_reinforce": cartpole_reinforce,
            "cartpole_dqn": cartpole_dqn, "acrobot": acrobot}


def main(argv=None) -> list:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="one seed per section")
    parser.add_argument("--seeds", type=int, default=3, help="seeds per section (default 3)")
    parser.add_argument("--only", choices=sorted(SECTIONS), action="append", help="run only these sections")
    args = parser.parse_args(argv)
    seeds = 1 if args.quick else args.seeds
    missed = []
    for name in args.only or SECTIONS:
        print(f"\n=== {name} ===", flush=True)
        start = time.perf_counter()
        if not SECTIONS[name](seeds):
            missed.append(name)
        print(f"({name}: {time.perf_counter() - start:.0f} s)", flush=True)
    print("\ntargets missed: " + (", ".join(missed) if missed else "none"))
    return missed


if __name__ == "__main__":
    raise SystemExit(1 if main() else 0)
