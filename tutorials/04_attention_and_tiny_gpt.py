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
# # 4. Attention and a tiny GPT
#
# A language model reads text as a sequence of *tokens* (here: characters, each an
# integer id), turns each into a vector (an *embedding*), lets every position gather
# information from earlier positions (*attention*), and predicts the next token.
# This tutorial builds attention by hand, checks it against the package's layer, then
# trains `TinyGPT` on the corpus bundled with the package and looks inside it.

# %%
import os
import time
from pathlib import Path

import numpy as np

from rl_scratch import pictures
from rl_scratch.envs import NextToken
from rl_scratch.nets import Adam, GPTConfig, MultiHeadAttention, SelfAttention, Tensor, TinyGPT, no_grad
from rl_scratch.nets.transformer import causal_mask
from rl_scratch.runtime import configure_for_small_networks

QUICK = os.environ.get("RL_SCRATCH_TUTORIAL_QUICK") == "1"
OUT = Path(os.environ.get("RL_SCRATCH_TUTORIAL_OUT", "tutorial_output"))
# NumPy as the trainer runs it: one BLAS thread (these networks are small; more threads only wait
# on each other) and freed memory kept for the next step.
configure_for_small_networks()

corpus = NextToken()                      # the bundled corpus, as the NextToken env reads it
tokenizer = corpus.tokenizer
train_ids, val_ids = corpus.dataset("train"), corpus.dataset("val")
print(f"{len(train_ids) + len(val_ids)} characters, a vocabulary of {tokenizer.vocab_size}")
print("the first 60:", repr(tokenizer.decode(train_ids[:60])))
print("as ids:      ", train_ids[:12], "...")

# %% [markdown]
# ## Tokens become vectors, and learn where they are
#
# An `Embedding` is a table with one learned row per token id: looking a token up gives
# its vector. Attention by itself does not know the order of its inputs (it would treat
# "dog bites man" and "man bites dog" alike), so each position also gets a vector,
# added to its token's. TinyGPT learns those too; the original transformer used a fixed
# table of sines and cosines of different frequencies (`sinusoidal_positions`), drawn
# below: each row is a position, and nearby positions get similar rows.

# %%
from rl_scratch.nets import Embedding
from rl_scratch.nets.transformer import sinusoidal_positions

embedding = Embedding(tokenizer.vocab_size, 16, rng=np.random.default_rng(0))
vectors = embedding(train_ids[:5][None])                # (1, 5, 16): a vector per character
print("5 characters ->", vectors.shape)

fig, (ax,) = pictures.panels(1, 1, (6.0, 3.2))
image = ax.imshow(sinusoidal_positions(32, 16), cmap="RdBu", aspect="auto", vmin=-1, vmax=1)
ax.set_xlabel("dimension")
ax.set_ylabel("position")
ax.set_title("sinusoidal position encodings (32 positions, 16 dimensions)", fontsize=10)
fig.colorbar(image, ax=ax)
pictures.save(fig, OUT / "04_positions.png")
fig

# %% [markdown]
# ## Queries, keys and values, by hand
#
# Take 5 tokens, each already a vector of 8 numbers (`x`, shape `(5, 8)`). Attention
# gives every token three learned projections:
#
# - a **query** `q = x Wq`: what this token is looking for;
# - a **key** `k = x Wk`: what it offers to others;
# - a **value** `v = x Wv`: what it hands over when chosen.
#
# Token `i` scores every token `j` by `q_i . k_j / sqrt(d)` (the `sqrt(d)` keeps the
# scores from growing with the width `d`), turns the scores into weights with a softmax,
# and outputs the weighted average of the values. The **causal mask** forbids looking
# ahead: token `i` may only see tokens `j <= i` (a language model must not read the
# character it is asked to predict). Masked scores become `-inf`, so their weight is 0.

# %%
rng = np.random.default_rng(0)
T, dim, d = 5, 8, 4
x = rng.normal(size=(T, dim))
Wq, Wk, Wv = (rng.normal(size=(dim, d)) / np.sqrt(dim) for _ in range(3))

q, k, v = x @ Wq, x @ Wk, x @ Wv                      # (T, d) each
scores = q @ k.T / np.sqrt(d)                          # (T, T): scores[i, j] = q_i . k_j / sqrt(d)
mask = causal_mask(T)                                  # (T, T) lower-triangular: True where j <= i
print(mask.astype(int))
scores = np.where(mask, scores, -np.inf)
weights = np.exp(scores - scores.max(axis=1, keepdims=True))
weights /= weights.sum(axis=1, keepdims=True)          # each row sums to 1
by_hand = weights @ v                                   # (T, d)

# The package's single head, given the same three matrices side by side:
head = SelfAttention(dim, head_dim=d, causal=True, bias=False, dtype=np.float64)
head.load_state_dict({"qkv.weight": np.concatenate([Wq, Wk, Wv], axis=1)})
out = head(Tensor(x[None]))                             # a batch of one: (1, T, d)
assert np.allclose(out.data[0], by_hand) and np.allclose(head.last_attention[0], weights)
print("SelfAttention gives the same output and the same weights")

fig = pictures.attention_maps(weights, tokens=[f"t{i}" for i in range(T)], title="one causal head, by hand",
                              path=OUT / "04_attention_by_hand.png")
fig

# %% [markdown]
# ## Many heads
#
# One head can only look for one thing at a time. `MultiHeadAttention` runs several
# narrow heads side by side (here 2 heads of width 4 on 8-wide tokens), each with its
# own queries, keys and values, concatenates their outputs and mixes them with one more
# projection. Each head has its own attention pattern:

