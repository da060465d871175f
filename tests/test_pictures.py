"""rl_scratch.pictures: each picture function writes a PNG of its figure's size and draws what it says."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
from matplotlib.text import Annotation
from PIL import Image

import rl_scratch  # noqa: F401  (registers the envs)
from rl_scratch import pictures
from rl_scratch.agents import PPO, QLearning, ValueIteration
from rl_scratch.nets import GPTConfig, Tensor, TinyGPT
from rl_scratch.nets.graph import trace
from rl_scratch.nets.value import Value


def assert_png_of(fig, path):
    """The file is a PNG whose pixel size is the figure's size at pictures.DPI."""
    assert path.exists(), f"{path} was not written"
    with Image.open(path) as image:
        assert image.format == "PNG"
        expected = tuple(int(round(v)) for v in fig.get_size_inches() * pictures.DPI)
        assert image.size == expected
        assert image.size[0] >= 200 and image.size[1] >= 150


def node_heads(fig) -> list[str]:
    """The first line of every node box of a computation_graph figure."""
    return [t.get_text().split("\n")[0] for ax in fig.axes for t in ax.texts if t.get_text().count("\n") == 2]


def arrow_directions(ax) -> dict:
    """{(row, col): (dx, dy)} of the policy arrows drawn on a map."""
    found = {}
    for t in ax.texts:
        if isinstance(t, Annotation):
            (x, y), (x0, y0) = t.xy, t.xyann
            found[(round((y + y0) / 2), round((x + x0) / 2))] = (float(np.sign(x - x0)), float(np.sign(y - y0)))
    return found


def test_trace_lists_each_node_once_after_its_inputs():
    a, b = Value(2.0), Value(-3.0)
    product = a * b
    out = product + product * a  # product used twice, a three times
    nodes = trace(out)
    assert len(nodes) == 5 and nodes[-1].source is out
    assert len({id(n.source) for n in nodes}) == len(nodes)
    for i, node in enumerate(nodes):
        assert all(j < i for j in node.inputs)


def test_graph_of_a_three_node_value_expression_names_its_three_ops(tmp_path):
    a, b, c = Value(2.0), Value(-3.0), Value(10.0)
    out = (a * b + c).tanh()
    out.backward()
    fig = pictures.computation_graph(out, names=dict(a=a, b=b, c=c), path=tmp_path / "graph.png")
    assert_png_of(fig, tmp_path / "graph.png")
    heads = node_heads(fig)
    assert sorted(h for h in heads if h not in ("a", "b", "c")) == ["*", "+", "tanh"]
    assert sorted(h for h in heads if h in ("a", "b", "c")) == ["a", "b", "c"]
    texts = "\n".join(t.get_text() for ax in fig.axes for t in ax.texts)
    assert f"grad {a.grad:.4g}" in texts and f"{out.data:.4g}" in texts


def test_graph_of_a_three_node_tensor_expression_names_its_three_ops(tmp_path):
    x = Tensor(np.ones((2, 3)), requires_grad=True)
    w = Tensor(np.full((3, 4), 0.1), requires_grad=True)
    out = (x @ w).tanh().sum()
    out.backward()
    fig = pictures.computation_graph(out, path=tmp_path / "graph.png")
    assert_png_of(fig, tmp_path / "graph.png")
    heads = node_heads(fig)
    assert sorted(h for h in heads if h != "input") == ["matmul", "sum", "tanh"]
    texts = "\n".join(t.get_text() for ax in fig.axes for t in ax.texts)
    assert "shape (2, 4)" in texts and f"grad |g| {np.linalg.norm(w.grad):.3g}" in texts


def test_a_graph_too_large_to_read_is_refused():
    total = Value(0.0)
    for i in range(40):
        total = total + i
    with pytest.raises(ValueError, match="max_nodes"):
        pictures.computation_graph(total)


def test_gpt_attention_draws_each_head_and_the_causal_mask(tmp_path):
    model = TinyGPT(GPTConfig(vocab_size=5, context=6, dim=8, n_heads=2, n_layers=1), rng=np.random.default_rng(0))
    ids = np.array([0, 1, 2, 3, 4, 0])
    fig = pictures.gpt_attention(model, ids, tokens=list("abcdea"), path=tmp_path / "attention.png")
    assert_png_of(fig, tmp_path / "attention.png")
    images = [ax.images[0].get_array() for ax in fig.axes if ax.images]
    assert len(images) == 2
    for weights in images:
        assert weights.shape == (6, 6)
        assert np.allclose(np.triu(weights, 1), 0) and np.allclose(weights.sum(axis=1), 1)


