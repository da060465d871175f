"""Attention policies against MLPs: GridWorld under PPO, DQN and REINFORCE, and the CueCorridor memory task.

    python benchmarks/attention_policies.py                     # 5 seeds of everything
    python benchmarks/attention_policies.py --seeds 2 --only grid --agents ppo --jobs 2
    python benchmarks/attention_policies.py --only speed        # the speed ratios alone

grid    GridWorld-v0 with each agent's tuned entry and budget from the trainer's tables
        (`train --env GridWorld --agent A --policy P`): the MLP reads one-hot cells for 10k
        steps, the attention policy one token per cell for 30k (3x). Every 500 env steps one
        greedy episode (the env is deterministic); reported: the final greedy return, how many
        seeds end at the value-iteration optimum (0.93), the first step whose evaluation
        reached it, and env steps per second of training (evaluations excluded).
memory  CueCorridor-v0 (the cue is shown on the first observation only): PPO with the MLP over
        the current observation vs attention over the last 6 observations (history=6), each
        with the trainer's entry and budget (20k and 30k steps); the final greedy policy's mean return over 100
        episodes, against the optimum 0.97 and the best memoryless return -0.03.
speed   env steps per second of training, attention over MLP, per agent on GridWorld: both
        policies in this one process, alternating, each for the same --speed-steps with its
        trainer entry, the best of --speed-rounds rounds (on a shared machine only ratios
        measured side by side mean anything). The issue's goal: at least 1/3.

Runs are independent processes (`--jobs`); single-threaded BLAS, as the trainer runs.
"""

from __future__ import annotations

import os

for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import statistics  # noqa: E402
import time  # noqa: E402
from concurrent.futures import ProcessPoolExecutor  # noqa: E402

import rl_scratch  # noqa: E402,F401  (registers the rl_scratch/ env ids)
from rl_scratch import config as cfg  # noqa: E402
from rl_scratch.agents import evaluate  # noqa: E402
from rl_scratch.envs import CueCorridor  # noqa: E402

EVAL_EVERY = 500
GRID_OPTIMUM = 0.93


def learner_for(env: str, agent: str, policy: str, seed: int):
    """(agent, make_env, budget) as `train --env ENV --agent AGENT --policy POLICY --seed SEED` builds them."""
    resolved = cfg.resolve({"env": env, "agent": agent, "seed": seed, "hyperparameters": {"policy": policy}}, {})
    s = resolved.settings
    history = cfg.agent_history(resolved.agent_config)
    make_env = lambda: cfg.make_env(s.env, s.env_kwargs, history=history)  # noqa: E731
    env = make_env()
    return resolved.agent_cls(env.observation_space, env.action_space, resolved.agent_config, seed=seed), make_env, s.steps


def train(env: str, agent: str, policy: str, seed: int, eval_every: int | None, eval_episodes: int) -> dict:
    """One run with the trainer's resolved settings; greedy evaluations every `eval_every` steps."""
    learner, make_env, steps = learner_for(env, agent, policy, seed)
    eval_env = make_env()
    curve, eval_time, next_eval = [], 0.0, eval_every or float("inf")

    def on_episode(record):
        nonlocal eval_time, next_eval
        if record["step"] >= next_eval:
            start = time.perf_counter()
            curve.append((record["step"], evaluate(learner, eval_env, episodes=1, seed=seed)["mean_return"]))
            eval_time += time.perf_counter() - start
            next_eval += eval_every

    start = time.perf_counter()
    learner.learn(make_env, steps, callback=on_episode)
    train_time = time.perf_counter() - start - eval_time
    final = evaluate(learner, eval_env, episodes=eval_episodes, seed=seed)["mean_return"]
    return {"env": env, "agent": agent, "policy": policy, "seed": seed, "steps": learner.steps, "final": final,
            "curve": curve, "steps_per_s": learner.steps / train_time, "history": learner.config.history}


def grid_job(args) -> dict:
    agent, policy, seed = args
    return train("GridWorld", agent, policy, seed, EVAL_EVERY, 1)


def memory_job(args) -> dict:
    policy, seed = args
    return train("CueCorridor", "ppo", policy, seed, None, 100)


