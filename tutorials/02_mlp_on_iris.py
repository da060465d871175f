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
# # 2. An MLP from scratch on iris
#
# Fisher's iris data: 150 flowers, 4 measurements each (sepal and petal length and width),
# 3 species. A multi-layer perceptron (MLP) turns the 4 numbers into 3 scores, one per
# species, and learns by repeating four steps:
#
# 1. **forward**: compute the scores (logits) of a batch of flowers;
# 2. **loss**: cross-entropy, small when the right species has a high score;
# 3. **backward**: the gradient of the loss with respect to every weight;
# 4. **update**: move each weight a little against its gradient.

# %%
import os
import time
from pathlib import Path

import numpy as np

from rl_scratch import pictures
from rl_scratch.envs.iris import FEATURE_NAMES, load_iris, stratified_split
from rl_scratch.nets import MLP, SGD, F, Tensor, no_grad
from rl_scratch.runtime import configure_for_small_networks

QUICK = os.environ.get("RL_SCRATCH_TUTORIAL_QUICK") == "1"
OUT = Path(os.environ.get("RL_SCRATCH_TUTORIAL_OUT", "tutorial_output"))
# NumPy as the trainer runs it: one BLAS thread (these networks are small; more threads only wait
# on each other) and freed memory kept for the next step.
configure_for_small_networks()

features, labels, species = load_iris()
train, test = stratified_split(labels, test_fraction=0.2, seed=0)
# Each feature scaled to mean 0 and spread 1 on the training flowers: a network learns
# much faster when its inputs have similar sizes.
mean, std = features[train].mean(axis=0), features[train].std(axis=0)
x = ((features - mean) / std).astype(np.float32)
x_train, y_train, x_test, y_test = x[train], labels[train], x[test], labels[test]
print(f"{len(train)} training flowers, {len(test)} test flowers; features: {', '.join(FEATURE_NAMES)}")
print("species:", species)

# %% [markdown]
# ## One training step, written out
#
# `MLP([4, 16, 3])` is two layers: 4 inputs to 16 hidden units (`tanh`), then 16 to 3
# scores. One step on the whole training set:

# %%
net = MLP([4, 16, 3], activation="tanh", rng=np.random.default_rng(0))
optimizer = SGD(net.parameters(), lr=0.5)

logits = net(Tensor(x_train))                # 1. forward: (120, 3) scores
loss = F.cross_entropy(logits, y_train)      # 2. loss: one number
optimizer.zero_grad()
loss.backward()                              # 3. backward: every parameter's .grad
optimizer.step()                             # 4. update: p -= lr * p.grad
with no_grad():
    after = F.cross_entropy(net(Tensor(x_train)), y_train).item()
print(f"loss before the step {loss.item():.4f}, after {after:.4f}")

# %% [markdown]
# ## SGD, mini-batches, or the full batch?
#
# How many flowers should one step look at? With **one** (stochastic gradient descent,
# SGD) each step is cheap but noisy; with **all 120** (full batch) each step is exact but
# there is only one per pass over the data (an *epoch*); **mini-batches** of 16 sit in
# between. We train each way for the same number of epochs, three seeds each, and plot the
# training loss against epochs and against wall-clock time.

# %%
EPOCHS = 20 if QUICK else 100
SEEDS = (0, 1) if QUICK else (0, 1, 2)
REGIMES = {"SGD (batch 1)": (1, 0.01), "mini-batch 16": (16, 0.1), "full batch 120": (120, 0.5)}


def train_mlp(batch_size: int, lr: float, seed: int):
    """Train a fresh MLP; returns (net, loss after each epoch, seconds after each epoch)."""
    rng = np.random.default_rng(seed)
    net = MLP([4, 16, 3], activation="tanh", rng=rng)
    optimizer = SGD(net.parameters(), lr=lr)
    losses, seconds, start = [], [], time.perf_counter()
    for _ in range(EPOCHS):
        order = rng.permutation(len(x_train))
        for first in range(0, len(order), batch_size):
            rows = order[first:first + batch_size]
            loss = F.cross_entropy(net(Tensor(x_train[rows])), y_train[rows])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        seconds.append(time.perf_counter() - start)
        with no_grad():
            losses.append(F.cross_entropy(net(Tensor(x_train)), y_train).item())
    return net, losses, seconds


def accuracy(net, x, y) -> float:
    with no_grad():
        return float((net(Tensor(x)).data.argmax(axis=1) == y).mean())


by_epoch, by_time = {}, {}
for name, (batch_size, lr) in REGIMES.items():
    runs = [train_mlp(batch_size, lr, seed) for seed in SEEDS]
    epochs = np.arange(1, EPOCHS + 1)
    by_epoch[name] = [(epochs, losses) for _, losses, _ in runs]
    by_time[name] = [(seconds, losses) for _, losses, seconds in runs]
    print(f"{name:15s}: final training loss {np.mean([r[1][-1] for r in runs]):.3f}, "
          f"{np.mean([r[2][-1] for r in runs]):.2f} s, "
          f"test accuracy {np.mean([accuracy(r[0], x_test, y_test) for r in runs]):.3f}")

