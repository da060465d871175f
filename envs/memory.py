"""CueCorridor: a T-maze memory task; the cue that says which goal pays is shown on the first step only."""

from __future__ import annotations

from typing import Any

import numpy as np
import gymnasium as gym
from gymnasium import spaces

from rl_scratch.envs._checks import check_render_mode, discrete_action

RIGHT, UP, DOWN, LEFT = 0, 1, 2, 3
ACTION_NAMES = ("right", "up", "down", "left")

_FLOOR, _WALL, _AGENT = (226, 232, 240), (51, 65, 85), (37, 99, 235)
_GOAL_UP, _GOAL_DOWN = (74, 222, 128), (248, 113, 113)


class CueCorridor(gym.Env):
    """
    Walk down a corridor to a junction and turn towards the goal the first
    observation named: a task no policy of the current observation alone can
    solve better than a coin flip.

    ## Description
    The corridor has `length` cells, 0 (start) to `length - 1` (the junction);
    above and below the junction lie two goals. At reset the env draws a cue,
    up or down, uniformly from `self.np_random`: the goal on that side pays
    `goal_reward`, the other one `wrong_reward`. The cue is visible in the
    observation of the reset only; every later observation shows zeros in its
    place. An agent that remembers the first observation walks
    `length - 1` cells right and turns towards the cue; one that sees only
    the current observation cannot know the cue at the junction, so no such
    policy does better than choosing a side at random (`memoryless_optimum`).

        >>> import gymnasium as gym
        >>> import rl_scratch
        >>> env = gym.make("rl_scratch/CueCorridor-v0")
        >>> obs, info = env.reset(seed=0)
        >>> obs.tolist(), info  # cell 0, and the cue: down
        ([1.0, 0.0, 0.0, 0.0, 0.0, 1.0], {'cue': 1})
        >>> [env.step(0)[0].tolist()[-2:] for _ in range(3)]  # walking right, the cue is gone
        [[0.0, 0.0], [0.0, 0.0], [0.0, 0.0]]
        >>> env.step(2)[1:3]  # down, as the first observation said
        (1.0, True)

    ## Action Space
    `Discrete(4)`:

    | Num | Action | Move                                             |
    |-----|--------|--------------------------------------------------|
    | 0   | right  | one cell towards the junction                    |
    | 1   | up     | into the upper goal at the junction, else a bump |
    | 2   | down   | into the lower goal at the junction, else a bump |
    | 3   | left   | one cell back towards the start                  |

    ## Observation Space
    `Box(0, 1, (length + 2,), float32)`:

    | Index            | Content                                              |
    |------------------|------------------------------------------------------|
    | 0 .. length - 1  | one-hot of the agent's cell                          |
    | length           | 1 when the cue says up, on the reset observation only |
    | length + 1       | 1 when the cue says down, on the reset observation only |

    ## Starting State
    The agent starts in cell 0; the cue is up or down with probability 1/2 each.

    ## Rewards
    | Event                                   | Reward                  |
    |-----------------------------------------|-------------------------|
    | enter the goal the cue named            | `goal_reward` (+1.0)    |
    | enter the other goal                    | `wrong_reward` (-1.0)   |
    | any other step, bumps included          | `step_reward` (-0.01)   |

    `optimum` is the best expected return, `goal_reward + (length - 1) *
    step_reward` (0.97 with the defaults: `length - 1` moves right, then the
    turn); `memoryless_optimum` the best of any policy of the current
    observation, `(goal_reward + wrong_reward) / 2 + (length - 1) * step_reward`
    (-0.03). `transition_model()` gives the exact dynamics over the hidden
    states (cell, cue), `initial_state_distrib` their start distribution, and
    value iteration on the two gives `optimum` (the trainer's target).

    ## Episode End
    - Termination: the agent enters either goal.
    - Truncation: only through the `TimeLimit` that `gymnasium.make` adds
      (`max_episode_steps`: 20 for `rl_scratch/CueCorridor-v0`).

    ## Information
    `reset()` returns info keys: `cue`.
    `step()` returns info keys: `cue`.

    `cue` is 0 for up and 1 for down (the hidden state, for analysis only).

    ## Arguments
    * `render_mode=None`: `"rgb_array"` (HxWx3 uint8 frame of shape
      `(3 * cell_size, length * cell_size, 3)`) or `"ansi"` (text).
    * `length=4`: cells of the corridor, start and junction included (>= 2).
    * `step_reward=-0.01`: reward of a step that enters no goal.
    * `goal_reward=1.0`: reward of the goal the cue named.
    * `wrong_reward=-1.0`: reward of the other goal.

    ## Version History
    * v0: initial version.
    """

    metadata = {"render_modes": ["rgb_array", "ansi"], "render_fps": 4}

    def __init__(self, render_mode: str | None = None, length: int = 4, step_reward: float = -0.01,
                 goal_reward: float = 1.0, wrong_reward: float = -1.0):
        check_render_mode(render_mode, self.metadata)
        if isinstance(length, bool) or not isinstance(length, (int, np.integer)) or length < 2:
            raise ValueError(f"length must be an int >= 2 (start and junction), got {length!r}")
        self.render_mode = render_mode
        self.length = int(length)
        self.step_reward, self.goal_reward, self.wrong_reward = float(step_reward), float(goal_reward), \
            float(wrong_reward)
        self.observation_space = spaces.Box(0.0, 1.0, (self.length + 2,), np.float32)
        self.action_space = spaces.Discrete(4)
        self.cell_size = 32
        self._position, self._cue, self._done = 0, 0, False

    # ------------------------------------------------------------ exact model
    @property
    def optimum(self) -> float:
        """The best expected return (undiscounted): walk to the junction, turn towards the cue.

            >>> round(CueCorridor().optimum, 2), round(CueCorridor(length=6).optimum, 2)
            (0.97, 0.95)
        """
        return self.goal_reward + (self.length - 1) * self.step_reward

    @property
    def memoryless_optimum(self) -> float:
        """The best expected return of a policy that sees only the current observation.

        After the first step the observation at a cell is the same for both cues,
        so the turn at the junction is independent of the cue (the only moment
        the cue is visible is cell 0, where no goal can be entered). The best such
        policy walks straight there and turns either way: half the time right.

            >>> round(CueCorridor().memoryless_optimum, 2)
            -0.03
        """
        return (self.goal_reward + self.wrong_reward) / 2 + (self.length - 1) * self.step_reward

    def transition_model(self) -> list[list[list[tuple[float, int, float, bool]]]]:
        """`P[s][a] = [(prob, next_state, reward, terminated)]` over hidden states `s = cue * (length + 1) + cell`.

        Cell `length` is the absorbing end (a goal entered). FrozenLake's `env.P` layout.

            >>> P = CueCorridor().transition_model()
            >>> P[3][1], P[3][2]  # at the junction with cue up (0): up pays, down does not
            ([(1.0, 4, 1.0, True)], [(1.0, 4, -1.0, True)])
        """
        n = self.length + 1
        P = []
        for cue in (0, 1):
            for cell in range(n):
                s = cue * n + cell
                if cell == self.length:
                    P.append([[(1.0, s, 0.0, True)] for _ in range(4)])
                    continue
                per_action = []
                for a in range(4):
                    next_cell, reward, done = self._move(cell, cue, a)
                    per_action.append([(1.0, cue * n + (self.length if done else next_cell), reward, done)])
                P.append(per_action)
        return P

    @property
    def initial_state_distrib(self) -> np.ndarray:
        """The start distribution over `transition_model()`'s hidden states (Toy Text's name, so that
        planners and the trainer's target find it): cell 0 with either cue, 1/2 each.

            >>> CueCorridor(length=2).initial_state_distrib.tolist()
            [0.5, 0.0, 0.0, 0.5, 0.0, 0.0]
        """
        start = np.zeros(2 * (self.length + 1))
        start[[0, self.length + 1]] = 0.5
        return start

    def _move(self, cell: int, cue: int, action: int) -> tuple[int, float, bool]:
        """(next cell, reward, terminated) of one action; the dynamics in one place."""
        if action in (UP, DOWN) and cell == self.length - 1:
            right_side = (action == UP) == (cue == 0)
            return cell, self.goal_reward if right_side else self.wrong_reward, True
        if action == RIGHT:
            return min(cell + 1, self.length - 1), self.step_reward, False
        if action == LEFT:
            return max(cell - 1, 0), self.step_reward, False
        return cell, self.step_reward, False

    # -------------------------------------------------------------------- API
    def _obs(self, show_cue: bool) -> np.ndarray:
        obs = np.zeros(self.length + 2, np.float32)
        obs[self._position] = 1.0
        if show_cue:
            obs[self.length + self._cue] = 1.0
        return obs

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        super().reset(seed=seed)
        self._position, self._done = 0, False
        self._cue = int(self.np_random.integers(2))
        self._last_action = None
        return self._obs(True), {"cue": self._cue}

    def step(self, action):
        a = discrete_action(action, 4, names=ACTION_NAMES)
        if self._done:
            return self._obs(False), 0.0, True, False, {"cue": self._cue}
        self._position, reward, self._done = self._move(self._position, self._cue, a)
        self._last_action = a
        return self._obs(False), float(reward), bool(self._done), False, {"cue": self._cue}

    def get_state(self) -> dict:
        """The episode in progress as plain values (checkpoints; see agents/env_state.py).

            >>> env = CueCorridor()
            >>> _ = env.reset(seed=0); _ = env.step(0)
            >>> env.get_state()
            {'position': 1, 'cue': 1, 'done': False}
        """
        return {"position": self._position, "cue": self._cue, "done": self._done}

    def set_state(self, state: dict) -> None:
        """Continue the episode `get_state` described.

            >>> env = CueCorridor()
            >>> _ = env.reset(seed=0)
            >>> env.set_state({"position": 3, "cue": 0, "done": False})
            >>> env.step(1)[1:3]  # up at the junction, the cue's side
            (1.0, True)
        """
        self._position, self._cue, self._done = int(state["position"]), int(state["cue"]), bool(state["done"])

    # ------------------------------------------------------------- rendering
    def render(self):
        if self.render_mode == "ansi":
            goal = {0: "U", 1: "D"}[self._cue]
            row = "".join("A" if i == self._position else "." for i in range(self.length))
            return f"cue {goal}\n" + " " * (self.length - 1) + "+\n" + row + "\n" + " " * (self.length - 1) + "-\n"
        if self.render_mode == "rgb_array":
            c = self.cell_size
            frame = np.empty((3 * c, self.length * c, 3), np.uint8)
            frame[...] = _WALL
            frame[c:2 * c] = _FLOOR
            paying, other = (_GOAL_UP, _GOAL_DOWN)
            up_colour, down_colour = (paying, other) if self._cue == 0 else (other, paying)
            x = (self.length - 1) * c
            frame[:c, x:x + c] = up_colour
            frame[2 * c:, x:x + c] = down_colour
            frame[c:2 * c, 0:c // 4] = up_colour if self._cue == 0 else down_colour  # the cue, at the start
            frame[c + c // 4:2 * c - c // 4, self._position * c + c // 4:(self._position + 1) * c - c // 4] = _AGENT
            frame[c - 1:c + 1] = _WALL
            frame[2 * c - 1:2 * c + 1] = _WALL
            frame[:, ::c] = _WALL
            return frame
        return None

    def close(self):
        pass
