"""Transformer parts and models: fused ops vs their compositions, gradient checks,
causality, masks, head independence, generation, learning, and parity with PyTorch."""

import contextlib

import numpy as np
import pytest
from conftest import import_torch

from rl_scratch.nets import Adam, Tensor, gradcheck, no_grad
from rl_scratch.nets import F, kernels
from rl_scratch.nets.transformer import (
    AttentionEncoder, Embedding, FeedForward, GPTConfig, LayerNorm, LearnedPositionalEmbedding, MultiHeadAttention,
    RMSNorm, SelfAttention, SinusoidalPositionalEncoding, TinyGPT, TransformerBlock, attention_mask, causal_mask,
    next_token_probabilities, sinusoidal_positions,
)

F64 = np.float64


def rng(seed=0):
    return np.random.default_rng(seed)


def leaf(array):
    return Tensor(np.array(array, dtype=F64), requires_grad=True)


def uneven_loss(out: Tensor) -> Tensor:
    return ((out + 1) ** 2).mean()


def grads_of(fn, inputs):
    for t in inputs:
        t.grad = None
    uneven_loss(fn(*inputs)).backward()
    return [t.grad.copy() for t in inputs]


def check_module(module, x, *extra_inputs, **kwargs):
    """gradcheck wrt the input (when it is a float Tensor) and every parameter of the module."""
    params = module.parameters()
    inputs = ([x] if isinstance(x, Tensor) and x.requires_grad else []) + params
    gradcheck(lambda *_: module(x, *extra_inputs, **kwargs), inputs)


def random_key_mask(generator, batch, tokens):
    mask = generator.random((batch, tokens)) > 0.4
    mask[:, 0] = True  # every query must see a key for the composed reference (no NaN rows)
    return mask


# ------------------------------------------------------- fused vs composed ops
@pytest.mark.parametrize("mask_kind", ["none", "causal", "keys", "causal+keys"])
def test_fused_attention_matches_composition(mask_kind):
    g = rng(1)
    B, H, T, hd = 2, 3, 5, 4
    mask = attention_mask(T, "causal" in mask_kind, random_key_mask(g, B, T) if "keys" in mask_kind else None, B)
    if mask is not None and mask.ndim == 3:
        mask = mask[:, None]
    qkv = leaf(g.normal(size=(3, B, H, T, hd)))
    out_fused, weights_fused = kernels.attention(qkv, mask)
    out_composed, weights_composed = F.attention_composed(qkv, mask)
    np.testing.assert_allclose(out_fused.data, out_composed.data, atol=1e-12)
    np.testing.assert_allclose(weights_fused, weights_composed, atol=1e-12)
    [grad_fused] = grads_of(lambda t: kernels.attention(t, mask)[0], [qkv])
    [grad_composed] = grads_of(lambda t: F.attention_composed(t, mask)[0], [qkv])
    np.testing.assert_allclose(grad_fused, grad_composed, atol=1e-12)
    gradcheck(lambda t: kernels.attention(t, mask)[0], [qkv])


def test_fused_norms_and_embedding_match_compositions():
    g = rng(2)
    x, weight, bias = leaf(g.normal(size=(2, 3, 6)) * 3 + 1), leaf(g.normal(size=6)), leaf(g.normal(size=6))
    pairs = [
        (lambda *t: kernels.layer_norm(*t, 1e-5), lambda *t: F.layer_norm_composed(*t, 1e-5), [x, weight, bias]),
        (lambda *t: kernels.rms_norm(*t, 1e-5), lambda *t: F.rms_norm_composed(*t, 1e-5), [x, weight]),
    ]
    table, ids = leaf(g.normal(size=(7, 6))), np.array([[0, 3, 3], [6, 0, 3]])  # repeated ids must add up
    pairs.append((lambda t: kernels.embedding(ids, t), lambda t: F.embedding_composed(ids, t), [table]))
    for fused_fn, composed_fn, inputs in pairs:
        np.testing.assert_allclose(fused_fn(*inputs).data, composed_fn(*inputs).data, atol=1e-12)
        for a, b in zip(grads_of(fused_fn, inputs), grads_of(composed_fn, inputs)):
            np.testing.assert_allclose(a, b, atol=1e-12)
        gradcheck(fused_fn, inputs)


