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
# # 3. Softmax, temperature and cross-entropy
#
# A classifier, a language model and a policy all end the same way: a vector of scores
# (*logits*), one per choice, turned into probabilities by **softmax**:
# `p_i = exp(z_i) / sum_j exp(z_j)`. Every `p_i` is positive and they sum to 1; a larger
# score gets a larger share.

# %%
import os
from pathlib import Path

import numpy as np

from rl_scratch import pictures
from rl_scratch.nets import Categorical, F, Tensor, reading_path
from rl_scratch.nets.transformer import next_token_probabilities

OUT = Path(os.environ.get("RL_SCRATCH_TUTORIAL_OUT", "tutorial_output"))

logits = np.array([2.0, 1.0, 0.1, -1.0])
probs = Tensor(logits).softmax().data
print("logits       ", logits)
print("probabilities", probs.round(3), " sum", probs.sum())

# %% [markdown]
# ## Temperature
#
# Dividing the logits by a *temperature* `T` before the softmax reshapes the distribution
# without changing the order of the choices. `T < 1` sharpens it (at `T = 0` all the
# probability goes to the best choice: greedy); `T > 1` flattens it towards uniform. A
# language model samples text at a temperature; a policy's entropy bonus pushes the same
# way as a higher temperature. The entropy `-sum p log p` measures how spread out `p` is.

# %%
temperatures = [0.0, 0.5, 1.0, 2.0, 5.0]
fig, axes = pictures.panels(len(temperatures) + 1, 1, (2.4, 2.8))
for ax, t in zip(axes, temperatures):
    p = next_token_probabilities(logits, temperature=t)
    ax.bar(range(len(p)), p, color="#7c3aed")
    ax.set_ylim(0, 1)
    ax.set_xticks(range(len(p)), [f"z={z:g}" for z in logits], fontsize=7)
    ax.set_title(f"T = {t:g}" + (" (greedy)" if t == 0 else ""), fontsize=10)
grid = np.linspace(0.05, 5, 60)
entropy = [float(Categorical(logits / t).entropy().data) for t in grid]
axes[-1].plot(grid, entropy, color="#0f766e")
axes[-1].axhline(np.log(len(logits)), color="gray", linestyle="--", linewidth=1, label="uniform: log 4")
axes[-1].set_xlabel("temperature")
axes[-1].set_title("entropy (nats)", fontsize=10)
axes[-1].legend(fontsize=7)
pictures.save(fig, OUT / "03_temperature.png")
fig

# %% [markdown]
# ## Why softmax subtracts the max
#
# `exp(1000)` is larger than any float, so computing softmax exactly as written breaks on
# large logits: `inf / inf` is `nan`. Subtracting the largest logit from all of them
# changes nothing mathematically (the common factor `exp(-max)` cancels) and keeps every
# exponent at most 0. The same trick makes `log_softmax(z) = z - max - log(sum exp(z - max))`
# exact where `log(softmax(z))` is not: a probability below about `1e-38` rounds to 0 in
# float32, and `log(0) = -inf`, while its log-probability (`-200` below) is a perfectly
# ordinary number. That is why losses and policies in this package take log-probabilities
# from `log_softmax`, never from `log(softmax(z))`.

# %%
big = np.array([1000.0, 1001.0, 1002.0])
with np.errstate(over="ignore", invalid="ignore"):
    naive = np.exp(big) / np.exp(big).sum()
print("naive softmax of [1000, 1001, 1002]:", naive)
print("the package's softmax:             ", Tensor(big).softmax().data.round(4))

far = np.array([0.0, -200.0], dtype=np.float32)
with np.errstate(divide="ignore"):
    print("log(softmax([0, -200])):", np.log(Tensor(far).softmax().data))
print("log_softmax([0, -200]): ", Tensor(far).log_softmax().data)

# %% [markdown]
# ## Cross-entropy
#
# To learn, we need a loss that is small when the right class `y` is likely:
# cross-entropy, `-log p_y`, the log-probability of the right answer with its sign
# flipped. It is 0 when `p_y = 1` and grows without bound as `p_y -> 0`. Its gradient
# with respect to the logits is remarkably simple: `p - onehot(y)` (divided by the batch
# size for a mean). Every logit is pushed down by its probability, and the right one is
# pulled up by 1.

# %%
z = Tensor(logits[None], requires_grad=True)     # a batch of one: (1, 4)
target = np.array([2])                            # the right class is the third
loss = F.cross_entropy(z, target)
loss.backward()
onehot = np.eye(4)[target]
print(f"loss {loss.item():.4f} = -log p_y = {-np.log(probs[2]):.4f}")
print("gradient      ", z.grad.round(4))
print("p - onehot(y) ", (probs - onehot).round(4))
assert np.allclose(z.grad, probs - onehot)

# %% [markdown]
# ## One node or five
#
# On the fast path (the default) cross-entropy is a single fused node of the graph. Inside
# `reading_path()` the same loss is built from the primitive ops you can read in
# `rl_scratch/nets/functional.py`, step for step: `log_softmax`, then picking the right
# class (`gather`, then indexing), a minus sign and the mean. Both give the same numbers; the tests check it.

# %%
fused = F.cross_entropy(Tensor(logits[None], requires_grad=True), target)
fused.backward()
with reading_path():
    z_read = Tensor(logits[None], requires_grad=True)
    composed = F.cross_entropy(z_read, target)
composed.backward()
assert np.isclose(fused.item(), composed.item()) and np.allclose(z_read.grad, z.grad)
fig = pictures.computation_graph(composed, names=dict(logits=z_read, loss=composed),
                                 title="cross-entropy on the reading path", path=OUT / "03_cross_entropy_graph.png")
fig

# %% [markdown]
# ## Exercise
#
# Write `my_log_softmax(z)` with NumPy so that it works on any logits, huge or tiny (the
# body filled in is one answer: replace it with yours). The check compares it with the
# package's `log_softmax` on logits that break the naive formula.

# %%
def my_log_softmax(z: np.ndarray) -> np.ndarray:
    shifted = z - z.max()
    return shifted - np.log(np.exp(shifted).sum())


for case in (np.array([1000.0, 1001.0, 1002.0]), np.array([0.0, -200.0]), np.array([3.0, 3.0]), logits):
    with np.errstate(all="ignore"):
        mine = my_log_softmax(case)
    expected = Tensor(case).log_softmax().data
    assert np.allclose(mine, expected), (
        f"for logits {case} you return {mine}, expected {expected}. Hint: subtract the largest logit "
        "first; log(sum(exp(z - max))) stays finite.")
print("exercise: correct")
