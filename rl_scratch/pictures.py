"""Pictures of the insides: computation graphs, attention, values and learning curves.

Each function returns a `Picture`, a matplotlib Figure that Jupyter shows as a PNG when it
is a cell's last value (whatever the backend), and, given `path`, also writes it as a PNG.
Pictures are built without pyplot, so nothing needs a display and nothing accumulates
between calls; only matplotlib is needed (no graphviz or other system package).

    computation_graph(result)          a Value or Tensor result: each node's op, value or shape, gradient
    attention_maps(weights, tokens)    (heads, T, T) weights, one heatmap per head
    gpt_attention(model, ids, tokens)  the same for a TinyGPT block's heads on one sequence
    policy_attention(agent, env, obs)  an attention policy's heads over GridWorld cells or past steps
    value_heatmap(env, values, policy) state values of a GridWorld map with greedy-policy arrows
    q_heatmap(env, q)                  Q(s, a) per cell as four triangles, with the greedy arrows
    grid_values(agent, env)            value_heatmap of any agent with state values
    grid_q_values(agent, env)          q_heatmap of any agent with action values
    learning_curves(groups)            several runs per label: mean and 95% bootstrap band

`panels(n)` makes a figure with n axes side by side; the drawing functions take
`ax=` to draw into one of them (the returned figure is then that axes' figure).
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

from rl_scratch import attention_view, runs, stats
from rl_scratch import config as cfg
from rl_scratch.benchmark import curve_grid
from rl_scratch.nets.graph import trace

__all__ = ["Picture", "panels", "save", "computation_graph", "attention_maps", "gpt_attention", "policy_attention",
           "value_heatmap", "q_heatmap", "grid_values", "grid_q_values", "learning_curves"]

DPI = 100
ARROWS = {0: (0.0, -1.0), 1: (1.0, 0.0), 2: (0.0, 1.0), 3: (-1.0, 0.0)}  # GridWorld's up, right, down, left (x, y)


# ----------------------------------------------------------------- figures
class Picture(Figure):
    """A Figure that Jupyter shows as a PNG under any matplotlib backend (Agg included).

        >>> fig, _ = panels()
        >>> isinstance(fig, Picture), fig._repr_png_()[:4]
        (True, b'\x89PNG')
    """

    def _repr_png_(self) -> bytes:
        buffer = io.BytesIO()
        self.savefig(buffer, format="png", dpi=DPI)
        return buffer.getvalue()


def panels(n_cols: int = 1, n_rows: int = 1, size: tuple[float, float] = (4.5, 4.0)):
    """(figure, axes): n_rows x n_cols axes of `size` inches each (axes is a flat list).

        >>> fig, axes = panels(2, size=(3.0, 3.0))
        >>> len(axes), fig.get_size_inches().tolist()
        (2, [6.0, 3.0])
    """
    fig = Picture(figsize=(size[0] * n_cols, size[1] * n_rows), dpi=DPI, layout="constrained")
    axes = fig.subplots(n_rows, n_cols, squeeze=False)
    return fig, [ax for row in axes for ax in row]


def save(fig, path) -> Path:
    """Write `fig` as a PNG at `path` (atomically; folders are created); returns the path.

        >>> import os, tempfile
        >>> fig, _ = panels()
        >>> save(fig, os.path.join(tempfile.mkdtemp(), "figures", "empty.png")).name
        'empty.png'
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    runs.write_png(fig, path, dpi=DPI)
    return path


def _finish(fig, path):
    if path is not None:
        save(fig, path)
    return fig


def _axes(ax, size=(4.5, 4.0)):
    if ax is not None:
        return ax.figure, ax, False
    fig, (ax,) = panels(1, 1, size)
    return fig, ax, True


# -------------------------------------------------------- computation graph
def _describe(array: np.ndarray) -> str:
    array = np.asarray(array)
    if array.size == 1:
        return f"{float(array.ravel()[0]):.4g}"
    return f"shape {array.shape}"