# %%
heads = MultiHeadAttention(dim, n_heads=2, causal=True, rng=np.random.default_rng(1), dtype=np.float64)
y = heads(Tensor(x[None]))
print("output", y.shape, " weights", heads.last_attention.shape, "(batch, heads, queries, keys)")
assert np.allclose(np.triu(heads.last_attention[0], 1), 0)  # no head looks ahead

# %% [markdown]
# ## A tiny GPT on the bundled corpus
#
# `TinyGPT` stacks it all: token embeddings plus learned position embeddings, blocks of
# (layer norm, multi-head causal attention, layer norm, MLP) with residual connections,
# and a final layer that scores every character of the vocabulary as the next one. We
# train it on random windows of the text with cross-entropy on every position, for about
# a minute (a few seconds in quick mode), and watch the validation loss. For scale: a
# model that ignores the context and always predicts the character frequencies scores
# the unigram entropy below.

# %%
config = (GPTConfig(vocab_size=tokenizer.vocab_size, context=16, dim=32, n_heads=2, n_layers=1) if QUICK else
          GPTConfig(vocab_size=tokenizer.vocab_size, context=32, dim=64, n_heads=4, n_layers=2))
SECONDS, MAX_STEPS, BATCH = (20, 300, 16) if QUICK else (60, 5000, 32)
model = TinyGPT(config, rng=np.random.default_rng(0))
optimizer = Adam(model.parameters(), lr=3e-3)
batch_rng = np.random.default_rng(0)


def batch(ids, size):
    """`size` random windows of the context's length, and the same windows shifted by one (the targets)."""
    starts = batch_rng.integers(0, len(ids) - config.context - 1, size)
    windows = np.stack([ids[s:s + config.context + 1] for s in starts])
    return windows[:, :-1], windows[:, 1:]


def validation_loss():
    model.eval()
    with no_grad():
        inputs, targets = batch(val_ids, 64)
        loss = model.loss(inputs, targets).item()
    model.train()
    return loss


counts = np.bincount(train_ids, minlength=tokenizer.vocab_size) / len(train_ids)
unigram = float(-(counts[counts > 0] * np.log(counts[counts > 0])).sum())
steps, train_losses, val_steps, val_losses = [], [], [], []
start = time.perf_counter()
for step in range(1, MAX_STEPS + 1):
    inputs, targets = batch(train_ids, BATCH)
    loss = model.loss(inputs, targets)
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    steps.append(step)
    train_losses.append(loss.item())
    if step % 20 == 0:
        val_steps.append(step)
        val_losses.append(validation_loss())
    if time.perf_counter() - start > SECONDS:
        break
val_steps.append(step)
val_losses.append(validation_loss())
print(f"{step} steps in {time.perf_counter() - start:.0f} s: validation loss {val_losses[-1]:.3f} nats/char "
      f"(first {val_losses[0]:.3f}; unigram {unigram:.3f}; uniform {np.log(tokenizer.vocab_size):.3f})")

fig = pictures.learning_curves({"training batch": [(steps, train_losses)], "validation": [(val_steps, val_losses)]},
                               xlabel="training step", ylabel="cross-entropy (nats per character)",
                               target=unigram, target_label=f"unigram baseline {unigram:.2f}", smooth=10,
                               title="TinyGPT learning the corpus", path=OUT / "04_gpt_loss.png")
fig

# %% [markdown]
# ## What the heads look at
#
# Feeding one piece of text through the trained model and reading each head's weights
# (`model.blocks[i].attn.last_attention`) shows where each position looks. Everything
# above the diagonal is 0: the causal mask. Trained heads often specialise, one on the
# previous character, another spreading over the current word.

# %%
text = tokenizer.decode(val_ids[:config.context])
ids = tokenizer.encode(text)
fig = pictures.gpt_attention(model, ids, tokens=list(text), path=OUT / "04_gpt_attention.png",
                             title=f"the last block's heads on {text!r}")
fig

# %% [markdown]
# ## Samples at three temperatures
#
# Generation appends one sampled character at a time. At a low temperature the model
# repeats its most likely guesses; at a high one it invents freely and misspells more
# (tutorial 3 shows how temperature reshapes each step's distribution).

# %%
prompt = tokenizer.encode(tokenizer.decode(train_ids[:8]))
for temperature in (0.5, 1.0, 1.5):
    sample = model.generate(prompt, 80 if QUICK else 200, temperature=temperature, rng=np.random.default_rng(0))
    print(f"--- temperature {temperature} ---\n{tokenizer.decode(sample)}\n")

# %% [markdown]
# ## Exercise
#
# Suppose every score is equal (for example, all queries are zero). With the causal
# mask, what weight does token `t` (counting from 0) give to each key it may see? Write
# it as a function of `t` (the one filled in is an answer: replace it), and the check
# runs a head whose queries are all zero.

# %%
def my_weight(t: int) -> float:
    return 1 / (t + 1)


zero_queries = SelfAttention(dim, head_dim=d, causal=True, bias=False, dtype=np.float64)
zero_queries.load_state_dict({"qkv.weight": np.concatenate([np.zeros((dim, d)), Wk, Wv], axis=1)})
zero_queries(Tensor(x[None]))
engine = zero_queries.last_attention[0]
for t in range(T):
    expected = np.where(np.arange(T) <= t, my_weight(t), 0.0)
    assert np.allclose(engine[t], expected), (
        f"token {t}: you give each visible key {my_weight(t)}, the head gives {engine[t].round(4)}. Hint: equal "
        "scores share the weight equally among the keys the mask leaves visible (keys 0..t).")
print("exercise: correct")
