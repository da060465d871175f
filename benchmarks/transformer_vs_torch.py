"""Our transformer vs PyTorch on CPU, in the same process, same weights.

1. Training step of a one-block causal TinyGPT (vocab 65, batch 32, context 32,
   dim 64, 4 heads, MLP 4x, final norm, lm head, cross-entropy, Adam), float32.
   Target: ours / PyTorch <= 1.0.
2. Inference of one sequence, as a policy runs it (batch 1, 16 tokens, the same
   model, no gradient): the next-token logits of the last position, which is all
   a policy's action needs. Both sides let only the last token attend in the last
   block (PyTorch: the last position as the attention's only query); every token
   still serves as key and value. Target: ours / PyTorch <= 0.5. The logits of
   all 16 positions are timed too, for reference.

Both sides get the same initial weights (ours copied into PyTorch), and the
first losses are compared, so the two sides compute the same thing. They are
timed in alternating blocks of calls (ours, PyTorch, ours, ...) so background
load hits both alike; the figures are medians over blocks after warm-up. Other
programs share the two cores: the ratios are what to read, not the absolute
times. Blocks rather than single calls, because PyTorch's worker threads keep
spinning for a while after each call and would slow down the NumPy call that
follows on two cores.

Both rows are run again with the reading-path switch on (`nets.reading_path()`:
composed primitives instead of fused kernels, the traced forward instead of the
graph-free one) and printed with how many times slower that is; no target.

The targets are checked against PyTorch with 2 threads (--torch-threads). For
batch-1 inference PyTorch is faster with 1 thread, so a row against 1 thread
is printed too, for reference.

NumPy's OpenBLAS starts its own threads for matrices above a size threshold.
On two busy cores those threads wait on each other and a (1024, 64) @ (64, 192)
matmul can take 10-30x longer, so this script pins OpenBLAS to one thread
unless OPENBLAS_NUM_THREADS is already set. That only holds when this module
is imported before NumPy (e.g. run as a script). PyTorch gets
torch.set_num_threads(2) (--torch-threads). Like the trainer, the script lets malloc
keep freed memory, so the big temporaries of a training step do not re-fault their
pages on every step, on either side (--default-malloc to opt out).

    python benchmarks/transformer_vs_torch.py [--repeats 60] [--torch-threads 2] [--profile]
"""

from __future__ import annotations

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import argparse  # noqa: E402
import cProfile  # noqa: E402
import pstats  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402

from rl_scratch.nets import Adam, no_grad, reading_path  # noqa: E402
from rl_scratch.nets.transformer import GPTConfig, TinyGPT  # noqa: E402
from rl_scratch.runtime import keep_freed_memory  # noqa: E402

CONFIG = GPTConfig(vocab_size=65, context=32, dim=64, n_heads=4, n_layers=1)
BATCH = 32
INFERENCE_TOKENS = 16
LR = 3e-3
TRAIN_TARGET = 1.0
INFERENCE_TARGET = 0.5


def build_torch_gpt(ours: TinyGPT):
    """The same architecture in PyTorch, holding a copy of `ours`' weights (Linear weights transposed)."""
    import torch
    from torch import nn

    class Block(nn.Module):
        def __init__(self, dim, n_heads):
            super().__init__()
            self.norm1 = nn.LayerNorm(dim)
            self.attn = nn.MultiheadAttention(dim, n_heads, batch_first=True)
            self.norm2 = nn.LayerNorm(dim)
            self.fc = nn.Linear(dim, 4 * dim)
            self.gelu = nn.GELU(approximate="tanh")
            self.proj = nn.Linear(4 * dim, dim)

        def forward(self, x, mask, last_only=False):
            h = self.norm1(x)
            if last_only:  # the last token attends to every token (a causal mask hides nothing from it)
                x = x[:, -1:] + self.attn(h[:, -1:], h, h, need_weights=False)[0]
            else:
                x = x + self.attn(h, h, h, attn_mask=mask, need_weights=False)[0]
            return x + self.proj(self.gelu(self.fc(self.norm2(x))))

    class GPT(nn.Module):
        def __init__(self, config):
            super().__init__()
            self.token_embedding = nn.Embedding(config.vocab_size, config.dim)
            self.position_embedding = nn.Parameter(torch.zeros(config.context, config.dim))
            self.blocks = nn.ModuleList([Block(config.dim, config.n_heads) for _ in range(config.n_layers)])
            self.final_norm = nn.LayerNorm(config.dim)
            self.lm_head = nn.Linear(config.dim, config.vocab_size)
            # True above the diagonal = "may not attend" (PyTorch's convention is the inverse of ours)
            self.register_buffer("future", ~torch.tril(torch.ones(config.context, config.context, dtype=torch.bool)))

        def forward(self, ids, last_only=False):
            T = ids.shape[1]
            x = self.token_embedding(ids) + self.position_embedding[:T]
            for i, block in enumerate(self.blocks):
                x = block(x, self.future[:T, :T], last_only and i == len(self.blocks) - 1)
            logits = self.lm_head(self.final_norm(x))
            return logits[:, -1] if last_only else logits

    model = GPT(ours.config)
    copy_weights_to_torch(ours, model)
    return model