def _describe_grad(grad) -> str:
    if grad is None:
        return "grad -"
    grad = np.asarray(grad)
    if grad.size == 1:
        return f"grad {float(grad.ravel()[0]):.4g}"
    return f"grad |g| {float(np.linalg.norm(grad)):.3g}"


def computation_graph(result, names: dict | None = None, title: str | None = None, path=None,
                      max_nodes: int = 60):
    """The graph of a `Value` or `Tensor` result, inputs on the left, the result on the right.

    Each box shows the node's op (or its name from `names`, {"w": w, ...}; leaves without a
    name read "input"), its value (a shape for arrays) and its gradient (the norm for arrays;
    call `backward()` first to see them). A graph of more than `max_nodes` nodes is refused:
    draw a smaller expression (on the fast path a whole MLP is one node).

        >>> from rl_scratch.nets.value import Value
        >>> w, x, b = Value(2.0), Value(3.0), Value(-1.0)
        >>> y = (w * x + b).tanh()
        >>> y.backward()
        >>> fig = computation_graph(y, names={"w": w, "x": x, "b": b}, title="a neuron")
        >>> type(fig).__name__
        'Picture'
    """
    nodes = trace(result)
    if len(nodes) > max_nodes:
        raise ValueError(f"the graph has {len(nodes)} nodes, more than max_nodes={max_nodes} can be drawn legibly; "
                         "draw a smaller expression or raise max_nodes")
    label_of = {id(obj): name for name, obj in (names or {}).items()}
    # Columns: an op node sits right of its deepest input; a leaf just left of its first consumer.
    column = [0] * len(nodes)
    for i, node in enumerate(nodes):
        if node.inputs:
            column[i] = 1 + max(column[j] for j in node.inputs)
    consumers: dict[int, list[int]] = {}
    for i, node in enumerate(nodes):
        for j in node.inputs:
            consumers.setdefault(j, []).append(i)
    for i, node in enumerate(nodes):
        if not node.inputs and i in consumers:
            column[i] = min(column[c] for c in consumers[i]) - 1
    shift = min(column)
    column = [c - shift for c in column]
    n_cols = max(column) + 1
    rows: dict[int, list[int]] = {}
    for i in range(len(nodes)):
        rows.setdefault(column[i], []).append(i)
    n_rows = max(len(r) for r in rows.values())
    position = {}
    for c, members in rows.items():
        for k, i in enumerate(members):
            position[i] = (c, (n_rows - 1) / 2 - (k - (len(members) - 1) / 2))

    fig = Picture(figsize=(max(4.0, 2.4 * n_cols), max(2.4, 1.15 * n_rows + 0.6)), dpi=DPI)
    ax = fig.add_axes((0.02, 0.02, 0.96, 0.88 if title else 0.96))
    ax.set_xlim(-0.6, n_cols - 0.4)
    ax.set_ylim(-0.6, n_rows - 0.4)
    ax.axis("off")
    for i, node in enumerate(nodes):
        x, y = position[i]
        for j in node.inputs:
            xj, yj = position[j]
            ax.annotate("", xy=(x - 0.36, y), xytext=(xj + 0.36, yj),
                        arrowprops=dict(arrowstyle="->", color="#64748b", lw=1.2, shrinkA=0, shrinkB=0))
        name = label_of.get(id(node.source))
        head = node.op or name or "input"
        if node.op and name:
            head = f"{name} = {node.op}"
        text = f"{head}\n{_describe(node.data)}\n{_describe_grad(node.grad)}"
        colour = "#ede9fe" if node.op else "#e0f2fe"
        ax.text(x, y, text, ha="center", va="center", fontsize=9, family="monospace",
                bbox=dict(boxstyle="round,pad=0.4", facecolor=colour, edgecolor="#475569"))
    if title:
        fig.suptitle(title)
    return _finish(fig, path)