def test_gelu_is_finite_for_large_inputs():
    x = Tensor(np.array([-1e4, -100.0, 0.0, 100.0, 1e4], dtype=np.float32), requires_grad=True)
    y = x.gelu()
    y.sum().backward()
    np.testing.assert_allclose(y.data, [0, 0, 0, 100, 1e4])
    np.testing.assert_allclose(x.grad, [0, 0, 0.5, 1, 1])


# -------------------------------------------------------------- gradchecks
def test_gradcheck_embedding_and_positions():
    g = rng(3)
    embed = Embedding(5, 4, rng=g, dtype=F64)
    check_module(embed, np.array([[0, 1, 1], [4, 0, 1]]))
    learned = LearnedPositionalEmbedding(4, 3, rng=g, dtype=F64)
    x = leaf(g.normal(size=(2, 3, 3)))
    check_module(learned, x)
    gradcheck(SinusoidalPositionalEncoding(4, 3, dtype=F64), [x])


@pytest.mark.parametrize("norm_class", [LayerNorm, RMSNorm])
def test_gradcheck_norms(norm_class):
    g = rng(4)
    norm = norm_class(5, dtype=F64)
    for p in norm.parameters():  # away from the initial ones/zeros, where mistakes can hide
        p.data[...] = g.normal(size=p.shape)
    check_module(norm, leaf(g.normal(size=(2, 3, 5)) * 2))


@pytest.mark.parametrize("causal", [False, True])
@pytest.mark.parametrize("with_key_mask", [False, True])
def test_gradcheck_attention_modules(causal, with_key_mask):
    g = rng(5)
    B, T, dim = 2, 4, 6
    key_mask = random_key_mask(g, B, T) if with_key_mask else None
    x = leaf(g.normal(size=(B, T, dim)))
    check_module(SelfAttention(dim, head_dim=3, causal=causal, rng=g, dtype=F64), x, key_mask)
    check_module(MultiHeadAttention(dim, 2, causal=causal, rng=g, dtype=F64), x, key_mask)


def test_gradcheck_block_and_feedforward():
    g = rng(6)
    x = leaf(g.normal(size=(2, 3, 4)))
    check_module(FeedForward(4, 8, rng=g, dtype=F64), x)
    block = TransformerBlock(4, 2, causal=True, rng=g, dtype=F64)
    for p in block.parameters():
        p.data[...] = g.normal(0, 0.5, p.shape)
    check_module(block, x)
    check_module(TransformerBlock(4, 2, norm="rms", rng=g, dtype=F64), x, random_key_mask(g, 2, 3))


def test_gradcheck_tinygpt_loss_wrt_parameters():
    g = rng(7)
    model = TinyGPT(GPTConfig(vocab_size=5, context=4, dim=4, n_heads=2, n_layers=2), rng=g, dtype=F64)
    for p in model.parameters():
        p.data[...] = g.normal(0, 0.5, p.shape)
    data = g.integers(0, 5, (2, 5))
    block = model.blocks[1]
    some = [model.token_embedding.weight, model.position_embedding.weight, block.attn.qkv.weight,
            block.norm2.weight, model.lm_head.bias]
    gradcheck(lambda *_: model.loss(data[:, :-1], data[:, 1:]), some)


@pytest.mark.parametrize("pool", ["mean", "cls", "flat", "last"])
def test_gradcheck_attention_encoder(pool):
    g = rng(8)
    encoder = AttentionEncoder(3, n_tokens=4, dim=4, n_heads=2, n_layers=1, pool=pool, rng=g, dtype=F64)
    for p in encoder.parameters():
        p.data[...] = g.normal(0, 0.5, p.shape)
    x = leaf(g.normal(size=(2, 4, 3)))
    check_module(encoder, x, random_key_mask(g, 2, 4))


