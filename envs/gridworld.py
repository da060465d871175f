"""GridWorld: a tabular navigation task with walls, pits and an exact transition model."""

from __future__ import annotations

import math
from collections import deque
from typing import Any, Sequence

import numpy as np
import gymnasium as gym
from gymnasium import spaces

from rl_scratch.envs import _render
from rl_scratch.envs._checks import check_render_mode, discrete_action

UP, RIGHT, DOWN, LEFT = 0, 1, 2, 3
ACTION_NAMES = ("up", "right", "down", "left")
# (d_row, d_col) per action, in action order.
MOVES = ((-1, 0), (0, 1), (1, 0), (0, -1))

TILES = {
    "S": "start (floor)",
    ".": "floor",
    "#": "wall",
    "H": "pit",
    "G": "goal",
}
OBS_MODES = ("index", "coords", "onehot", "grid")
# Feature order of one cell token in obs_mode="grid".
GRID_CHANNELS = ("wall", "pit", "goal", "agent", "row", "col")

MAPS: dict[str, tuple[str, ...]] = {
    # Default: trains in seconds. Shortest path 8 steps, optimal return 0.93.
    "5x5": (
        "S....",
        ".##..",
        "..H..",
        ".#..#",
        "....G",
    ),
    "8x8": (
        "S..#....",
        ".#.#.##.",
        ".#...#..",
        ".##H.#.#",
        "....H...",
        "#.#.##.#",
        "..#...H.",
        "H...#..G",
    ),
    # Sutton, Precup & Singh (1999) four rooms, without the outer wall.
    "four_rooms": (
        "S....#.....",
        ".....#.....",
        "...........",
        ".....#.....",
        ".....#.....",
        "#.####.....",
        ".....###.##",
        ".....#.....",
        ".....#.....",
        "..........G",
        ".....#.....",
    ),
    # Sutton & Barto's cliff walk; falling terminates the episode here.
    "cliff": (
        "............",
        "............",
        "............",
        "SHHHHHHHHHHG",
    ),
    # A perfect maze (one path between any two cells), carved by depth-first search.
    "maze": (
        "S....#...#...",
        "####.#.#.#.#.",
        "...#.#.#.#.#.",
        "##.#.#.###.#.",
        "...#.#.....#.",
        ".#.#.#.#####.",
        ".#.#.#...#.#.",
        ".###.###.#.#.",
        ".#...#.....#.",
        ".#.#######.#.",
        ".#.#.....#.#.",
        ".#.###.#.###.",
        ".......#....G",
    ),
    "large": (
        "S.....#.........",
        ".####.#.####.##.",
        ".#....#....#..#.",
        ".#.####.##.##.#.",
        ".#...H....H...#.",
        ".###.#.####.###.",
        "...#.#....#.....",
        "##.#.####.#.###.",
        "...#...H..#...#.",
        ".#####.##.###.#.",
        ".......#......#.",
        ".#.###.#.####.#.",
        ".#...#.H....#...",
        ".###.#.####.###.",
        ".....#......H...",
        "####...####....G",
    ),
}


def _shortest_path_length(grid: np.ndarray) -> int | None:
    """Fewest moves from S to a G avoiding walls and pits (breadth-first search)."""
    rows, cols = grid.shape
    (sr,), (sc,) = np.nonzero(grid == "S")
    dist = {(int(sr), int(sc)): 0}
    queue = deque([(int(sr), int(sc))])
    while queue:
        r, c = queue.popleft()
        if grid[r, c] == "G":
            return dist[(r, c)]
        for dr, dc in MOVES:
            nr, nc = r + dr, c + dc
            if 0 <= nr < rows and 0 <= nc < cols and (nr, nc) not in dist and grid[nr, nc] not in "#H":
                dist[(nr, nc)] = dist[(r, c)] + 1
                queue.append((nr, nc))
    return None


