"""Environment speed: GridWorld steps/s against FrozenLake-v1, and render frames/s.

Not run by the tests. Usage: python benchmarks/env_speed.py [--steps N]

Both envs are stepped in the same process with the same loop (cycling actions,
resetting on termination), once unwrapped and once through `gymnasium.make`
(which adds the TimeLimit, OrderEnforcing and PassiveEnvChecker wrappers).
Targets: GridWorld index-mode steps/s >= FrozenLake-v1 steps/s (ratio >= 1.0),
and rgb_array rendering >= 200 frames/s on the default map.
"""

from __future__ import annotations

import argparse
import os
import time

os.environ.setdefault("SDL_VIDEODRIVER", "dummy")

import gymnasium as gym

import rl_scratch  # noqa: F401  (registers the rl_scratch/ ids)


def steps_per_second(env, n_steps: int, repeats: int = 3) -> float:
    """Best of `repeats` timings of n_steps steps (the machine is shared, so take the best)."""
    best = 0.0
    for _ in range(repeats):
        env.reset(seed=0)
        step = env.step
        start = time.perf_counter()
        for i in range(n_steps):
            _, _, terminated, truncated, _ = step(i & 3)
            if terminated or truncated:
                env.reset()
        best = max(best, n_steps / (time.perf_counter() - start))
    return best


def frames_per_second(env, n_frames: int, repeats: int = 3) -> float:
    best = 0.0
    for _ in range(repeats):
        env.reset(seed=0)
        start = time.perf_counter()
        for i in range(n_frames):
            _, _, terminated, truncated, _ = env.step(i & 3)
            if terminated or truncated:
                env.reset()
            env.render()
        best = max(best, n_frames / (time.perf_counter() - start))
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=100_000)
    parser.add_argument("--frames", type=int, default=1_000)
    args = parser.parse_args()

    rows = []
    for label, make in [
        ("unwrapped", lambda env_id, **kw: gym.make(env_id, **kw).unwrapped),
        ("gym.make", gym.make),
    ]:
        lake = steps_per_second(make("FrozenLake-v1"), args.steps)
        lake_det = steps_per_second(make("FrozenLake-v1", is_slippery=False), args.steps)
        grid = steps_per_second(make("rl_scratch/GridWorld-v0"), args.steps)
        grid_slip = steps_per_second(make("rl_scratch/GridWorld-v0", slip_prob=0.2), args.steps)
        rows.append((label, lake, lake_det, grid, grid_slip))

    print(f"steps/s (best of 3 x {args.steps} steps)")
    print(f"{'':10s} {'FrozenLake':>12s} {'FL no-slip':>12s} {'GridWorld':>12s} {'GW slip 0.2':>12s} {'ratio':>7s} {'ratio slip':>10s}")
    for label, lake, lake_det, grid, grid_slip in rows:
        print(
            f"{label:10s} {lake:12,.0f} {lake_det:12,.0f} {grid:12,.0f} {grid_slip:12,.0f} "
            f"{grid / lake:7.2f} {grid_slip / lake:10.2f}"
        )
    print("ratio = GridWorld (index, deterministic) / FrozenLake-v1 (default, slippery); target >= 1.0")
    print("ratio slip = GridWorld with slip_prob=0.2 / FrozenLake-v1 (both stochastic)")

    print(f"\nrender frames/s (step + render, best of 3 x {args.frames} frames)")
    for env_id in ["rl_scratch/GridWorld-v0", "rl_scratch/GridWorld-Maze-v0", "rl_scratch/GridWorld-Large-v0", "FrozenLake-v1"]:
        env = gym.make(env_id, render_mode="rgb_array")
        env.reset(seed=0)
        shape = env.render().shape
        fps = frames_per_second(env, args.frames)
        print(f"{env_id:32s} {str(shape):15s} {fps:8,.0f} frames/s")
        env.close()
    print("target: >= 200 frames/s on rl_scratch/GridWorld-v0")


if __name__ == "__main__":
    main()