fig, (left, right) = pictures.panels(2, 1, (6.0, 4.0))
pictures.learning_curves(by_epoch, xlabel="epoch", ylabel="training loss", ax=left,
                         title="loss per epoch (mean and 95% band over seeds)")
pictures.learning_curves(by_time, xlabel="seconds of training", ylabel="training loss", ax=right,
                         title="the same runs against wall time")
right.set_xscale("log")
pictures.save(fig, OUT / "02_batch_sizes.png")
fig

# %% [markdown]
# Per epoch, SGD makes 120 small steps and the full batch one big one, so SGD's loss falls
# fastest per epoch. Per second the picture changes: 120 steps cost far more than one
# step on 120 rows, because NumPy handles a whole batch in one call. Mini-batches get
# most of both.
#
# ## Pure Python against NumPy
#
# `rl_scratch.nets.value.MLP` is the same network built from scalar `Value`s: every
# multiplication is a Python object with its own backward function. We copy its weights
# into a float64 `Tensor` MLP so both compute *exactly* the same thing, check that their
# losses and gradients agree, then time one full-batch training step of each.

# %%
import random

from rl_scratch.nets.value import MLP as ValueMLP
from rl_scratch.nets.value import Value

scalar_net = ValueMLP([4, 16, 3], activation="tanh", rng=random.Random(0))
tensor_net = MLP([4, 16, 3], activation="tanh", dtype=np.float64)
tensor_net.load_state_dict({
    f"layers.{i}.weight": np.array([[n.w[k].data for n in layer.neurons] for k in range(len(layer.neurons[0].w))])
    for i, layer in enumerate(scalar_net.layers)
} | {f"layers.{i}.bias": np.array([n.b.data for n in layer.neurons]) for i, layer in enumerate(scalar_net.layers)})
x64 = x_train.astype(np.float64)


def scalar_loss(net, x, y):
    """Mean cross-entropy in Values: log(sum(exp(scores))) - score of the right class."""
    total = Value(0.0)
    for row, label in zip(x.tolist(), y.tolist()):
        scores = net(row)
        total = total + sum((s.exp() for s in scores), Value(0.0)).log() - scores[label]
    return total * (1.0 / len(y))


def scalar_step(lr=0.5):
    scalar_net.zero_grad()
    loss = scalar_loss(scalar_net, x64, y_train)
    loss.backward()
    for p in scalar_net.parameters():
        p.data -= lr * p.grad
    return loss.data


tensor_optimizer = SGD(tensor_net.parameters(), lr=0.5)


def tensor_step():
    loss = F.cross_entropy(tensor_net(Tensor(x64)), y_train)
    tensor_optimizer.zero_grad()
    loss.backward()
    tensor_optimizer.step()
    return loss.item()


# Same weights, same data: the same loss and the same gradients.
scalar_net.zero_grad()
value_loss = scalar_loss(scalar_net, x64, y_train)
value_loss.backward()
check = F.cross_entropy(tensor_net(Tensor(x64)), y_train)
tensor_optimizer.zero_grad()
check.backward()
first_weight_grad = np.array([[n.w[k].grad for n in scalar_net.layers[0].neurons] for k in range(4)])
print(f"loss: Value {value_loss.data:.10f}, Tensor {check.item():.10f}")
assert abs(value_loss.data - check.item()) < 1e-9
assert np.allclose(first_weight_grad, tensor_net.layers[0].weight.grad)

# %%
def seconds_per_step(step, repeats: int) -> float:
    start = time.perf_counter()
    for _ in range(repeats):
        step()
    return (time.perf_counter() - start) / repeats


scalar_seconds = seconds_per_step(scalar_step, 1 if QUICK else 3)
tensor_seconds = seconds_per_step(tensor_step, 100 if QUICK else 1000)
speedup = scalar_seconds / tensor_seconds
print(f"one full-batch step on 120 flowers: Value MLP {1000 * scalar_seconds:.1f} ms, "
      f"Tensor MLP {1000 * tensor_seconds:.3f} ms: NumPy is {speedup:.0f}x faster")

fig, (ax,) = pictures.panels(1, 1, (5.0, 3.0))
ax.barh(["Value MLP (pure Python)", "Tensor MLP (NumPy)"], [1000 * scalar_seconds, 1000 * tensor_seconds],
        color=["#f97316", "#3b82f6"])
ax.set_xscale("log")
ax.set_xlabel("milliseconds per training step (log scale)")
ax.set_title(f"the same network, the same step: {speedup:.0f}x", fontsize=10)
pictures.save(fig, OUT / "02_speedup.png")
fig

# %% [markdown]
# ## Exercise
#
# How many numbers does the network `MLP([4, 16, 3])` learn? Count its weights and
# biases on paper (a layer from `n` inputs to `m` outputs has an `n x m` weight matrix and
# `m` biases), put your count below (the one filled in is an answer: replace it), and run
# the check.

# %%
my_parameter_count = 4 * 16 + 16 + 16 * 3 + 3

counted = sum(p.data.size for p in MLP([4, 16, 3]).parameters())
assert my_parameter_count == counted, (
    f"you have {my_parameter_count}, the network has {counted}. Hint: layer 1 has 4 x 16 weights and "
    "16 biases; layer 2 has 16 x 3 weights and 3 biases.")
assert counted == len(scalar_net.parameters())
print("exercise: correct")
