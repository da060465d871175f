"""Gymnasium ids for the rl_scratch environments.

Entry points are strings, so registering imports neither the environment modules
nor pygame; `gymnasium.make` imports a module the first time its id is made.
"""

from __future__ import annotations

import gymnasium

# id -> (entry point, max_episode_steps, kwargs). Step limits are a few times the
# shortest path, so a half-trained agent still reaches the goal.
ENV_SPECS: dict[str, tuple[str, int | None, dict]] = {
    "rl_scratch/GridWorld-v0": ("rl_scratch.envs.gridworld:GridWorld", 100, {"map_name": "5x5"}),
    "rl_scratch/GridWorld-Slippery-v0": (
        "rl_scratch.envs.gridworld:GridWorld",
        100,
        {"map_name": "5x5", "slip_prob": 0.2},
    ),
    "rl_scratch/GridWorld-8x8-v0": ("rl_scratch.envs.gridworld:GridWorld", 200, {"map_name": "8x8"}),
    "rl_scratch/GridWorld-FourRooms-v0": ("rl_scratch.envs.gridworld:GridWorld", 200, {"map_name": "four_rooms"}),
    "rl_scratch/GridWorld-Cliff-v0": ("rl_scratch.envs.gridworld:GridWorld", 200, {"map_name": "cliff"}),
    "rl_scratch/GridWorld-Maze-v0": ("rl_scratch.envs.gridworld:GridWorld", 400, {"map_name": "maze"}),
    "rl_scratch/GridWorld-Large-v0": ("rl_scratch.envs.gridworld:GridWorld", 400, {"map_name": "large"}),
    # The cue is visible on the first step only; the best path takes length - 1 = 3 moves.
    "rl_scratch/CueCorridor-v0": ("rl_scratch.envs.memory:CueCorridor", 20, {}),
    # One-step episodes end by termination; no time limit.
    "rl_scratch/Iris-v0": ("rl_scratch.envs.iris:Iris", None, {}),
    "rl_scratch/NextToken-v0": ("rl_scratch.envs.next_token:NextToken", None, {}),
}


def register_envs() -> None:
    """Register every id in ENV_SPECS; ids already registered are left alone.

    `import rl_scratch` calls it; an env made by id imports its module only then.

        >>> import gymnasium
        >>> register_envs()
        >>> gymnasium.spec("rl_scratch/GridWorld-Maze-v0").max_episode_steps
        400
    """
    for env_id, (entry_point, max_episode_steps, kwargs) in ENV_SPECS.items():
        if env_id in gymnasium.registry:
            continue
        gymnasium.register(
            id=env_id,
            entry_point=entry_point,
            max_episode_steps=max_episode_steps,
            kwargs=kwargs,
        )