def parse_map(desc: Sequence[str]) -> np.ndarray:
    """Validate a map given as rows of tile characters; return it as a 2-D char array.

    Raises ValueError for an empty or ragged map, an unknown character, a missing or
    repeated start, a missing goal, or a goal that cannot be reached from the start.
    """
    if isinstance(desc, str) or not isinstance(desc, Sequence) or len(desc) == 0:
        raise ValueError(f"desc must be a non-empty list of strings, one per row; got {desc!r}")
    for r, row in enumerate(desc):
        if not isinstance(row, str):
            raise ValueError(f"desc row {r} must be a string, got {type(row).__name__}: {row!r}")
    width = len(desc[0])
    if width == 0:
        raise ValueError("desc row 0 is empty")
    for r, row in enumerate(desc):
        if len(row) != width:
            raise ValueError(
                f"desc rows must all have the same length: row 0 has {width} characters, "
                f"row {r} ({row!r}) has {len(row)}"
            )
        for c, ch in enumerate(row):
            if ch not in TILES:
                known = ", ".join(f"{k!r} {v}" for k, v in TILES.items())
                raise ValueError(f"unknown map character {ch!r} at row {r}, col {c}; known: {known}")
    grid = np.array([list(row) for row in desc])
    n_start = int((grid == "S").sum())
    if n_start != 1:
        raise ValueError(f"map needs exactly one start 'S', found {n_start}")
    if not (grid == "G").any():
        raise ValueError("map has no goal 'G'")
    if _shortest_path_length(grid) is None:
        raise ValueError(
            "map is unsolvable: no path from 'S' to a 'G' that avoids walls '#' and pits 'H'"
        )
    return grid


def generate_map(
    size: int | tuple[int, int] = 8,
    seed: int | np.random.Generator | None = None,
    wall_prob: float = 0.2,
    pit_prob: float = 0.05,
) -> tuple[str, ...]:
    """A random solvable map: 'S' top-left, 'G' bottom-right, walls and pits scattered.

    Each other cell is independently a wall with probability `wall_prob`, a pit with
    `pit_prob`, else floor; draws are repeated until a path from S to G exists.
    `seed` is an int, a `numpy.random.Generator`, or None for fresh entropy.

        >>> from rl_scratch.envs import GridWorld, generate_map
        >>> desc = generate_map(6, seed=3)
        >>> len(desc), desc[0][0], desc[-1][-1], desc == generate_map(6, seed=3)
        (6, 'S', 'G', True)
        >>> GridWorld(desc=desc).shortest_path_length is not None
        True
    """
    rows, cols = (size, size) if np.isscalar(size) else size
    rows, cols = int(rows), int(cols)
    if rows < 1 or cols < 1 or rows * cols < 2:
        raise ValueError(f"size must give at least 2 cells, got {size!r}")
    if not (0 <= wall_prob and 0 <= pit_prob and wall_prob + pit_prob < 1):
        raise ValueError(
            f"need wall_prob >= 0, pit_prob >= 0 and wall_prob + pit_prob < 1; "
            f"got wall_prob={wall_prob}, pit_prob={pit_prob}"
        )
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    for _ in range(10_000):
        grid = rng.choice(
            np.array([".", "#", "H"]), size=(rows, cols), p=[1 - wall_prob - pit_prob, wall_prob, pit_prob]
        )
        grid[0, 0] = "S"
        grid[-1, -1] = "G"
        if _shortest_path_length(grid) is not None:
            return tuple("".join(row) for row in grid)
    raise ValueError(
        f"no solvable {rows}x{cols} map in 10000 draws with wall_prob={wall_prob}, "
        f"pit_prob={pit_prob}; lower them"
    )


# Colours (RGB). A calm palette so the agent, goal and pits pop out.
_FLOOR = ((238, 241, 246), (229, 234, 241))  # checkerboard
_GRID_LINE = (206, 212, 222)
_WALL = (55, 65, 81)
_WALL_TOP = (75, 85, 99)
_PIT = (31, 31, 46)
_PIT_RIM = (220, 38, 38)
_GOAL = (134, 239, 172)
_STAR = (250, 204, 21)
_STAR_EDGE = (161, 98, 7)
_START_RING = (148, 163, 184)
_AGENT = (37, 99, 235)
_AGENT_IN_PIT = (127, 29, 29)
_AGENT_AT_GOAL = (22, 163, 74)
_ARROW = (30, 41, 59)
_TEXT = (30, 41, 59)
# Value overlay: low -> mid -> high.
_VALUE_LOW, _VALUE_MID, _VALUE_HIGH = (248, 113, 113), (253, 224, 71), (74, 222, 128)