# ------------------------------------------------------------------ masks
def test_causal_mask_is_lower_triangular():
    mask = causal_mask(4)
    assert mask.dtype == bool and mask.shape == (4, 4)
    np.testing.assert_array_equal(mask, np.arange(4)[None, :] <= np.arange(4)[:, None])


def test_changing_a_token_never_changes_earlier_positions():
    g = rng(9)
    model = TinyGPT(GPTConfig(vocab_size=11, context=8, dim=8, n_heads=2, n_layers=2), rng=g)
    attention = MultiHeadAttention(8, 2, causal=True, rng=g)
    ids = g.integers(0, 11, (3, 8))
    x = g.normal(size=(3, 8, 8)).astype(np.float32)
    for t in range(8):
        changed_ids = ids.copy()
        changed_ids[:, t] = (ids[:, t] + 1) % 11
        changed_x = x.copy()
        changed_x[:, t] += 1
        for before, after in [(model(ids).data, model(changed_ids).data),
                              (attention(x).data, attention(changed_x).data)]:
            np.testing.assert_array_equal(before[:, :t], after[:, :t])
            assert np.abs(before[:, t] - after[:, t]).max() > 1e-6  # the change itself is visible


def test_masked_keys_get_zero_weight_and_their_values_do_not_matter():
    g = rng(10)
    B, T, dim = 3, 6, 8
    key_mask = random_key_mask(g, B, T)
    for layer in (MultiHeadAttention(dim, 2, rng=g), SelfAttention(dim, rng=g),
                  MultiHeadAttention(dim, 2, causal=True, rng=g)):
        x = g.normal(size=(B, T, dim)).astype(np.float32)
        out = layer(x, key_mask).data
        weights = layer.last_attention                        # (B, [heads,] T, T)
        key_axis_mask = key_mask[:, None, None, :] if weights.ndim == 4 else key_mask[:, None, :]
        assert np.all(np.where(key_axis_mask, True, weights == 0))
        np.testing.assert_allclose(weights.sum(axis=-1), 1, rtol=1e-5)
        changed = x.copy()
        changed[~key_mask] = g.normal(size=changed[~key_mask].shape) * 10
        np.testing.assert_allclose(layer(changed, key_mask).data[key_mask], out[key_mask], atol=1e-5)


def test_query_with_no_visible_key_gets_zero_output_not_nan():
    g = rng(11)
    layer = MultiHeadAttention(4, 2, causal=True, bias=False, rng=g)
    key_mask = np.array([[False, True, True]])  # with causality, query 0 sees nothing
    out = layer(g.normal(size=(1, 3, 4)), key_mask)
    assert np.isfinite(out.data).all()
    np.testing.assert_array_equal(out.data[0, 0], 0)
    np.testing.assert_array_equal(layer.last_attention[0, :, 0], 0)


def test_key_mask_errors_name_the_expected_shape():
    layer = MultiHeadAttention(4, 2, rng=rng())
    with pytest.raises(ValueError, match=r"key_mask must be a boolean array of shape \(batch, tokens\)"):
        layer(np.zeros((2, 3, 4)), np.ones((2, 3)))
    with pytest.raises(ValueError, match="expects input of shape"):
        layer(np.zeros((2, 3, 5)))
    with pytest.raises(ValueError, match="divisible"):
        MultiHeadAttention(6, 4)


# ------------------------------------------------------------------- heads
def copy_head_into_self_attention(mha: MultiHeadAttention, head: int) -> SelfAttention:
    dim, hd = mha.dim, mha.head_dim
    single = SelfAttention(dim, head_dim=hd, rng=rng(), dtype=mha.qkv.weight.dtype)
    columns = np.concatenate([np.arange(part * dim + head * hd, part * dim + (head + 1) * hd) for part in range(3)])
    single.qkv.weight.data[...] = mha.qkv.weight.data[:, columns]
    single.qkv.bias.data[...] = mha.qkv.bias.data[columns]
    return single


