"""Time one training step of our nets, on both paths, against PyTorch CPU in the same process.

    python benchmarks/nets_vs_torch.py                 # MLP shapes, the wide MLP, policy inference
    python benchmarks/nets_vs_torch.py --transformer   # also benchmarks/transformer_vs_torch.py

A training step is forward, cross-entropy loss, backward and an Adam update, in
float32. "fast" is the default path (fused kernels, nets/kernels.py); "reading" is
the same step with the switch on (`nets.reading_path()`: composed primitives only),
printed with how many times slower it is. The targets are on fast / torch.

The wide MLP 512-1024-1024-10 at batch 256 is measured as a fraction of this
machine's single-thread sgemm rate (a 1024^3 float32 product timed here): its
step's useful FLOPs (forward, and the backward's two products per layer but the
first layer's input gradient) over its time. PyTorch's fraction, with the same one
thread, is printed beside ours.

Inference is one observation through a 4-64-2 tanh policy to its greedy action,
with `net.predict(obs)` (arrays in and out, no graph).
PyTorch runs with 2 threads (`--torch-threads`), 1 for the sgemm fraction. NumPy's
BLAS runs on one thread, as `python -m rl_scratch.train` runs it (set
OPENBLAS_NUM_THREADS to override), and malloc keeps freed memory as the trainer
sets it (--default-malloc to opt out). Implementations run interleaved in this
process and each figure is the median over repeats, so the ratios are comparable
even on a busy machine.
"""

from __future__ import annotations

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # before NumPy loads OpenBLAS

import argparse  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402

from rl_scratch import nets  # noqa: E402
from rl_scratch.nets import F  # noqa: E402
from rl_scratch.runtime import keep_freed_memory  # noqa: E402

SHAPES = [  # (layer sizes, batch size, target fast/torch)
    ([4, 64, 64, 3], 32, 0.25),
    ([64, 128, 10], 128, 0.45),
    ([784, 256, 10], 128, 1.3),
]
INFERENCE = ([4, 64, 2], 0.15)
WIDE = ([512, 1024, 1024, 10], 256, 0.70)  # sizes, batch, target fraction of the sgemm rate


def interleaved(steps: dict, repeats: int, inner: int) -> dict:
    """Time several implementations in alternating blocks so machine load hits all alike."""
    for step in steps.values():
        for _ in range(inner):
            step()
    samples = {name: [] for name in steps}
    for _ in range(repeats):
        for name, step in steps.items():
            start = time.perf_counter()
            for _ in range(inner):
                step()
            samples[name].append((time.perf_counter() - start) / inner)
    return {name: statistics.median(s) for name, s in samples.items()}


def on_reading_path(step):
    """`step` with the reading-path switch on."""
    def read():
        with nets.reading_path():
            return step()
    return read


def compare(ours, torch_step, repeats: int, inner: int) -> dict:
    """The fast path and the reading path, then the fast path against PyTorch, in two interleaved runs.

    PyTorch's worker threads keep spinning for a while after each op; timed in the
    same rotation they would steal the CPU from whichever NumPy block comes next.
    """
    paths = interleaved({"fast": ours, "reading": on_reading_path(ours)}, repeats, inner)
    reference = interleaved({"fast": ours, "torch": torch_step}, repeats, inner)
    return {"fast": paths["fast"], "reading": paths["reading"], "torch": reference["torch"],
            "fast_vs_torch": reference["fast"] / reference["torch"], "slowdown": paths["reading"] / paths["fast"]}


def make_data(sizes, batch, rng):
    x = rng.standard_normal((batch, sizes[0])).astype(np.float32)
    y = rng.integers(0, sizes[-1], batch)
    return x, y


def initial_weights(sizes, rng):
    return [(rng.standard_normal((a, b)).astype(np.float32) * np.float32(np.sqrt(2 / a)),
             np.zeros(b, np.float32)) for a, b in zip(sizes[:-1], sizes[1:])]