def speed(agents: list[str], steps: int, rounds: int) -> None:
    print(f"\nGridWorld-v0: env steps per second of training over {steps} steps (best of {rounds}, one process)")
    print(f"{'agent':<10} {'mlp':>8} {'attention':>10} {'attention / mlp':>16}")
    for agent in agents:
        best = dict.fromkeys(("mlp", "attention"), 0.0)
        for _ in range(rounds):
            for policy in best:
                learner, make_env, _ = learner_for("GridWorld", agent, policy, 0)
                start = time.perf_counter()
                learner.learn(make_env, steps)
                best[policy] = max(best[policy], learner.steps / (time.perf_counter() - start))
        print(f"{agent:<10} {best['mlp']:>8,.0f} {best['attention']:>10,.0f} "
              f"{'1/' + format(best['mlp'] / best['attention'], '.1f'):>16}")


def median(values):
    return statistics.median(values) if values else float("nan")


def report_grid(results: list[dict]) -> None:
    print("\nGridWorld-v0 (optimum 0.93): final greedy return, seeds at the optimum at the end, first step at it")
    print(f"{'agent':<10} {'policy':<10} {'budget':>7} {'final (median)':>15} {'at optimum':>11} "
          f"{'steps to it (median)':>21} {'env steps/s':>12}")
    for agent in dict.fromkeys(r["agent"] for r in results):
        for policy in ("mlp", "attention"):
            runs = [r for r in results if r["agent"] == agent and r["policy"] == policy]
            if not runs:
                continue
            at_end = sum(abs(r["final"] - GRID_OPTIMUM) < 1e-6 for r in runs)
            first = [next((step for step, ret in r["curve"] if abs(ret - GRID_OPTIMUM) < 1e-6), None) for r in runs]
            reached = [f for f in first if f is not None]
            print(f"{agent:<10} {policy:<10} {runs[0]['steps']:>7} {median([r['final'] for r in runs]):>15.3f} "
                  f"{at_end:>6}/{len(runs):<4} {median(reached):>21,.0f} {median([r['steps_per_s'] for r in runs]):>12,.0f}")
            print(f"{'':<21} per seed: final {[round(r['final'], 2) for r in runs]}, first optimal step {first}")


def report_memory(results: list[dict]) -> None:
    env = CueCorridor()
    print(f"\nCueCorridor-v0, PPO: mean return of the final greedy policy over 100 episodes "
          f"(optimum {env.optimum:.2f}, best memoryless {env.memoryless_optimum:.2f})")
    for policy in ("mlp", "attention"):
        runs = [r for r in results if r["policy"] == policy]
        if runs:
            label = "mlp (current observation)" if policy == "mlp" else f"attention, history={runs[0]['history']}"
            print(f"{label:<28} {runs[0]['steps'] // 1000}k steps  "
                  f"median {median([r['final'] for r in runs]):6.3f}  per seed "
                  f"{[round(r['final'], 3) for r in runs]}  env steps/s {median([r['steps_per_s'] for r in runs]):,.0f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--only", choices=["grid", "memory", "speed"])
    parser.add_argument("--agents", default="ppo,dqn,reinforce", help="comma-separated, for grid")
    parser.add_argument("--policies", default="mlp,attention", help="comma-separated")
    parser.add_argument("--jobs", type=int, default=1, help="runs in parallel (processes)")
    parser.add_argument("--speed-steps", type=int, default=5000, help="env steps per speed run")
    parser.add_argument("--speed-rounds", type=int, default=2)
    args = parser.parse_args()
    seeds = range(args.seeds)
    policies = args.policies.split(",")
    with ProcessPoolExecutor(args.jobs) as pool:
        if args.only in (None, "grid"):
            jobs = [(a, p, s) for a in args.agents.split(",") for p in policies for s in seeds]
            report_grid(list(pool.map(grid_job, jobs)))
        if args.only in (None, "memory"):
            report_memory(list(pool.map(memory_job, [(p, s) for p in policies for s in seeds])))
    if args.only in (None, "speed"):
        speed(args.agents.split(","), args.speed_steps, args.speed_rounds)


if __name__ == "__main__":
    main()