def test_one_head_multihead_equals_single_head_with_same_weights():
    g = rng(12)
    mha = MultiHeadAttention(6, 1, causal=True, rng=g, dtype=F64)
    single = copy_head_into_self_attention(mha, 0)
    single.causal = True
    x = g.normal(size=(2, 5, 6))
    expected = single(x).data @ mha.proj.weight.data + mha.proj.bias.data
    np.testing.assert_allclose(mha(x).data, expected, atol=1e-12)
    np.testing.assert_allclose(mha.last_attention[:, 0], single.last_attention, atol=1e-12)


def test_heads_are_independent_and_their_contributions_sum():
    g = rng(13)
    mha = MultiHeadAttention(8, 4, rng=g, dtype=F64)
    x = g.normal(size=(2, 5, 8))
    full = mha(x).data
    proj_weight, bias = mha.proj.weight.data.copy(), mha.proj.bias.data
    total = bias.copy()
    for head in range(4):
        rows = slice(head * 2, (head + 1) * 2)
        mha.proj.weight.data[...] = 0
        mha.proj.weight.data[rows] = proj_weight[rows]         # keep only this head's rows
        contribution = mha(x).data - bias
        alone = copy_head_into_self_attention(mha, head)(x).data @ proj_weight[rows]
        np.testing.assert_allclose(contribution, alone, atol=1e-12)
        total = total + contribution
    mha.proj.weight.data[...] = proj_weight
    np.testing.assert_allclose(total, full, atol=1e-12)


# --------------------------------------------------------------- positions
def test_sinusoidal_table_values():
    table = sinusoidal_positions(10, 6, dtype=F64)
    np.testing.assert_allclose(table[0], [0, 1, 0, 1, 0, 1])
    positions = np.arange(10)
    np.testing.assert_allclose(table[:, 0], np.sin(positions))
    np.testing.assert_allclose(table[:, 3], np.cos(positions / 10000 ** (2 / 6)))
    assert sinusoidal_positions(3, 5).shape == (3, 5)
    with pytest.raises(ValueError, match="longer than"):
        SinusoidalPositionalEncoding(3, 5)(np.zeros((1, 4, 5)))


def test_learned_positions_reject_too_long_sequences():
    with pytest.raises(ValueError, match="longer than the 3 learned positions"):
        LearnedPositionalEmbedding(3, 2, rng=rng())(np.zeros((1, 4, 2)))


def test_embedding_rejects_bad_ids():
    embed = Embedding(5, 2, rng=rng())
    with pytest.raises(ValueError, match=r"out of range \[0, 5\)"):
        embed(np.array([[0, 5]]))
    with pytest.raises(TypeError, match="integer token ids"):
        embed(np.array([[0.0, 1.0]]))


# ----------------------------------------------------------------- TinyGPT
def test_float32_model_stays_float32():
    g = rng(14)
    model = TinyGPT(GPTConfig(vocab_size=7, context=6, dim=8, n_heads=2, n_layers=1), rng=g)
    data = g.integers(0, 7, (2, 7))
    loss = model.loss(data[:, :-1], data[:, 1:])
    loss.backward()
    assert loss.dtype == np.float32 and model(data[:, :-1]).dtype == np.float32
    assert {p.grad.dtype for p in model.parameters()} == {np.dtype(np.float32)}


def test_tinygpt_rejects_too_long_or_badly_shaped_input():
    model = TinyGPT(GPTConfig(vocab_size=7, context=4, dim=8, n_heads=2, n_layers=1), rng=rng())
    with pytest.raises(ValueError, match="exceeds the context of 4"):
        model(np.zeros((1, 5), dtype=int))
    with pytest.raises(ValueError, match=r"shape \(batch, tokens\)"):
        model(np.zeros(3, dtype=int))
    with pytest.raises(ValueError, match="divisible"):
        GPTConfig(dim=10, n_heads=4)