def test_policy_attention_draws_a_head_per_panel(tmp_path):
    env = gym.make("rl_scratch/GridWorld-v0", obs_mode="grid", render_mode="rgb_array")
    agent = PPO(env.observation_space, env.action_space, PPO.Config(policy="attention", attention_dim=8), seed=0)
    obs, _ = env.reset(seed=0)
    fig = pictures.policy_attention(agent, env, obs, path=tmp_path / "policy.png")
    assert_png_of(fig, tmp_path / "policy.png")
    frame = env.render()
    (image,) = fig.axes[0].images
    heads = agent.attention_weights(obs).shape[0]
    assert image.get_array().shape[1] > heads * frame.shape[1] - 1  # one copy of the frame per head


def test_value_heatmap_shades_the_optimal_values_and_draws_an_arrow_per_floor_cell(tmp_path):
    env = gym.make("rl_scratch/GridWorld-v0")
    planner = ValueIteration(env.observation_space, env.action_space).learn(env)
    fig = pictures.grid_values(planner, env, path=tmp_path / "values.png")
    assert_png_of(fig, tmp_path / "values.png")
    ax = fig.axes[0]
    grid = env.unwrapped.grid
    floor = np.isin(grid, ["S", "."])
    shown = ax.images[0].get_array()
    assert np.allclose(shown[floor], planner.values.reshape(grid.shape)[floor])
    assert arrow_directions(ax) == {(int(r), int(c)): pictures.ARROWS[int(planner.policy[r * grid.shape[1] + c])]
                                    for r, c in zip(*np.nonzero(floor))}
    start = env.unwrapped.start_state
    assert f"{planner.values[start]:.2f}" in [t.get_text() for t in ax.texts]


def test_q_heatmap_has_four_triangles_per_floor_cell(tmp_path):
    env = gym.make("rl_scratch/GridWorld-v0")
    agent = QLearning(env.observation_space, env.action_space, seed=0).learn(env, 2000)
    fig = pictures.grid_q_values(agent, env, path=tmp_path / "q.png")
    assert_png_of(fig, tmp_path / "q.png")
    floor = np.isin(env.unwrapped.grid.ravel(), ["S", "."])
    (collection,) = fig.axes[0].collections
    assert len(collection.get_array()) == 4 * floor.sum()
    assert np.allclose(collection.get_array(), agent.q_table[floor].ravel())
    greedy = agent.q_table.argmax(axis=1)
    assert all(pictures.ARROWS[int(greedy[r * 5 + c])] == d for (r, c), d in arrow_directions(fig.axes[0]).items())


def test_value_pictures_refuse_a_map_of_another_size():
    env = gym.make("rl_scratch/GridWorld-v0")
    with pytest.raises(ValueError, match="25 states"):
        pictures.value_heatmap(env, np.zeros(24))


def test_learning_curves_draw_the_mean_and_a_band_from_pairs_and_run_folders(tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    (run / "evaluations.csv").write_text("step,mean_return\n0,0.0\n100,3.0\n", encoding="utf-8")
    groups = {"pairs": [([0, 100], [0.0, 1.0]), ([0, 50, 100], [0.0, 1.0, 3.0])], "folder": [run]}
    fig = pictures.learning_curves(groups, target=2.0, path=tmp_path / "curves.png")
    assert_png_of(fig, tmp_path / "curves.png")
    ax = fig.axes[0]
    lines = {line.get_label(): line for line in ax.lines}
    pairs = lines["pairs (2 runs)"]
    x, y = pairs.get_xdata(), pairs.get_ydata()
    assert np.isclose(y[-1], 2.0) and np.allclose(y, (np.interp(x, [0, 100], [0, 1]) + np.interp(x, [0, 50, 100], [0, 1, 3])) / 2)
    assert len(ax.collections) == 1  # the band: only the group with more than one run has one
    assert np.isclose(lines["folder (1 run)"].get_ydata()[-1], 3.0)


def test_a_picture_shows_itself_as_a_png_in_jupyter_under_any_backend():
    a = Value(1.5)
    fig = pictures.computation_graph(a.tanh())
    png = fig._repr_png_()  # what IPython's display machinery calls
    assert png.startswith(b"\x89PNG")
    _, (ax,) = pictures.panels(1)
    assert ax.figure._repr_png_().startswith(b"\x89PNG")