# ------------------------------------------------------------------ ours
def ours_step(sizes, batch, weights, x, y):
    net = nets.MLP(sizes, activation="relu")
    for layer, (w, b) in zip(net.layers, weights):
        layer.weight.data[...] = w
        layer.bias.data[...] = b
    opt = nets.Adam(net.parameters(), lr=1e-3)
    xt = nets.Tensor(x)

    def step():
        loss = F.cross_entropy(net(xt), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
    return step


def ours_inference(sizes, weights, obs):
    """A policy's greedy action for one observation: `net.predict(obs)` (arrays in and out, no graph)."""
    net = nets.MLP(sizes, activation="tanh")
    for layer, (w, b) in zip(net.layers, weights):
        layer.weight.data[...] = w
        layer.bias.data[...] = b

    def infer():
        return int(net.predict(obs).argmax())
    return infer


# ----------------------------------------------------------------- torch
def torch_step(torch, sizes, batch, weights, x, y):
    layers = []
    for i, (w, b) in enumerate(weights):
        linear = torch.nn.Linear(*w.shape)
        with torch.no_grad():
            linear.weight.copy_(torch.from_numpy(w.T.copy()))
            linear.bias.copy_(torch.from_numpy(b))
        layers.append(linear)
        if i < len(weights) - 1:
            layers.append(torch.nn.ReLU())
    net = torch.nn.Sequential(*layers)
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    xt, yt = torch.from_numpy(x), torch.from_numpy(y)
    loss_fn = torch.nn.CrossEntropyLoss()

    def step():
        loss = loss_fn(net(xt), yt)
        opt.zero_grad()
        loss.backward()
        opt.step()
    return step


def torch_inference(torch, sizes, weights, obs):
    (w1, b1), (w2, b2) = weights
    l1, l2 = torch.nn.Linear(*w1.shape), torch.nn.Linear(*w2.shape)
    with torch.no_grad():
        l1.weight.copy_(torch.from_numpy(w1.T.copy()))
        l1.bias.copy_(torch.from_numpy(b1))
        l2.weight.copy_(torch.from_numpy(w2.T.copy()))
        l2.bias.copy_(torch.from_numpy(b2))
    net = torch.nn.Sequential(l1, torch.nn.Tanh(), l2)

    def infer():
        with torch.no_grad():
            return int(net(torch.from_numpy(obs)).argmax())
    return infer


SGEMM_FLOPS = 2 * 1024 ** 3


def sgemm():
    """One single-threaded float32 1024^3 product (NumPy's BLAS, as this process runs it): SGEMM_FLOPS."""
    a, b = (np.random.default_rng(1).standard_normal((1024, 1024)).astype(np.float32) for _ in range(2))
    return lambda: a.dot(b)


def step_flops(sizes, batch) -> float:
    """Useful FLOPs of a training step: forward x @ W, backward g^T-products for W and (but the first layer) x."""
    pairs = list(zip(sizes[:-1], sizes[1:]))
    return 2 * batch * (3 * sum(a * b for a, b in pairs) - pairs[0][0] * pairs[0][1])


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=20, help="timed blocks per implementation")
    parser.add_argument("--torch-threads", type=int, default=2, help="PyTorch CPU threads (default 2)")
    parser.add_argument("--transformer", action="store_true",
                        help="also run benchmarks/transformer_vs_torch.py (with the same --torch-threads)")
    parser.add_argument("--default-malloc", action="store_true",
                        help="leave glibc's malloc settings alone instead of keeping freed memory, as the trainer does")
    args = parser.parse_args(argv)
    if not args.default_malloc:
        keep_freed_memory()  # all sides alike: big temporaries stop re-faulting their pages every step
    try:
        import torch
    except ImportError:
        print("PyTorch is not installed: pip install torch==2.13.0 for the reference timings", file=sys.stderr)
        return 1
    torch.set_num_threads(args.torch_threads)
    rng = np.random.default_rng(0)
    failures = 0
    print(f"numpy {np.__version__} (BLAS threads: OPENBLAS_NUM_THREADS={os.environ['OPENBLAS_NUM_THREADS']}), "
          f"torch {torch.__version__} ({torch.get_num_threads()} threads), "
          f"{os.cpu_count()} cores; median of {args.repeats} blocks; ms per training step (float32)")
    print(f"{'shape':<24}{'fast':>9}{'reading':>9}{'torch':>9}{'fast/torch':>12}{'target':>8}{'reading/fast':>14}")

    def row(name, t, target, unit=1e3):
        ok = t["fast_vs_torch"] <= target
        print(f"{name:<24}{t['fast'] * unit:9.3f}{t['reading'] * unit:9.3f}{t['torch'] * unit:9.3f}"
              f"{t['fast_vs_torch']:12.2f}{'<=' + str(target):>8}{t['slowdown']:13.1f}x  {'ok' if ok else 'MISSED'}")
        return not ok

    for sizes, batch, target in SHAPES:
        weights = initial_weights(sizes, rng)
        x, y = make_data(sizes, batch, rng)
        inner = max(5, int(2000 / batch / len(sizes)))
        t = compare(ours_step(sizes, batch, weights, x, y), torch_step(torch, sizes, batch, weights, x, y),
                    args.repeats, inner)
        failures += row("-".join(map(str, sizes)) + f" b{batch}", t, target)
    sizes, target = INFERENCE
    weights = initial_weights(sizes, rng)
    obs = rng.standard_normal(sizes[0]).astype(np.float32)
    t = compare(ours_inference(sizes, weights, obs), torch_inference(torch, sizes, weights, obs), args.repeats, 500)
    failures += row("infer 4-64-2 b1 (us)", t, target, unit=1e6)

    sizes, batch, target = WIDE
    weights = initial_weights(sizes, rng)
    x, y = make_data(sizes, batch, rng)
    torch.set_num_threads(1)  # the sgemm rate is single-threaded, so is every side here
    ours = ours_step(sizes, batch, weights, x, y)
    times = interleaved({"sgemm": sgemm(), "fast": ours, "reading": on_reading_path(ours),
                         "torch": torch_step(torch, sizes, batch, weights, x, y)}, max(3, args.repeats // 2), 2)
    rate, reading = SGEMM_FLOPS / times["sgemm"], times["reading"]
    flops = step_flops(sizes, batch)
    ours_fraction, torch_fraction = flops / times["fast"] / rate, flops / times["torch"] / rate
    ok = ours_fraction >= target
    failures += not ok
    print(f"{'-'.join(map(str, sizes))} b{batch}: sgemm {rate / 1e9:.1f} GFLOP/s (1 thread); "
          f"fast {times['fast'] * 1e3:.1f} ms = {ours_fraction:.0%} of it (target >= {target:.0%}), "
          f"reading {reading * 1e3:.1f} ms ({reading / times['fast']:.2f}x), "
          f"torch (1 thread) {times['torch'] * 1e3:.1f} ms = {torch_fraction:.0%}  {'ok' if ok else 'MISSED'}")
    torch.set_num_threads(args.torch_threads)
    if args.transformer:
        sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
        import transformer_vs_torch
        failures += transformer_vs_torch.main(["--torch-threads", str(args.torch_threads)]) or 0
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
