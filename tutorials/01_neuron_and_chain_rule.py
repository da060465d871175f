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
# # 1. A neuron and the chain rule
#
# A neuron takes inputs `x1, x2`, multiplies each by a weight, adds a bias and squashes
# the sum: `o = tanh(x1*w1 + x2*w2 + b)`. Learning means nudging `w1, w2, b` so that `o`
# moves the way we want, and for that we need the derivative of `o` with respect to each
# of them. The chain rule gives it one step at a time, backwards from `o`.
#
# `Value` (in `rl_scratch.nets.value`) is a number that remembers how it was computed.
# Every operation records its inputs and a small function that passes the gradient back
# to them; `backward()` runs those functions from the output to the inputs.

# %%
import os
from pathlib import Path

from rl_scratch import pictures
from rl_scratch.nets.value import Value

OUT = Path(os.environ.get("RL_SCRATCH_TUTORIAL_OUT", "tutorial_output"))

x1, x2 = Value(2.0), Value(0.0)
w1, w2 = Value(-3.0), Value(1.0)
b = Value(6.8813735870195432)
n = x1 * w1 + x2 * w2 + b
o = n.tanh()
o.backward()
print(o)
print("do/dw1 =", w1.grad, " do/dw2 =", w2.grad, " do/db =", b.grad)

# %% [markdown]
# ## The graph, with data and gradients
#
# Each box is one node: its operation (or its name, for inputs), its value, and the
# gradient `backward()` left in it. Read it right to left: `o` has gradient 1; `tanh`
# multiplies by `1 - o**2 = 0.5`; a `+` passes its gradient unchanged to both inputs; a
# `*` hands each input the gradient times the *other* input. That is why `w2` gets 0:
# its partner `x2` is 0.

# %%
fig = pictures.computation_graph(o, names=dict(x1=x1, x2=x2, w1=w1, w2=w2, b=b, o=o),
                                 title="o = tanh(x1*w1 + x2*w2 + b)", path=OUT / "01_neuron_graph.png")
fig

# %% [markdown]
# ## Checking the gradient by finite differences
#
# A derivative is a limit: `(f(w + h) - f(w - h)) / (2h)` for a small `h`. Computing `o`
# twice with `w1` moved a little either way must give (nearly) the gradient that
# `backward()` found. This is how the package's own tests check every operation.

# %%
def neuron(x1, x2, w1, w2, b):
    return (Value(x1) * w1 + Value(x2) * w2 + b).tanh().data


h = 1e-6
numeric = (neuron(2.0, 0.0, -3.0 + h, 1.0, b.data) - neuron(2.0, 0.0, -3.0 - h, 1.0, b.data)) / (2 * h)
print(f"backward: {w1.grad:.6f}   finite differences: {numeric:.6f}")
assert abs(numeric - w1.grad) < 1e-6

# %% [markdown]
# ## The same neuron with tensors
#
# `Tensor` (in `rl_scratch.nets`) does the same for whole arrays at once: one node for a
# matrix product instead of one per multiplication. Its gradients must agree with the
# scalar engine's; `gradcheck` compares them with finite differences for every entry.

# %%
import numpy as np

from rl_scratch.nets import Tensor, gradcheck

x = Tensor(np.array([[2.0, 0.0]]))                          # (1, 2): one input row
w = Tensor(np.array([[-3.0], [1.0]]), requires_grad=True)   # (2, 1)
bias = Tensor(np.array([b.data]), requires_grad=True)       # (1,)
out = (x @ w + bias).tanh().sum()
out.backward()
print("tensor gradient of w:", w.grad.ravel(), " value gradients:", [w1.grad, w2.grad])
assert np.allclose(w.grad.ravel(), [w1.grad, w2.grad])
print("gradcheck:", gradcheck(lambda w, bias: ((x @ w + bias).tanh() ** 2).mean(),
                              [Tensor(np.array([[-3.0], [1.0]]), requires_grad=True),
                               Tensor(np.array([b.data]), requires_grad=True)]))

fig = pictures.computation_graph(out, names=dict(x=x, w=w, b=bias, out=out),
                                 title="the same neuron as tensor ops", path=OUT / "01_tensor_graph.png")
fig

# %% [markdown]
# ## Exercise
#
# For `f = a * b + c` with `a = 3, b = -2, c = 5`, then `g = f ** 2`: what are `dg/da`,
# `dg/db` and `dg/dc`? Work them out on paper with the chain rule (`dg/df = 2 f`, then
# the rules of `*` and `+` above), write them below (the values filled in are one
# answer: replace them with yours), and run the check. It compares your numbers with what
# `backward()` computes.

# %%
my_dg_da = 2 * (3 * -2 + 5) * -2      # 2 f * b
my_dg_db = 2 * (3 * -2 + 5) * 3       # 2 f * a
my_dg_dc = 2 * (3 * -2 + 5)           # 2 f * 1

a, b_, c = Value(3.0), Value(-2.0), Value(5.0)
g = (a * b_ + c) ** 2
g.backward()
for name, mine, engine in (("dg/da", my_dg_da, a.grad), ("dg/db", my_dg_db, b_.grad), ("dg/dc", my_dg_dc, c.grad)):
    assert abs(mine - engine) < 1e-9, (
        f"{name}: you have {mine}, backward() says {engine}. Hint: dg/df = 2 f with f = a*b + c = "
        f"{a.data * b_.data + c.data}; a '*' node passes each input the gradient times the other input.")
print("exercise: correct")