def test_dropout_only_in_training_and_generate_restores_the_mode():
    g = rng(21)
    model = TinyGPT(GPTConfig(vocab_size=7, context=6, dim=8, n_heads=2, n_layers=1, dropout=0.5), rng=g)
    ids = g.integers(0, 7, (2, 6))
    assert not np.array_equal(model(ids).data, model(ids).data)
    model.generate(ids[0], 3, rng=g)
    assert model.training
    model.eval()
    np.testing.assert_array_equal(model(ids).data, model(ids).data)


def test_temperature_sharpens_to_argmax_and_flattens_to_uniform():
    logits = rng(15).normal(size=(3, 10))
    cold = next_token_probabilities(logits, temperature=1e-3)
    np.testing.assert_allclose(cold, np.eye(10)[logits.argmax(axis=-1)], atol=1e-6)
    np.testing.assert_array_equal(next_token_probabilities(logits, temperature=0), np.eye(10)[logits.argmax(-1)])
    np.testing.assert_allclose(next_token_probabilities(logits, temperature=1e4), 0.1, atol=1e-4)
    entropies = [-(p * np.log(p)).sum() for p in (next_token_probabilities(logits[0], t) for t in (0.5, 1, 2))]
    assert entropies[0] < entropies[1] < entropies[2]
    top3 = next_token_probabilities(logits, top_k=3)
    assert ((top3 > 0).sum(axis=-1) == 3).all()
    np.testing.assert_array_equal(top3 > 0, logits >= np.sort(logits, axis=-1)[:, -3:-2])
    with pytest.raises(ValueError, match="temperature must be >= 0"):
        next_token_probabilities(logits, temperature=-1)
    with pytest.raises(ValueError, match="top_k"):
        next_token_probabilities(logits, top_k=0)


def test_generate_is_reproducible_respects_top_k_and_crops_context():
    g = rng(16)
    model = TinyGPT(GPTConfig(vocab_size=13, context=5, dim=8, n_heads=2, n_layers=1), rng=g)
    for p in model.parameters():
        p.data[...] = g.normal(0, 0.5, p.shape)  # a peaked, input-dependent distribution
    prompt = np.array([1, 2, 3])
    first = model.generate(prompt, 12, rng=np.random.default_rng(0))  # longer than the context
    assert first.shape == (15,) and np.array_equal(first[:3], prompt)
    np.testing.assert_array_equal(first, model.generate(prompt, 12, rng=np.random.default_rng(0)))
    assert not np.array_equal(first, model.generate(prompt, 12, rng=np.random.default_rng(1)))
    greedy = model.generate(prompt, 12, temperature=0)
    np.testing.assert_array_equal(greedy, model.generate(prompt, 12, temperature=1e-6, rng=np.random.default_rng(3)))
    batch = model.generate(np.stack([prompt, prompt]), 12, top_k=2, rng=np.random.default_rng(2))
    for row in batch:
        for t in range(3, 15):
            with no_grad():
                logits = model(row[None, max(0, t - 5):t]).data[0, -1]
            assert row[t] in np.argsort(logits)[-2:]


def test_tinygpt_overfits_a_repeated_string():
    text = "hello world! " * 20
    vocab = sorted(set(text))
    data = np.array([vocab.index(c) for c in text])
    config = GPTConfig(vocab_size=len(vocab), context=32, dim=32, n_heads=4, n_layers=2)
    model = TinyGPT(config, rng=rng(17))
    optimizer = Adam(model.parameters(), lr=1e-2)
    # Windows that start at "h" (every 13th character) are all this one, where each next character is determined.
    window = data[None, :config.context + 1]
    for _ in range(60):
        loss = model.loss(window[:, :-1], window[:, 1:])
        model.zero_grad()
        loss.backward()
        optimizer.step()
    assert loss.item() < 0.05
    generated = model.generate(np.array([vocab.index("h")]), config.context - 1, temperature=0)
    assert "".join(vocab[i] for i in generated) == text[:config.context]


