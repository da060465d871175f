"""One Stable-Baselines3 reference cell of `python -m rl_scratch.benchmark --with-sb3`.

    python -m rl_scratch.benchmark_sb3 --env CartPole-v1 --agent ppo --seed 1 --out DIR [--steps N]

Trains SB3's PPO, A2C or DQN on the env, options, budget and evaluation schedule our
own agent of that name gets from `train` (so the two columns of a table are the same
cell), with rl-baselines3-zoo's hyperparameters where the zoo has them for the env
and SB3's defaults otherwise, and writes the run-folder files the benchmark reads
(config.json, evaluations.csv, eval.json). The only module of the package that imports
stable-baselines3 (and so PyTorch); nothing imports it unless `--with-sb3` is given.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import time
from pathlib import Path

import numpy as np

from rl_scratch import config as cfg
from rl_scratch import runs, stats
from rl_scratch.target import Target

# rl-baselines3-zoo hyperparams/{ppo,a2c,dqn}.yml (schedules "lin_X" as linear decay from X).
ZOO = {
    ("ppo", "CartPole-v1"): dict(n_envs=8, n_steps=32, batch_size=256, gae_lambda=0.8, gamma=0.98, n_epochs=20,
                                 ent_coef=0.0, learning_rate="lin_0.001", clip_range="lin_0.2"),
    ("ppo", "Acrobot-v1"): dict(n_envs=16, n_steps=256, gae_lambda=0.94, gamma=0.99, n_epochs=4, ent_coef=0.0,
                                normalize=True),
    ("a2c", "CartPole-v1"): dict(n_envs=8, ent_coef=0.0),
    ("a2c", "Acrobot-v1"): dict(n_envs=16, ent_coef=0.0, normalize=True),
    ("dqn", "CartPole-v1"): dict(learning_rate=2.3e-3, batch_size=64, buffer_size=100_000, learning_starts=1000,
                                 gamma=0.99, target_update_interval=10, train_freq=256, gradient_steps=128,
                                 exploration_fraction=0.16, exploration_final_eps=0.04,
                                 policy_kwargs=dict(net_arch=[256, 256])),
    ("dqn", "Acrobot-v1"): dict(learning_rate=6.3e-4, batch_size=128, buffer_size=50_000, learning_starts=0,
                                gamma=0.99, target_update_interval=250, train_freq=4, gradient_steps=-1,
                                exploration_fraction=0.12, exploration_final_eps=0.1,
                                policy_kwargs=dict(net_arch=[256, 256])),
}


def _linear(text):
    """'lin_0.001' -> SB3's schedule of the remaining progress (1 -> 0)."""
    if isinstance(text, str) and text.startswith("lin_"):
        start = float(text[4:])
        return lambda remaining: remaining * start
    return text