def copy_weights_to_torch(ours: TinyGPT, theirs) -> None:
    import torch

    def put(param, array):
        with torch.no_grad():
            param.copy_(torch.from_numpy(np.ascontiguousarray(array)))

    put(theirs.token_embedding.weight, ours.token_embedding.weight.data)
    put(theirs.position_embedding, ours.position_embedding.weight.data)
    for mine, block in zip(ours.blocks, theirs.blocks):
        for norm_ours, norm_theirs in ((mine.norm1, block.norm1), (mine.norm2, block.norm2)):
            put(norm_theirs.weight, norm_ours.weight.data)
            put(norm_theirs.bias, norm_ours.bias.data)
        put(block.attn.in_proj_weight, mine.attn.qkv.weight.data.T)
        put(block.attn.in_proj_bias, mine.attn.qkv.bias.data)
        put(block.attn.out_proj.weight, mine.attn.proj.weight.data.T)
        put(block.attn.out_proj.bias, mine.attn.proj.bias.data)
        put(block.fc.weight, mine.mlp.fc.weight.data.T)
        put(block.fc.bias, mine.mlp.fc.bias.data)
        put(block.proj.weight, mine.mlp.proj.weight.data.T)
        put(block.proj.bias, mine.mlp.proj.bias.data)
    put(theirs.final_norm.weight, ours.final_norm.weight.data)
    put(theirs.final_norm.bias, ours.final_norm.bias.data)
    put(theirs.lm_head.weight, ours.lm_head.weight.data.T)
    put(theirs.lm_head.bias, ours.lm_head.bias.data)


def timed_blocks(ours_fn, torch_fn, repeats: int, block: int) -> tuple:
    """Median seconds per call of each, over `repeats` alternating blocks of `block` calls."""
    for _ in range(block):
        ours_fn()
        torch_fn()
    ours_times, torch_times = [], []
    for _ in range(repeats):
        for fn, times in ((ours_fn, ours_times), (torch_fn, torch_times)):
            start = time.perf_counter()
            for _ in range(block):
                fn()
            times.append((time.perf_counter() - start) / block)
    return float(np.median(ours_times)), float(np.median(torch_times))