# -------------------------------------------------------- AttentionEncoder
def test_attention_encoder_shapes_flat_input_and_masked_pooling():
    g = rng(18)
    encoder = AttentionEncoder(3, n_tokens=5, dim=8, n_heads=2, n_layers=2, rng=g)
    x = g.normal(size=(4, 5, 3)).astype(np.float32)
    out = encoder(x)
    assert out.shape == (4, 8) and encoder.out_features == 8 and out.dtype == np.float32
    assert encoder(Tensor(x.astype(np.float64))).dtype == np.float32
    np.testing.assert_array_equal(encoder(x.reshape(4, 15)).data, out.data)
    key_mask = random_key_mask(g, 4, 5)
    masked = encoder(x, key_mask).data
    changed = x.copy()
    changed[~key_mask] = 99
    np.testing.assert_allclose(encoder(changed, key_mask).data, masked, atol=1e-5)
    assert np.abs(masked - out.data).max() > 1e-4
    with pytest.raises(ValueError, match=r"expects \(batch, 5, 3\)"):
        encoder(np.zeros((4, 6, 3)))
    with pytest.raises(ValueError, match="key_mask must be a boolean array"):
        encoder(x, key_mask[:, :4])
    cls_encoder = AttentionEncoder(3, n_tokens=5, dim=8, n_heads=2, n_layers=1, pool="cls", rng=g)
    assert cls_encoder(x, key_mask).shape == (4, 8)
    with pytest.raises(ValueError, match="pool must be one of"):
        AttentionEncoder(3, n_tokens=5, pool="max")


@pytest.mark.parametrize("grad", [True, False])
def test_attention_encoder_flat_and_causal_last_pools(grad):
    g = rng(19)
    x = g.normal(size=(2, 5, 3)).astype(np.float32)
    later_changed = x.copy()
    later_changed[:, 3:] += 1.0
    flat = AttentionEncoder(3, n_tokens=5, dim=8, n_heads=2, n_layers=2, pool="flat", causal=True, rng=g)
    last = AttentionEncoder(3, n_tokens=5, dim=8, n_heads=2, n_layers=2, pool="last", causal=True, rng=g)
    with (contextlib.nullcontext() if grad else no_grad()):
        out, out_changed = flat(x).data, flat(later_changed).data
        assert out.shape == (2, 40) and flat.out_features == 40
        # every token's features in place; causal: tokens 0-2 never see tokens 3-4
        np.testing.assert_allclose(out[:, :24], out_changed[:, :24], atol=1e-6)
        assert np.abs(out[:, 24:] - out_changed[:, 24:]).min() > 1e-4
        first_changed = x.copy()
        first_changed[:, 0] += 1.0
        assert last(x).shape == (2, 8) and last.out_features == 8
        assert np.abs(last(x).data - last(first_changed).data).max() > 1e-4  # the last token saw the first


# ------------------------------------------------- graph-free inference path
@pytest.mark.parametrize("norm", ["layer", "rms"])
def test_tinygpt_inference_without_graph_equals_the_tensor_forward(norm):
    g = rng(30)
    model = TinyGPT(GPTConfig(vocab_size=9, context=6, dim=8, n_heads=2, n_layers=2, norm=norm), rng=g)
    ids = g.integers(0, 9, (3, 5))
    traced = model(ids)                                   # grad enabled: the Tensor forward
    assert traced.requires_grad
    traced_attention = [block.attn.last_attention.copy() for block in model.blocks]
    with no_grad():
        fast = model(ids)                                 # the array path (_forward_array)
    assert not fast.requires_grad and fast.dtype == np.float32 and fast.shape == (3, 5, 9)
    np.testing.assert_allclose(fast.data, traced.data, rtol=1e-5, atol=1e-5)
    for block, weights in zip(model.blocks, traced_attention):
        np.testing.assert_allclose(block.attn.last_attention, weights, atol=1e-6)
    with no_grad(), pytest.raises(ValueError, match=r"out of range \[0, 9\)"):
        model(np.array([[0, 9]]))