class GridWorld(gym.Env):
    """
    Walk from the start `S` to a goal `G` on a grid, around walls `#` and without
    stepping into a pit `H`.

    ## Description
    The map is a list of strings, one per row, like FrozenLake's `desc`:
    `S` start (floor), `.` floor, `#` wall, `H` pit, `G` goal. Built-in maps are in
    `MAPS` (`5x5` default, `8x8`, `four_rooms`, `cliff`, `maze`, `large`);
    `map_name="random"` draws a solvable map with `generate_map`. Every map is
    checked at construction: exactly one `S`, at least one `G`, and a path from
    `S` to a `G` that avoids walls and pits.

    A state is a cell index `s = row * n_cols + col` (walls included, never
    occupied). With `slip_prob > 0` a move goes in the intended direction with
    probability `1 - slip_prob` and in each of the two perpendicular directions
    with probability `slip_prob / 2`. Moving into a wall or off the grid leaves
    the agent where it is. `transition_model()` gives the exact dynamics, for
    value iteration.

        >>> import gymnasium as gym
        >>> import rl_scratch  # registers the rl_scratch/... ids
        >>> env = gym.make("rl_scratch/GridWorld-v0", obs_mode="onehot")
        >>> obs, info = env.reset(seed=0)
        >>> obs.shape, env.action_space, info
        ((25,), Discrete(4), {'prob': 1.0})
        >>> obs, reward, terminated, truncated, info = env.step(1)  # right
        >>> reward, terminated, info["is_success"]
        (-0.01, False, False)
        >>> print(GridWorld(desc=["S.#", "..G"], render_mode="ansi").render())  # a custom map; A: the agent
        A . #
        . . G
        <BLANKLINE>

    ## Action Space
    `Discrete(4)`:

    | Num | Action | Move    |
    |-----|--------|---------|
    | 0   | up     | row - 1 |
    | 1   | right  | col + 1 |
    | 2   | down   | row + 1 |
    | 3   | left   | col - 1 |

    ## Observation Space
    Chosen with `obs_mode`; `n_states = n_rows * n_cols`:

    | obs_mode | Space                    | dtype   | shape         | Content                                  |
    |----------|--------------------------|---------|---------------|------------------------------------------|
    | index    | Discrete(n_states)       | int     | ()            | the agent's cell `row * n_cols + col`    |
    | coords   | Box(0, 1, (2,))          | float32 | (2,)          | `(row / (n_rows-1), col / (n_cols-1))`   |
    | onehot   | Box(0, 1, (n_states,))   | float32 | (n_states,)   | 1 at the agent's cell                    |
    | grid     | Box(0, 1, (n_states, 6)) | float32 | (n_states, 6) | one token per cell, channels below       |

    `grid` channels (`GRID_CHANNELS`): 0 wall, 1 pit, 2 goal, 3 agent (0/1
    flags), 4 row and 5 col (the cell's coordinates scaled to [0, 1], so an
    attention policy can tell cells apart without a positional encoding).

    ## Starting State
    The agent starts on `S`. `reset(options={"state": s})` starts it on any
    floor cell `s` instead (for exploring starts); other cells raise ValueError.

    ## Rewards
    | Event                                 | Reward                 |
    |---------------------------------------|------------------------|
    | enter a goal `G`                      | `goal_reward` (+1.0)   |
    | enter a pit `H`                       | `pit_reward` (-1.0)    |
    | any other step, bumping a wall too    | `step_reward` (-0.01)  |

    On the default map the optimal undiscounted return is 1.0 - 7 * 0.01 = 0.93
    (8 moves).

    ## Episode End
    - Termination: the agent enters a goal or a pit.
    - Truncation: only through the `TimeLimit` that `gymnasium.make` adds
      (`max_episode_steps`: 100 for `rl_scratch/GridWorld-v0`).
    Stepping after termination keeps the agent in place with reward 0 and
    `terminated=True`, as `transition_model()` says for terminal states.

    ## Information
    `reset()` returns info keys: `prob`.
    `step()` returns info keys: `prob`, `slipped`, `is_success`.

    `prob` is the probability of the transition just taken under
    `transition_model()` (1.0 at reset); `slipped` says whether the move went
    sideways; `is_success` whether the agent is on a goal (Gymnasium's
    convention for goal-reaching tasks: evaluation reads it at the episode's end).

    ## Arguments
    * `render_mode=None`: `"human"` (pygame window), `"rgb_array"` (HxWx3 uint8
      frame of shape `(n_rows * cell_size, n_cols * cell_size, 3)`), `"ansi"` (text).
    * `desc=None`: a custom map (list of strings); overrides `map_name`.
    * `map_name="5x5"`: a key of `MAPS`, or `"random"`.
    * `obs_mode="index"`: one of `index`, `coords`, `onehot`, `grid`.
    * `slip_prob=0.0`: probability that a move slips to a perpendicular direction.
    * `step_reward=-0.01`: reward for a step that does not end in a goal or pit.
    * `goal_reward=1.0`: reward for entering a goal.
    * `pit_reward=-1.0`: reward for entering a pit.
    * `size=8`: side of a `"random"` map (an int, or `(rows, cols)`).
    * `map_seed=None`: seed of a `"random"` map (None: a new map each construction).
    * `wall_prob=0.2`: wall density of a `"random"` map.
    * `pit_prob=0.05`: pit density of a `"random"` map.

    ## Version History
    * v0: initial version.
    """

    metadata = {"render_modes": ["human", "rgb_array", "ansi"], "render_fps": 8}

    def __init__(
        self,
        render_mode: str | None = None,
        desc: Sequence[str] | None = None,
        map_name: str = "5x5",
        obs_mode: str = "index",
        slip_prob: float = 0.0,
        step_reward: float = -0.01,
        goal_reward: float = 1.0,
        pit_reward: float = -1.0,
        size: int | tuple[int, int] = 8,
        map_seed: int | None = None,
        wall_prob: float = 0.2,
        pit_prob: float = 0.05,
    ):
        check_render_mode(render_mode, self.metadata)
        if obs_mode not in OBS_MODES:
            raise ValueError(f"unknown obs_mode {obs_mode!r}; choose from {list(OBS_MODES)}")
        if not 0.0 <= slip_prob <= 1.0:
            raise ValueError(f"slip_prob must be in [0, 1], got {slip_prob}")
        for name, value in (("step_reward", step_reward), ("goal_reward", goal_reward), ("pit_reward", pit_reward)):
            if not math.isfinite(value):
                raise ValueError(f"{name} must be a finite number, got {value}")
        if desc is None:
            if map_name == "random":
                desc = generate_map(size, map_seed, wall_prob, pit_prob)
            elif map_name in MAPS:
                desc = MAPS[map_name]
            else:
                raise ValueError(f"unknown map_name {map_name!r}; known maps: {sorted(MAPS)} or 'random'")
        grid = parse_map(desc)

        self.render_mode = render_mode
        self.obs_mode = obs_mode
        self.slip_prob = float(slip_prob)
        self.step_reward = float(step_reward)
        self.goal_reward = float(goal_reward)
        self.pit_reward = float(pit_reward)
        self.desc = tuple("".join(row) for row in grid)
        self.grid = grid
        self.n_rows, self.n_cols = grid.shape
        self.n_states = self.n_rows * self.n_cols
        self.n_actions = 4
        flat = grid.ravel()
        self.start_state = int(np.flatnonzero(flat == "S")[0])
        self.goal_states = tuple(int(s) for s in np.flatnonzero(flat == "G"))
        self.shortest_path_length = _shortest_path_length(grid)

        self._build_tables(flat)
        self._build_observations(flat)
        self.action_space = spaces.Discrete(4)

        self._s = self.start_state
        self.last_action: int | None = None
        self.last_reward: float | None = None
        self._overlay_values: np.ndarray | None = None
        self._overlay_policy: np.ndarray | None = None
        self.cell_size = max(16, min(64, 640 // max(self.n_rows, self.n_cols)))
        self._background = None
        self._frame = None
        self._window = None

    # ---------------------------------------------------------------- dynamics
    def _build_tables(self, flat: np.ndarray) -> None:
        """Tables indexed [state, executed direction] and [state, action, direction]."""
        S, rows, cols = self.n_states, self.n_rows, self.n_cols
        self.absorbing = np.isin(flat, ["#", "H", "G"])  # walls are never occupied
        next_state = np.tile(np.arange(S, dtype=np.int64)[:, None], (1, 4))
        reward = np.zeros((S, 4))
        terminated = np.ones((S, 4), dtype=bool)
        cell_reward = {"H": self.pit_reward, "G": self.goal_reward}
        for s in range(S):
            if self.absorbing[s]:
                continue
            r, c = divmod(s, cols)
            for d, (dr, dc) in enumerate(MOVES):
                nr, nc = r + dr, c + dc
                ns = nr * cols + nc if 0 <= nr < rows and 0 <= nc < cols and flat[nr * cols + nc] != "#" else s
                next_state[s, d] = ns
                reward[s, d] = cell_reward.get(flat[ns], self.step_reward)
                terminated[s, d] = flat[ns] in "GH"

        # Probability of each executed direction given the action.
        direction_prob = np.zeros((4, 4))
        for a in range(4):
            direction_prob[a, a] += 1.0 - self.slip_prob
            direction_prob[a, (a + 1) % 4] += self.slip_prob / 2
            direction_prob[a, (a + 3) % 4] += self.slip_prob / 2
        # prob[s, a, d]: probability of landing where direction d leads, under action a
        # (two directions that lead to the same cell are one outcome).
        same = next_state[:, :, None] == next_state[:, None, :]  # (S, d, d')
        outcome_prob = np.einsum("ae,sde->sad", direction_prob, same)

        self.next_state, self.reward_table, self.terminated_table = next_state, reward, terminated
        self.direction_prob = direction_prob
        self.outcome_prob = outcome_prob
        # Python lists: scalar indexing on them is several times faster than on arrays.
        self._next = next_state.tolist()
        self._reward = reward.tolist()
        self._terminated = terminated.tolist()
        self._prob = outcome_prob.tolist()
        self._goal = [bool(cell == "G") for cell in flat]
        self._slip_lo = 1.0 - self.slip_prob
        self._slip_hi = 1.0 - self.slip_prob / 2

    def transition_model(self) -> list[list[list[tuple[float, int, float, bool]]]]:
        """Exact dynamics: `P[s][a] = [(prob, next_state, reward, terminated), ...]`.

        Same layout as FrozenLake's `env.P`. Goal, pit and wall states are absorbing:
        every action gives [(1.0, s, 0.0, True)].

            >>> P = GridWorld(slip_prob=0.2).transition_model()
            >>> sorted(P[0][1])  # right from the start: slips up (a bump: stays) or down
            [(0.1, 0, -0.01, False), (0.1, 5, -0.01, False), (0.8, 1, -0.01, False)]
        """
        P = []
        for s in range(self.n_states):
            per_action = []
            for a in range(4):
                if self.absorbing[s]:
                    per_action.append([(1.0, s, 0.0, True)])
                    continue
                outcomes: dict[int, tuple[float, float, bool]] = {}
                for d in range(4):
                    p = self.direction_prob[a, d]
                    if p == 0.0:
                        continue
                    ns = int(self.next_state[s, d])
                    prev = outcomes.get(ns, (0.0,))[0]
                    outcomes[ns] = (prev + p, float(self.reward_table[s, d]), bool(self.terminated_table[s, d]))
                per_action.append([(float(p), ns, r, t) for ns, (p, r, t) in outcomes.items()])
            P.append(per_action)
        return P

    def to_rowcol(self, state: int) -> tuple[int, int]:
        """Cell (row, col) of a state index.

            >>> GridWorld().to_rowcol(7)
            (1, 2)
        """
        return divmod(int(state), self.n_cols)

    def to_state(self, row: int, col: int) -> int:
        """State index of cell (row, col).

            >>> GridWorld().to_state(4, 4)  # the goal of the 5x5 map
            24
        """
        return int(row) * self.n_cols + int(col)

    @property
    def state(self) -> int:
        """The agent's current cell index.

            >>> env = GridWorld()
            >>> _ = env.reset(seed=0); _ = env.step(2)  # down
            >>> env.state
            5
        """
        return self._s

    # ------------------------------------------------------------ observations
    def _build_observations(self, flat: np.ndarray) -> None:
        S, rows, cols = self.n_states, self.n_rows, self.n_cols
        r, c = np.divmod(np.arange(S), cols)
        coords = np.stack([r / max(rows - 1, 1), c / max(cols - 1, 1)], axis=1).astype(np.float32)
        if self.obs_mode == "index":
            self.observation_space = spaces.Discrete(S)
        elif self.obs_mode == "coords":
            self.observation_space = spaces.Box(0.0, 1.0, (2,), np.float32)
            self._coords = coords
        elif self.obs_mode == "onehot":
            self.observation_space = spaces.Box(0.0, 1.0, (S,), np.float32)
        else:
            self.observation_space = spaces.Box(0.0, 1.0, (S, len(GRID_CHANNELS)), np.float32)
            base = np.zeros((S, len(GRID_CHANNELS)), np.float32)
            base[:, 0] = flat == "#"
            base[:, 1] = flat == "H"
            base[:, 2] = flat == "G"
            base[:, 4:] = coords
            self._grid_base = base

    def _obs(self, s: int):
        mode = self.obs_mode
        if mode == "index":
            return s
        if mode == "coords":
            return self._coords[s].copy()
        if mode == "onehot":
            obs = np.zeros(self.n_states, np.float32)
            obs[s] = 1.0
            return obs
        obs = self._grid_base.copy()
        obs[s, 3] = 1.0
        return obs

    # ------------------------------------------------------------------- API
    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        super().reset(seed=seed)
        s = self.start_state
        if options and "state" in options:
            s = options["state"]
            if isinstance(s, bool) or not isinstance(s, (int, np.integer)) or not 0 <= s < self.n_states:
                raise ValueError(f"options['state'] must be an int in [0, {self.n_states}), got {s!r}")
            s = int(s)
            if self.grid.flat[s] not in "S.":
                raise ValueError(
                    f"options['state']={s} is cell {self.to_rowcol(s)} = {str(self.grid.flat[s])!r}; "
                    "the agent can only start on floor ('.' or 'S')"
                )
        self._s = s
        self.last_action = None
        self.last_reward = None
        if self.render_mode == "human":
            self.render()
        return (s if self.obs_mode == "index" else self._obs(s)), {"prob": 1.0}

    def step(self, action):
        a = discrete_action(action, 4, names=ACTION_NAMES)
        s = self._s
        d = a
        if self.slip_prob:
            u = self.np_random.random()
            if u >= self._slip_lo:
                d = (a + 1) & 3 if u < self._slip_hi else (a + 3) & 3
        ns = self._next[s][d]
        reward = self._reward[s][d]
        self._s = ns
        self.last_action = a
        self.last_reward = reward
        if self.render_mode == "human":
            self.render()
        # The info dict is the one per-step allocation in index mode: Gymnasium
        # requires that no two steps return the same info object.
        return (
            ns if self.obs_mode == "index" else self._obs(ns),
            reward,
            self._terminated[s][d],
            False,
            {"prob": self._prob[s][a][d], "slipped": d != a, "is_success": self._goal[ns]},
        )

    def get_state(self) -> dict:
        """The episode in progress as plain values (np_random aside), for checkpoints; see `set_state`.

            >>> env = GridWorld()
            >>> _ = env.reset(seed=0); _ = env.step(1)
            >>> env.get_state()
            {'s': 1, 'last_action': 1, 'last_reward': -0.01}
        """
        return {"s": self._s, "last_action": self.last_action, "last_reward": self.last_reward}

    def set_state(self, state: dict) -> None:
        """Continue the episode `get_state` described (on an env made with the same arguments).

            >>> env, copy = GridWorld(), GridWorld()
            >>> _ = env.reset(seed=0); _ = env.step(1); _ = copy.reset(seed=0)
            >>> copy.set_state(env.get_state())
            >>> copy.step(1)[0] == env.step(1)[0]
            True
        """
        s = int(state["s"])
        if not 0 <= s < self.n_states:
            raise ValueError(f"state['s'] must be in [0, {self.n_states}), got {s}")
        self._s, self.last_action, self.last_reward = s, state["last_action"], state["last_reward"]

    # ------------------------------------------------------------- rendering
    def set_overlay(self, values=None, policy=None) -> None:
        """Shade cells by `values` and/or draw `policy` actions as arrows.

        values: (n_states,) numbers, e.g. V(s) from value iteration; coloured
        red (lowest) to yellow to green (highest) over floor cells, and printed when
        cells are big enough. policy: (n_states,) action ints. None clears either.

            >>> env = GridWorld(render_mode="rgb_array")
            >>> _ = env.reset(seed=0)
            >>> env.set_overlay(values=np.linspace(0, 1, 25), policy=np.full(25, 1))
            >>> env.render().shape  # 5 x 5 cells of 64 pixels
            (320, 320, 3)
        """
        if values is not None:
            values = np.asarray(values, dtype=np.float64)
            if values.shape != (self.n_states,):
                raise ValueError(f"values must have shape ({self.n_states},), got {values.shape}")
            if not np.isfinite(values).all():
                raise ValueError("values must be finite numbers")
        if policy is not None:
            policy = np.asarray(policy)
            if policy.shape != (self.n_states,):
                raise ValueError(f"policy must have shape ({self.n_states},), got {policy.shape}")
            if not np.issubdtype(policy.dtype, np.integer) or policy.min() < 0 or policy.max() > 3:
                raise ValueError("policy must hold action ints in [0, 3]")
        self._overlay_values = values
        self._overlay_policy = policy
        self._background = None

    def render(self):
        return _render.render(self, self._draw_frame, self._render_text)

    def _render_text(self) -> str:
        rows = [list(row) for row in self.desc]
        r, c = self.to_rowcol(self._s)
        rows[r][c] = "A"
        header = f"  ({ACTION_NAMES[self.last_action]})\n" if self.last_action is not None else ""
        return header + "\n".join(" ".join(row) for row in rows) + "\n"

    def _cell_rect(self, s: int):
        r, c = divmod(s, self.n_cols)
        k = self.cell_size
        return (c * k, r * k, k, k)

    def _build_background(self):
        pygame = _render.import_pygame()
        k = self.cell_size
        surf = pygame.Surface((self.n_cols * k, self.n_rows * k))
        values = self._overlay_values
        floor_cells = np.isin(self.grid.ravel(), ["S", "."])
        if values is not None and floor_cells.any():
            lo, hi = values[floor_cells].min(), values[floor_cells].max()
            span = hi - lo
        for s, tile in enumerate(self.grid.ravel()):
            x, y, _, _ = rect = self._cell_rect(s)
            r, c = divmod(s, self.n_cols)
            if tile == "#":
                pygame.draw.rect(surf, _WALL, rect)
                inset = max(2, k // 10)
                pygame.draw.rect(surf, _WALL_TOP, (x + inset, y + inset, k - 2 * inset, k - 2 * inset), border_radius=k // 8)
                continue
            color = _FLOOR[(r + c) % 2]
            if values is not None and tile in "S.":
                t = 0.5 if span == 0 else (values[s] - lo) / span
                color = (
                    _render.blend(_VALUE_LOW, _VALUE_MID, 2 * t) if t < 0.5 else _render.blend(_VALUE_MID, _VALUE_HIGH, 2 * t - 1)
                )
            if tile == "G":
                color = _GOAL
            pygame.draw.rect(surf, color, rect)
            pygame.draw.rect(surf, _GRID_LINE, rect, 1)
            center = (x + k / 2, y + k / 2)
            if tile == "H":
                pygame.draw.circle(surf, _PIT_RIM, center, k * 0.38)
                pygame.draw.circle(surf, _PIT, center, k * 0.38 - max(2, k // 14))
            elif tile == "G":
                self._draw_star(surf, center, k * 0.36)
            elif tile == "S":
                inset = max(3, k // 10)
                pygame.draw.rect(
                    surf, _START_RING, (x + inset, y + inset, k - 2 * inset, k - 2 * inset), max(1, k // 24), border_radius=k // 6
                )
            if tile in "S.":
                if self._overlay_policy is not None:
                    self._draw_arrow(surf, center, int(self._overlay_policy[s]), k * 0.32)
                if values is not None and k >= 40:
                    label = _render.font(max(12, k // 4)).render(f"{values[s]:.2f}", True, _TEXT)
                    surf.blit(label, label.get_rect(midbottom=(x + k / 2, y + k - 2)))
        return surf

    @staticmethod
    def _draw_star(surf, center, radius):
        pygame = _render.import_pygame()
        cx, cy = center
        points = []
        for i in range(10):
            rad = radius if i % 2 == 0 else radius * 0.45
            angle = -math.pi / 2 + i * math.pi / 5
            points.append((cx + rad * math.cos(angle), cy + rad * math.sin(angle)))
        pygame.draw.polygon(surf, _STAR, points)
        pygame.draw.polygon(surf, _STAR_EDGE, points, max(1, int(radius // 10)))

    @staticmethod
    def _draw_arrow(surf, center, action, length):
        pygame = _render.import_pygame()
        dr, dc = MOVES[action]
        cx, cy = center
        # Unit vector along the arrow (x right, y down) and its normal.
        ux, uy = dc, dr
        nx, ny = -uy, ux
        tail = (cx - ux * length * 0.6, cy - uy * length * 0.6)
        tip = (cx + ux * length * 0.7, cy + uy * length * 0.7)
        head_base = (cx + ux * length * 0.05, cy + uy * length * 0.05)
        width = max(2, int(length / 5))
        pygame.draw.line(surf, _ARROW, tail, head_base, width)
        half = length * 0.38
        pygame.draw.polygon(
            surf,
            _ARROW,
            [tip, (head_base[0] + nx * half, head_base[1] + ny * half), (head_base[0] - nx * half, head_base[1] - ny * half)],
        )

    def _draw_frame(self):
        pygame = _render.import_pygame()
        if self._background is None:
            self._background = self._build_background()
            self._frame = self._background.copy()
        frame = self._frame
        frame.blit(self._background, (0, 0))
        k = self.cell_size
        x, y, _, _ = self._cell_rect(self._s)
        cx, cy = x + k / 2, y + k / 2
        tile = self.grid.flat[self._s]
        body = _AGENT_IN_PIT if tile == "H" else _AGENT_AT_GOAL if tile == "G" else _AGENT
        radius = k * 0.3
        pygame.draw.circle(frame, (255, 255, 255), (cx, cy), radius + max(2, k // 24))
        pygame.draw.circle(frame, body, (cx, cy), radius)
        # Eyes look the way the agent last moved (down before the first move).
        dr, dc = MOVES[self.last_action if self.last_action is not None else DOWN]
        nx, ny = -dr, dc  # normal to the gaze, in (x, y)
        for side in (-1, 1):
            ex = cx + dc * radius * 0.35 + nx * side * radius * 0.42
            ey = cy + dr * radius * 0.35 + ny * side * radius * 0.42
            pygame.draw.circle(frame, (255, 255, 255), (ex, ey), radius * 0.28)
            pygame.draw.circle(frame, (15, 23, 42), (ex + dc * radius * 0.1, ey + dr * radius * 0.1), radius * 0.14)
        return frame

    def close(self) -> None:
        if self._window is not None:
            self._window.close()
            self._window = None