def main(argv=None) -> int:
    """Run both comparisons and print them; returns the number of missed targets (1 without PyTorch)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=40, help="timed blocks per side and measurement")
    parser.add_argument("--torch-threads", type=int, default=2, help="torch.set_num_threads")
    parser.add_argument("--profile", action="store_true", help="print a cProfile of our training step")
    parser.add_argument("--default-malloc", action="store_true",
                        help="leave glibc's malloc settings alone instead of keeping freed memory, as the trainer does")
    args = parser.parse_args(argv)
    if not args.default_malloc:
        keep_freed_memory()  # all sides alike: big temporaries stop re-faulting their pages every step
    try:
        import torch
        from torch.nn import functional as torch_F
    except ImportError:
        print("PyTorch is not installed: pip install torch==2.13.0 (CPU) for the reference timings", file=sys.stderr)
        return 1

    rng = np.random.default_rng(0)
    ours = TinyGPT(CONFIG, rng=rng)
    theirs = build_torch_gpt(ours)
    data = rng.integers(0, CONFIG.vocab_size, (BATCH, CONFIG.context + 1))
    ids, targets = data[:, :-1], data[:, 1:]
    ids_torch, targets_torch = torch.from_numpy(ids), torch.from_numpy(targets)
    prompt = data[:1, :INFERENCE_TOKENS]
    prompt_torch = torch.from_numpy(prompt)

    our_optimizer = Adam(ours.parameters(), lr=LR)
    torch_optimizer = torch.optim.Adam(theirs.parameters(), lr=LR)

    def our_step():
        loss = ours.loss(ids, targets)
        our_optimizer.zero_grad()
        loss.backward()
        our_optimizer.step()
        return loss.item()

    def torch_step():
        logits = theirs(ids_torch)
        loss = torch_F.cross_entropy(logits.reshape(-1, CONFIG.vocab_size), targets_torch.reshape(-1))
        torch_optimizer.zero_grad()
        loss.backward()
        torch_optimizer.step()
        return loss.item()

    def our_inference():
        with no_grad():
            return ours(prompt)

    def torch_inference():
        with torch.no_grad():
            return theirs(prompt_torch)

    def our_policy_step():
        with no_grad():
            return ours(prompt, last_only=True)

    def torch_policy_step():
        with torch.no_grad():
            return theirs(prompt_torch, last_only=True)

    first_losses = our_step(), torch_step()
    print(f"first training loss: ours {first_losses[0]:.6f}, PyTorch {first_losses[1]:.6f} "
          f"(same weights; they must agree to ~1e-5)")
    copy_weights_to_torch(ours, theirs)  # the two optimizers' float rounding differs; compare on equal weights
    with no_grad():
        difference = np.abs(ours(prompt).data - theirs(prompt_torch).detach().numpy()).max()
        last_difference = np.abs(our_policy_step().data - torch_policy_step().numpy()).max()
    print(f"inference logits: max |ours - PyTorch| = {difference:.2e} (all positions), "
          f"{last_difference:.2e} (last position only)")

    print(f"\nPyTorch {torch.__version__}; OPENBLAS_NUM_THREADS={os.environ.get('OPENBLAS_NUM_THREADS')}; "
          f"medians, float32")
    print(f"{'':50s}{'ours':>10s}{'PyTorch':>10s}{'ratio':>8s}  target")
    missed = 0
    for threads in dict.fromkeys((args.torch_threads, 1)):  # the target's thread count, then 1 for reference
        torch.set_num_threads(threads)
        ours.train()
        theirs.train()
        ours_train, torch_train = timed_blocks(our_step, torch_step, args.repeats, block=2)
        ours.eval()
        theirs.eval()
        ours_infer, torch_infer = timed_blocks(our_inference, torch_inference, args.repeats, block=20)
        ours_policy, torch_policy = timed_blocks(our_policy_step, torch_policy_step, args.repeats, block=20)
        checked = threads == args.torch_threads
        rows = [(f"training step (B=32, T=32), PyTorch {threads} thread(s)", ours_train, torch_train, TRAIN_TARGET),
                (f"policy step (B=1, T=16), PyTorch {threads} thread(s)", ours_policy, torch_policy, INFERENCE_TARGET),
                (f"  all 16 positions' logits, PyTorch {threads} thread(s)", ours_infer, torch_infer, None)]
        for name, ours_seconds, torch_seconds, target in rows:
            ratio = ours_seconds / torch_seconds
            if target is None:
                print(f"{name:50s}{ours_seconds * 1e3:8.3f}ms{torch_seconds * 1e3:8.3f}ms{ratio:8.2f}  (reference)")
                continue
            verdict = ("ok" if ratio <= target else "MISSED") if checked else "(reference)"
            missed += checked and ratio > target
            print(f"{name:50s}{ours_seconds * 1e3:8.3f}ms{torch_seconds * 1e3:8.3f}ms{ratio:8.2f}  "
                  f"<= {target} {verdict}")

    torch.set_num_threads(args.torch_threads)

    def reading(step):
        def read():
            with reading_path():
                return step()
        return read

    ours.train()
    fast_train, reading_train = timed_blocks(our_step, reading(our_step), max(5, args.repeats // 2), block=2)
    ours.eval()
    fast_policy, reading_policy = timed_blocks(our_policy_step, reading(our_policy_step), max(5, args.repeats // 2),
                                               block=20)
    print(f"{'reading path (switch on), against the fast path:':50s}{'reading':>10s}{'fast':>10s}{'slower':>8s}")
    for name, read_seconds, fast_seconds in [("  training step (B=32, T=32)", reading_train, fast_train),
                                             ("  policy step (B=1, T=16)", reading_policy, fast_policy)]:
        print(f"{name:50s}{read_seconds * 1e3:8.3f}ms{fast_seconds * 1e3:8.3f}ms{read_seconds / fast_seconds:7.1f}x")

    if args.profile:
        ours.train()
        profiler = cProfile.Profile(time.process_time)  # CPU time: other programs on the cores do not count
        profiler.enable()
        for _ in range(50):
            our_step()
        profiler.disable()
        pstats.Stats(profiler).sort_stats("tottime").print_stats(15)
    return missed


if __name__ == "__main__":
    sys.exit(main())