@pytest.mark.parametrize("n_layers", [1, 2])
def test_last_only_gives_the_last_positions_logits_on_both_paths(n_layers):
    g = rng(33)
    model = TinyGPT(GPTConfig(vocab_size=9, context=6, dim=8, n_heads=2, n_layers=n_layers), rng=g)
    ids = g.integers(0, 9, (3, 5))
    full = model(ids).data
    traced = model(ids, last_only=True)
    assert traced.requires_grad and traced.shape == (3, 9)
    np.testing.assert_array_equal(traced.data, full[:, -1])
    with no_grad():
        fast = model(ids, last_only=True)                  # the last block attends from the last token only
    np.testing.assert_allclose(fast.data, full[:, -1], rtol=1e-5, atol=1e-5)
    assert model.blocks[-1].attn.last_attention.shape == (3, 2, 1, 5)


def test_tinygpt_inference_keeps_dropout_when_training_under_no_grad():
    g = rng(31)
    model = TinyGPT(GPTConfig(vocab_size=7, context=6, dim=8, n_heads=2, n_layers=1, dropout=0.5), rng=g)
    ids = g.integers(0, 7, (2, 6))
    with no_grad():
        assert not np.array_equal(model(ids).data, model(ids).data)  # dropout still applies in train mode
        model.eval()
        np.testing.assert_array_equal(model(ids).data, model(ids).data)


@pytest.mark.parametrize("pool", ["mean", "cls", "flat", "last"])
@pytest.mark.parametrize("with_key_mask", [False, True])
def test_attention_encoder_inference_without_graph_equals_the_tensor_forward(pool, with_key_mask):
    g = rng(32)
    encoder = AttentionEncoder(3, n_tokens=5, dim=8, n_heads=2, n_layers=2, pool=pool, rng=g)
    x = g.normal(size=(4, 5, 3)).astype(np.float32)
    key_mask = random_key_mask(g, 4, 5) if with_key_mask else None
    traced = encoder(x, key_mask)
    with no_grad():
        fast = encoder(x, key_mask)
    assert fast.shape == (4, encoder.out_features) and fast.dtype == np.float32
    np.testing.assert_allclose(fast.data, traced.data, rtol=1e-5, atol=1e-5)


# ---------------------------------------------------------- PyTorch parity
def torch_copy_of_attention(ours: MultiHeadAttention):
    torch = import_torch()
    theirs = torch.nn.MultiheadAttention(ours.dim, ours.n_heads, batch_first=True, dtype=torch.float64)
    with torch.no_grad():
        theirs.in_proj_weight.copy_(torch.from_numpy(ours.qkv.weight.data.T.copy()))  # ours is (in, out)
        theirs.in_proj_bias.copy_(torch.from_numpy(ours.qkv.bias.data))
        theirs.out_proj.weight.copy_(torch.from_numpy(ours.proj.weight.data.T.copy()))
        theirs.out_proj.bias.copy_(torch.from_numpy(ours.proj.bias.data))
    return theirs


def torch_masks(T, causal, key_mask):
    torch = import_torch()
    future = torch.from_numpy(~causal_mask(T)) if causal else None  # PyTorch: True = may NOT attend
    padding = torch.from_numpy(~key_mask) if key_mask is not None else None
    return future, padding


def compare_gradients(ours_module, theirs_params, x_ours, x_theirs):
    for name, param in ours_module.named_parameters():
        theirs = theirs_params[name].grad.numpy()
        ours = param.grad
        np.testing.assert_allclose(ours, theirs.T if ours.ndim == 2 else theirs, atol=1e-6,  # Linear: (in, out)
                                   err_msg=f"gradient of {name}")
    np.testing.assert_allclose(x_ours.grad, x_theirs.grad.numpy(), atol=1e-6)