def evaluate(model, env, episodes: int, seed: int) -> dict:
    """Deterministic episodes, seeded like ours (seed, seed + 1, ...)."""
    returns = []
    for i in range(episodes):
        obs, _ = env.reset(seed=seed + i)
        total, done = 0.0, False
        while not done:
            action, _ = model.predict(obs, deterministic=True)
            obs, reward, terminated, truncated, _ = env.step(int(action))
            total += float(reward)
            done = terminated or truncated
        returns.append(total)
    return {"returns": returns, "mean_return": float(np.mean(returns)), "std_return": float(np.std(returns))}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m rl_scratch.benchmark_sb3")
    p.add_argument("--env", required=True)
    p.add_argument("--agent", required=True, choices=("ppo", "a2c", "dqn"))
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", required=True)
    p.add_argument("--steps", type=int)
    args = p.parse_args(argv)

    import stable_baselines3 as sb3
    import torch

    torch.set_num_threads(1)  # one core per worker, as the benchmark promises
    from stable_baselines3.common.callbacks import BaseCallback
    from stable_baselines3.common.env_util import make_vec_env
    from stable_baselines3.common.vec_env import VecNormalize

    flags = {"env": args.env, "agent": args.agent, "seed": args.seed, "hyperparameters": {}, "env_kwargs": {}}
    if args.steps is not None:
        flags["steps"] = args.steps
    s = cfg.resolve(flags, {}).settings
    hyper = dict(ZOO.get((args.agent, s.env), {}))
    n_envs, normalize = hyper.pop("n_envs", 1), hyper.pop("normalize", False)
    hyper = {k: _linear(v) for k, v in hyper.items()}
    folder = Path(args.out)
    folder.mkdir(parents=True, exist_ok=False)
    runs.atomic_write_json(folder / runs.CONFIG_FILE, {**dataclasses.asdict(s), "sb3": True, "zoo": bool(hyper),
                                                       "hyperparameters": {k: str(v) for k, v in hyper.items()}})
    train_env = make_vec_env(lambda: cfg.make_env(s.env, s.env_kwargs), n_envs=n_envs, seed=s.seed)
    if normalize:
        train_env = VecNormalize(train_env, norm_reward=False)
    model = getattr(sb3, args.agent.upper())("MlpPolicy", train_env, seed=s.seed, verbose=0, **hyper)
    eval_env = cfg.make_env(s.env, {**s.env_kwargs, **s.eval_env_kwargs})
    probe = cfg.make_env(s.env, s.env_kwargs)
    target = Target.of_env(probe)
    probe.close()
    eval_seed = s.seed + 1_000_003
    log = runs.CsvLog(folder / runs.EVALUATIONS_FILE, runs.EVAL_COLUMNS)
    history = {"best": None, "best_step": None, "target_step": None, "target_s": None, "means": []}
    start = time.perf_counter()

    def policy():
        if normalize:  # evaluate on raw observations through the training statistics
            class Normalized:
                def predict(self, obs, deterministic=True):
                    return model.predict(train_env.normalize_obs(obs), deterministic=deterministic)
            return Normalized()
        return model

    def evaluate_now(episodes: int) -> dict:
        result = evaluate(policy(), eval_env, episodes, eval_seed)
        step = model.num_timesteps
        log.write({"step": step, "mean_return": result["mean_return"], "std_return": result["std_return"],
                   "wall_time": round(time.perf_counter() - start, 3)})
        log.flush()
        history["means"].append(result["mean_return"])
        if history["best"] is None or result["mean_return"] > history["best"]:
            history["best"], history["best_step"] = result["mean_return"], step
        if history["target_step"] is None and target.reached_by(result):
            history["target_step"], history["target_s"] = step, round(time.perf_counter() - start, 3)
        return result

    class Every(BaseCallback):
        def __init__(self):
            super().__init__()
            self.next = s.eval_every or np.inf

        def _on_step(self) -> bool:
            if self.num_timesteps >= self.next:
                self.next += s.eval_every
                evaluate_now(s.eval_episodes)
            return True

    model.learn(total_timesteps=s.steps, callback=Every())
    wall = time.perf_counter() - start
    result = evaluate_now(s.final_eval_episodes or s.eval_episodes)
    summary = {"env": s.env, "agent": f"sb3-{args.agent}", "steps": int(model.num_timesteps),
               "wall_time_s": round(wall, 3),
               "optimum": target.optimum, "reward_threshold": target.threshold,
               "best_eval_return": history["best"], "best_eval_step": history["best_step"],
               "target_reached_at_step": history["target_step"], "target_reached_after_s": history["target_s"],
               "mean_return": result["mean_return"], "std_return": result["std_return"], "returns": result["returns"],
               "final": stats.summarize(result["returns"]),
               "mean_last_evaluations": float(np.mean(history["means"][-5:])),
               "target_verdict": target.verdict(result), "reached_target": target.reached_by(result)}
    runs.atomic_write_json(folder / runs.SUMMARY_FILE, summary)
    log.close()
    print(json.dumps({k: summary[k] for k in ("mean_return", "reached_target", "wall_time_s")}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