# ----------------------------------------------------------------- attention
def attention_maps(weights, tokens=None, title: str | None = None, path=None):
    """One heatmap per head of (heads, T, T) attention weights (a (T, T) array is one head).

    Row t is query t, column s the weight it gives key s (each row sums to 1); `tokens`
    labels both axes. A causal model's maps are zero above the diagonal.

        >>> causal = np.tril(np.ones((4, 4))) / np.arange(1, 5)[:, None]  # each query spreads evenly
        >>> len(attention_maps(np.stack([causal, np.eye(4)]), tokens="abcd").axes)  # 2 heads + 2 colour bars
        4
    """
    weights = np.asarray(getattr(weights, "data", weights), dtype=np.float64)
    weights = weights[None] if weights.ndim == 2 else weights
    if weights.ndim != 3 or weights.shape[1] != weights.shape[2]:
        raise ValueError(f"attention weights must have shape (heads, T, T) or (T, T), got {weights.shape}")
    heads, T = weights.shape[0], weights.shape[1]
    side = min(4.5, max(3.2, 1.6 + 0.22 * T))
    n_cols = heads if heads <= 3 else (heads + 1) // 2  # four heads as 2 x 2
    fig, axes = panels(n_cols, (heads + n_cols - 1) // n_cols, (side, side))
    for ax in axes[heads:]:
        ax.axis("off")
    # Characters as they read: a space as an open box, a newline as \n.
    labels = None if tokens is None else [repr(t)[1:-1].replace(" ", "\u2423") if isinstance(t, str) else str(t)
                                          for t in tokens]
    for h, ax in enumerate(axes[:heads]):
        image = ax.imshow(weights[h], cmap="Purples", vmin=0.0, vmax=max(1e-9, weights[h].max()))
        ax.set_title(f"head {h + 1}", fontsize=10)
        ax.set_xlabel("key (attended to)")
        if h % n_cols == 0:
            ax.set_ylabel("query (attending)")
        if labels is not None and T <= 40:
            ax.set_xticks(range(T), labels, fontsize=7, rotation=90 if T > 12 else 0)
            ax.set_yticks(range(T), labels, fontsize=7)
        fig.colorbar(image, ax=ax, fraction=0.046, pad=0.04)
    if title:
        fig.suptitle(title)
    return _finish(fig, path)


def gpt_attention(model, ids, tokens=None, layer: int = -1, title: str | None = None, path=None):
    """attention_maps of one TinyGPT block (default: the last) on one sequence of token ids (T,).

        >>> from rl_scratch.nets import GPTConfig, TinyGPT
        >>> model = TinyGPT(GPTConfig(vocab_size=5, context=8, dim=16, n_heads=2, n_layers=1), rng=np.random.default_rng(0))
        >>> fig = gpt_attention(model, np.array([0, 1, 2, 3]), tokens="abcd")
        >>> fig.texts[0].get_text()  # the suptitle
        'TinyGPT block 1 of 1'
    """
    from rl_scratch.nets import no_grad

    ids = np.asarray(ids)
    if ids.ndim != 1:
        raise ValueError(f"gpt_attention takes one sequence of token ids (T,), got shape {ids.shape}")
    was_training = model.training
    model.eval()
    try:
        with no_grad():
            model(ids[None])
    finally:
        model.train(was_training)
    weights = np.asarray(getattr(model.blocks[layer].attn.last_attention, "data",
                                 model.blocks[layer].attn.last_attention))[0]  # (heads, T, T)
    n_layers = len(model.blocks)
    return attention_maps(weights, tokens, title or f"TinyGPT block {layer % n_layers + 1} of {n_layers}", path)


def policy_attention(agent, env, obs, title: str | None = None, path=None):
    """What an attention policy's heads look at when acting on `obs` (the env's current observation).

    `env` must render `rgb_array` frames; GridWorld cells are tinted per head, history
    windows get one row of boxes per head under the frame (rl_scratch.attention_view).

        >>> import gymnasium as gym
        >>> import rl_scratch
        >>> from rl_scratch.agents import REINFORCE
        >>> env = gym.make("rl_scratch/GridWorld-v0", obs_mode="grid", render_mode="rgb_array")
        >>> config = REINFORCE.Config(policy="attention", attention_dim=8, attention_heads=2, attention_layers=1)
        >>> agent = REINFORCE(env.observation_space, env.action_space, config, seed=0)
        >>> obs, _ = env.reset(seed=0)
        >>> policy_attention(agent, env, obs).axes[0].get_title()
        'attention of each of 2 heads'
    """
    weights = agent.attention_weights(obs)
    if weights is None:
        raise ValueError(f"{type(agent).__name__} with this policy has no attention to draw "
                         "(train it with policy='attention')")
    frame = attention_view.draw(env.render(), weights, env, cfg.agent_history(agent.config))
    height, width = frame.shape[:2]
    scale = max(1.0, 360 / max(width, height))  # small frames (CueCorridor's) are drawn larger
    fig, ax, _ = _axes(None, (max(6.0, scale * width / DPI + 0.4), scale * height / DPI + 0.8))
    ax.imshow(frame)
    ax.axis("off")
    ax.set_title(title or f"attention of each of {weights.shape[0]} heads", fontsize=10)
    return _finish(fig, path)


# ------------------------------------------------------------------ GridWorld
def _grid_of(env):
    base = env.unwrapped
    if not hasattr(base, "grid"):
        raise ValueError(f"{type(base).__name__} is not a GridWorld: value pictures need its map (env.unwrapped.grid)")
    return base.grid


def _draw_map(ax, grid, values, vmin=None, vmax=None):
    """Cells coloured by value (red low, green high), walls dark, pit and goal lettered."""
    floor = np.isin(grid, ["S", "."])
    shown = np.ma.masked_array(values.reshape(grid.shape), mask=~floor)
    if vmin is None:
        vmin, vmax = (float(shown.min()), float(shown.max())) if floor.any() else (0.0, 1.0)
    image = ax.imshow(shown, cmap="RdYlGn", vmin=vmin, vmax=max(vmax, vmin + 1e-9))
    walls = np.ma.masked_array(np.ones(grid.shape), mask=grid != "#")
    ax.imshow(walls, cmap="Greys", vmin=0, vmax=1.4)
    for (r, c), tile in np.ndenumerate(grid):
        if tile in "HG":
            ax.add_patch(_square(c, r, "#fecaca" if tile == "H" else "#bbf7d0"))
            ax.text(c, r, "pit" if tile == "H" else "goal", ha="center", va="center", fontsize=8)
        elif tile == "S":
            ax.text(c - 0.45, r - 0.45, "S", ha="left", va="top", fontsize=7, color="#1e293b")
    ax.set_xticks([])
    ax.set_yticks([])
    return image


def _square(c, r, colour):
    from matplotlib.patches import Rectangle

    return Rectangle((c - 0.5, r - 0.5), 1, 1, facecolor=colour, edgecolor="none")


def _draw_arrows(ax, grid, policy, floor_only=True):
    for s, a in enumerate(np.asarray(policy).ravel()):
        r, c = divmod(s, grid.shape[1])
        if floor_only and grid[r, c] not in "S.":
            continue
        dx, dy = ARROWS[int(a)]
        ax.annotate("", xy=(c + 0.3 * dx, r + 0.3 * dy), xytext=(c - 0.3 * dx, r - 0.3 * dy),
                    arrowprops=dict(arrowstyle="-|>", color="#0f172a", lw=1.4))


def value_heatmap(env, values, policy=None, title: str | None = None, ax=None, path=None, show_numbers=None):
    """State values (n_states,) of a GridWorld map as a heatmap, with the greedy `policy`'s arrows.

    Values are indexed by GridWorld's state `row * n_cols + col`; walls, pits and goals
    are drawn as tiles, not values. Numbers are printed in cells of maps up to 10 x 10.

        >>> from rl_scratch.envs import GridWorld
        >>> env = GridWorld()
        >>> fig = value_heatmap(env, np.linspace(0.0, 1.0, 25), policy=np.full(25, 2))
        >>> fig.axes[0].get_title()
        'state values and greedy policy'
    """
    grid = _grid_of(env)
    values = np.asarray(values, dtype=np.float64).ravel()
    if values.size != grid.size:
        raise ValueError(f"values has {values.size} entries; the {grid.shape[0]}x{grid.shape[1]} map has {grid.size} states")
    fig, ax, own = _axes(ax, (0.6 * grid.shape[1] + 1.5, 0.6 * grid.shape[0] + 0.8))
    image = _draw_map(ax, grid, values)
    show_numbers = max(grid.shape) <= 10 if show_numbers is None else show_numbers
    if show_numbers:
        for (r, c), tile in np.ndenumerate(grid):
            if tile in "S.":
                ax.text(c, r + 0.36, f"{values[r * grid.shape[1] + c]:.2f}", ha="center", va="center", fontsize=7)
    if policy is not None:
        _draw_arrows(ax, grid, policy)
    fig.colorbar(image, ax=ax, fraction=0.046, pad=0.04, label="V(s)")
    ax.set_title(title or "state values and greedy policy", fontsize=10)
    return _finish(fig, path) if own else fig


def q_heatmap(env, q, title: str | None = None, ax=None, path=None):
    """Q(s, a) (n_states, 4) of a GridWorld map: each floor cell is cut into four triangles, one
    per action (the up triangle is the value of moving up), with an arrow on the best action.

        >>> from rl_scratch.envs import GridWorld
        >>> q = np.random.default_rng(0).normal(size=(25, 4))
        >>> q_heatmap(GridWorld(), q, title="random Q").axes[0].get_title()
        'random Q'
    """
    from matplotlib.collections import PolyCollection

    grid = _grid_of(env)
    q = np.asarray(q, dtype=np.float64)
    if q.shape != (grid.size, 4):
        raise ValueError(f"q must have shape ({grid.size}, 4) for this map, got {q.shape}")
    fig, ax, own = _axes(ax, (0.6 * grid.shape[1] + 1.5, 0.6 * grid.shape[0] + 0.8))
    floor = np.isin(grid.ravel(), ["S", "."])
    shown = q[floor]
    vmin, vmax = (float(shown.min()), float(shown.max())) if floor.any() else (0.0, 1.0)
    _draw_map(ax, grid, np.full(grid.size, np.nan))
    polygons, colours = [], []
    for s in np.flatnonzero(floor):
        r, c = divmod(int(s), grid.shape[1])
        corners = {"tl": (c - 0.5, r - 0.5), "tr": (c + 0.5, r - 0.5), "br": (c + 0.5, r + 0.5), "bl": (c - 0.5, r + 0.5)}
        centre = (c, r)
        for a, (p, q_corner) in enumerate((("tl", "tr"), ("tr", "br"), ("br", "bl"), ("bl", "tl"))):
            polygons.append([corners[p], corners[q_corner], centre])
            colours.append(q[s, a])
    collection = PolyCollection(polygons, array=np.asarray(colours), cmap="RdYlGn", edgecolors="white",
                                linewidths=0.5)
    collection.set_clim(vmin, max(vmax, vmin + 1e-9))
    ax.add_collection(collection)
    _draw_arrows(ax, grid, q.argmax(axis=1))
    fig.colorbar(collection, ax=ax, fraction=0.046, pad=0.04, label="Q(s, a)")
    ax.set_title(title or "action values (a triangle per action)", fontsize=10)
    return _finish(fig, path) if own else fig


def grid_values(agent, env, title: str | None = None, ax=None, path=None):
    """value_heatmap of an agent's state values and greedy actions on every floor cell of `env`
    (any obs_mode: each cell's observation comes from the env; see play.grid_values_and_policy).

        >>> from rl_scratch.agents import ValueIteration
        >>> from rl_scratch.envs import GridWorld
        >>> env = GridWorld()
        >>> planner = ValueIteration(env.observation_space, env.action_space).learn(env)
        >>> grid_values(planner, env).axes[0].get_title()
        'ValueIteration: V(s) and greedy policy'
    """
    from rl_scratch.play import grid_values_and_policy

    values, policy = grid_values_and_policy(agent, env)
    if values is None:
        raise ValueError(f"{type(agent).__name__} keeps no state values (state_values() is None): nothing to shade")
    return value_heatmap(env, values, policy, title or f"{type(agent).__name__}: V(s) and greedy policy", ax, path)


def grid_q_values(agent, env, title: str | None = None, ax=None, path=None):
    """q_heatmap of an agent's action values on every floor cell of `env` (any obs_mode).

        >>> from rl_scratch.agents import QLearning
        >>> from rl_scratch.envs import GridWorld
        >>> env = GridWorld()
        >>> agent = QLearning(env.observation_space, env.action_space, seed=0).learn(env, 2000)
        >>> grid_q_values(agent, env).axes[0].get_title()
        'QLearning: Q(s, a)'
    """
    from rl_scratch.play import floor_observations

    floor, observations = floor_observations(env)
    q_floor = agent.action_values(observations)
    if q_floor is None:
        raise ValueError(f"{type(agent).__name__} keeps no action values (action_values() is None)")
    q = np.zeros((env.unwrapped.n_states, env.action_space.n))
    q[floor] = q_floor
    return q_heatmap(env, q, title or f"{type(agent).__name__}: Q(s, a)", ax, path)


# ------------------------------------------------------------ learning curves
def _curve(run) -> tuple[np.ndarray, np.ndarray]:
    """(steps, values) from a pair, or a run folder's evaluation returns (evaluations.csv)."""
    if isinstance(run, (str, Path)):
        columns = runs.read_csv(Path(run) / runs.EVALUATIONS_FILE)
        if not columns.get("step"):
            raise ValueError(f"{run} has no evaluations ({runs.EVALUATIONS_FILE} is missing or empty)")
        return np.asarray(columns["step"], dtype=np.float64), np.asarray(columns["mean_return"], dtype=np.float64)
    steps, values = run
    return np.asarray(steps, dtype=np.float64), np.asarray(values, dtype=np.float64)


def learning_curves(groups: dict, title: str | None = None, xlabel: str = "environment steps",
                    ylabel: str = "return", target: float | None = None, target_label: str | None = None,
                    smooth: int = 1, ax=None, path=None):
    """Per label, the mean over its runs and a 95% bootstrap band (rl_scratch.stats.bootstrap_ci).

    `groups` maps a label to a list of runs; a run is a `(steps, values)` pair (for example
    the step and return of each episode a callback saw) or a run folder (its
    evaluations.csv). `smooth` > 1 first averages each run over that many points
    (rl_scratch.runs.smooth); `target` draws a dashed line; runs are interpolated onto a shared step grid that ends
    at the shortest run's last step.

        >>> rng = np.random.default_rng(0)
        >>> steps = np.arange(0, 1000, 100)
        >>> runs_of = lambda level: [(steps, level * steps / 1000 + rng.normal(0, 0.05, steps.size)) for _ in range(3)]
        >>> fig = learning_curves({"fast": runs_of(1.0), "slow": runs_of(0.5)}, target=0.93)
        >>> [text.get_text() for text in fig.axes[0].get_legend().get_texts()]
        ['fast (3 runs)', 'slow (3 runs)', 'target 0.93']
    """
    fig, ax, own = _axes(ax, (7.0, 4.0))
    colours = [f"C{i}" for i in range(10)]
    for colour, (label, group) in zip(colours * 3, groups.items()):
        curves = [_curve(run) for run in group]
        curves = [(s, np.asarray(runs.smooth(list(v), smooth)) if smooth > 1 else v) for s, v in curves if len(s)]
        if not curves:
            continue
        grid, values = curve_grid([{"curve": curve} for curve in curves])
        ax.plot(grid, values.mean(axis=0), color=colour, linewidth=2, label=f"{label} ({len(curves)} run{'s' if len(curves) > 1 else ''})")
        if len(curves) > 1:
            band = np.array([stats.bootstrap_ci(column, resamples=1000) for column in values.T])
            ax.fill_between(grid, band[:, 0], band[:, 1], color=colour, alpha=0.2)
    if target is not None:
        ax.axhline(target, color="gray", linestyle="--", linewidth=1, label=target_label or f"target {target:g}")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.grid(alpha=0.3)
    if ax.get_legend_handles_labels()[0]:
        ax.legend(fontsize=8, loc="best")
    ax.set_title(title or "learning curves: mean and 95% bootstrap interval over runs", fontsize=10)
    return _finish(fig, path) if own else fig