@pytest.mark.parametrize("causal", [False, True])
@pytest.mark.parametrize("with_key_mask", [False, True])
def test_multihead_attention_matches_pytorch(causal, with_key_mask):
    torch = import_torch()
    g = rng(19)
    B, T, dim, H = 3, 6, 12, 3
    ours = MultiHeadAttention(dim, H, causal=causal, rng=g, dtype=F64)
    theirs = torch_copy_of_attention(ours)
    key_mask = random_key_mask(g, B, T) if with_key_mask else None
    future, padding = torch_masks(T, causal, key_mask)
    x = leaf(g.normal(size=(B, T, dim)))
    x_torch = torch.from_numpy(x.data.copy()).requires_grad_(True)
    out = ours(x, key_mask)
    out_torch, weights_torch = theirs(x_torch, x_torch, x_torch, attn_mask=future, key_padding_mask=padding,
                                      need_weights=True, average_attn_weights=False)
    np.testing.assert_allclose(out.data, out_torch.detach().numpy(), atol=1e-6)
    np.testing.assert_allclose(ours.last_attention, weights_torch.detach().numpy(), atol=1e-6)
    uneven_loss(out).backward()
    ((out_torch + 1) ** 2).mean().backward()
    params = {"qkv.weight": theirs.in_proj_weight, "qkv.bias": theirs.in_proj_bias,
              "proj.weight": theirs.out_proj.weight, "proj.bias": theirs.out_proj.bias}
    compare_gradients(ours, params, x, x_torch)


@pytest.mark.parametrize("causal", [False, True])
def test_transformer_block_matches_pytorch_pre_norm_block(causal):
    torch = import_torch()
    nn = torch.nn
    g = rng(20)
    B, T, dim, H = 2, 5, 8, 2
    ours = TransformerBlock(dim, H, causal=causal, rng=g, dtype=F64)
    for p in ours.parameters():
        p.data[...] = g.normal(0, 0.3, p.shape)

    class TorchBlock(nn.Module):
        def __init__(self):
            super().__init__()
            self.norm1, self.norm2 = nn.LayerNorm(dim, dtype=torch.float64), nn.LayerNorm(dim, dtype=torch.float64)
            self.fc = nn.Linear(dim, 4 * dim, dtype=torch.float64)
            self.proj = nn.Linear(4 * dim, dim, dtype=torch.float64)
            self.gelu = nn.GELU(approximate="tanh")

        def forward(self, x, attn, mask):
            h = self.norm1(x)
            x = x + attn(h, h, h, attn_mask=mask, need_weights=False)[0]
            return x + self.proj(self.gelu(self.fc(self.norm2(x))))

    theirs, attn = TorchBlock(), torch_copy_of_attention(ours.attn)
    params = {"norm1.weight": theirs.norm1.weight, "norm1.bias": theirs.norm1.bias,
              "attn.qkv.weight": attn.in_proj_weight, "attn.qkv.bias": attn.in_proj_bias,
              "attn.proj.weight": attn.out_proj.weight, "attn.proj.bias": attn.out_proj.bias,
              "norm2.weight": theirs.norm2.weight, "norm2.bias": theirs.norm2.bias,
              "mlp.fc.weight": theirs.fc.weight, "mlp.fc.bias": theirs.fc.bias,
              "mlp.proj.weight": theirs.proj.weight, "mlp.proj.bias": theirs.proj.bias}
    with torch.no_grad():
        for name, param in ours.named_parameters():
            if not name.startswith("attn."):
                value = param.data.T if params[name].ndim == 2 else param.data
                params[name].copy_(torch.from_numpy(np.ascontiguousarray(value)))
    x = leaf(g.normal(size=(B, T, dim)))
    x_torch = torch.from_numpy(x.data.copy()).requires_grad_(True)
    out = ours(x)
    out_torch = theirs(x_torch, attn, torch_masks(T, causal, None)[0])
    np.testing.assert_allclose(out.data, out_torch.detach().numpy(), atol=1e-6)
    uneven_loss(out).backward()
    ((out_torch + 1) ** 2).mean().backward()
    compare_gradients(ours, params, x, x_torch)
