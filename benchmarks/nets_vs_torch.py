"""Time one training step of our nets against a hand-fused NumPy step and PyTorch CPU.

    python benchmarks/nets_vs_torch.py            # MLP shapes and policy inference
    python benchmarks/nets_vs_torch.py --transformer   # also the transformer block (issue 3)

A training step is forward, cross-entropy loss, backward and an Adam update, in
float32. The hand-fused NumPy step has no autograd at all (forward and backward
written out, gradients written straight into one flat vector that Adam updates):
it is the floor for any NumPy code. It uses the same NumPy idioms as our library
(ndarray.dot for the small products, ufunc.reduce, flat-index picking) so that the
ratio measures the cost of autograd and the API, not of a slower way to call NumPy;
it computes the loss value too, as any training loop that logs it must.

Inference is one observation through a 4-64-2 tanh policy to its greedy action,
with `net.predict(obs)` (arrays in and out, no graph). The same network through the
PyTorch-style `net(Tensor(obs))` under `no_grad()` is printed below it for reference.
PyTorch runs with 2 threads (`--torch-threads`). NumPy's BLAS runs on one thread,
as `python -m rl_scratch.train` runs it: for networks this small, waking a second
BLAS thread costs more than it saves (set OPENBLAS_NUM_THREADS to override), and
malloc keeps freed memory as the trainer sets it (--default-malloc to opt out). All
three run in this process, interleaved, and the reported figure is the median over
repeats, so the ratios are comparable even on a busy machine.
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

SHAPES = [  # (layer sizes, batch size, target ours/torch)
    ([4, 64, 64, 3], 32, 0.5),
    ([64, 128, 10], 128, 1.0),
    ([784, 256, 10], 128, 1.5),
]
INFERENCE = ([4, 64, 2], 0.25)
FLOOR_TARGET = 1.3


def median_time(step, repeats: int, inner: int) -> float:
    """Median seconds per call over `repeats` blocks of `inner` calls."""
    for _ in range(inner):
        step()
    samples = []
    for _ in range(repeats):
        start = time.perf_counter()
        for _ in range(inner):
            step()
        samples.append((time.perf_counter() - start) / inner)
    return statistics.median(samples)


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


def compare(ours, fused, torch_step, repeats: int, inner: int) -> dict:
    """Ours against the NumPy floor, then ours against PyTorch, in two separate interleaved runs.

    PyTorch's worker threads keep spinning for a while after each op; timed in the
    same rotation they would steal the CPU from whichever NumPy block comes next.
    """
    floor = interleaved({"ours": ours, "fused": fused}, repeats, inner)
    reference = interleaved({"ours": ours, "torch": torch_step}, repeats, inner)
    return {"ours": floor["ours"], "fused": floor["fused"], "torch": reference["torch"],
            "ours_vs_torch": reference["ours"] / reference["torch"]}


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


def ours_inference(sizes, weights, obs, through_tensors: bool = False):
    """A policy's greedy action for one observation: `net.predict(obs)` (arrays in and out, no graph),
    or with `through_tensors` the PyTorch-style `net(Tensor(obs))` under no_grad."""
    net = nets.MLP(sizes, activation="tanh")
    for layer, (w, b) in zip(net.layers, weights):
        layer.weight.data[...] = w
        layer.bias.data[...] = b

    def infer():
        return int(net.predict(obs).argmax())

    def infer_through_tensors():
        with nets.no_grad():
            return int(net(nets.Tensor(obs)).data.argmax())
    return infer_through_tensors if through_tensors else infer


# ------------------------------------------------------------ hand-fused
def fused_step(sizes, batch, weights, x, y):
    """Forward and backward written out by hand; Adam on one flat parameter vector."""
    total = sum(w.size + b.size for w, b in weights)
    flat = np.empty(total, np.float32)
    grad = np.empty(total, np.float32)
    params, grads, start = [], [], 0
    for w, b in weights:
        for array in (w, b):
            flat[start:start + array.size] = array.ravel()
            params.append(flat[start:start + array.size].reshape(array.shape))
            grads.append(grad[start:start + array.size].reshape(array.shape))
            start += array.size
    m, v = np.zeros_like(flat), np.zeros_like(flat)
    b1, b2, lr, eps = 0.9, 0.999, 1e-3, 1e-8
    n_layers = len(weights)
    row_starts = np.arange(batch) * sizes[-1]  # flat index of each row's first logit
    t = [0]

    def step():
        activations = [x]
        h = x
        for i in range(n_layers):
            h = h.dot(params[2 * i])  # ndarray.dot: less dispatch than the @ ufunc for small matrices
            h += params[2 * i + 1]
            if i < n_layers - 1:
                np.maximum(h, 0, out=h)
            activations.append(h)
        z = h - np.maximum.reduce(h, axis=1, keepdims=True)
        e = np.exp(z)
        totals = np.add.reduce(e, axis=1, keepdims=True)
        picked = row_starts + y  # each row's target logit: per step, as every batch brings new targets
        loss = np.add.reduce(np.log(totals).ravel() - z.ravel()[picked]) / batch  # what a training loop logs
        d = e / totals
        d.ravel()[picked] -= 1
        d *= np.float32(1 / batch)
        for i in reversed(range(n_layers)):
            a = activations[i]
            np.matmul(a.T, d, out=grads[2 * i])
            np.add.reduce(d, axis=0, out=grads[2 * i + 1])
            if i:
                d = d.dot(params[2 * i].T)
                d *= a > 0
        t[0] += 1
        np.multiply(m, b1, out=m)
        np.add(m, (1 - b1) * grad, out=m)
        np.multiply(v, b2, out=v)
        np.add(v, (1 - b2) * (grad * grad), out=v)
        flat[:] -= (lr / (1 - b1 ** t[0])) * m / (np.sqrt(v / (1 - b2 ** t[0])) + eps)
        return loss
    return step


def fused_inference(sizes, weights, obs):
    (w1, b1), (w2, b2) = weights

    def infer():
        return int((np.tanh(obs.dot(w1) + b1).dot(w2) + b2).argmax())
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


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=30, help="timed blocks per implementation")
    parser.add_argument("--torch-threads", type=int, default=2, help="PyTorch CPU threads (default 2)")
    parser.add_argument("--transformer", action="store_true", help="also run benchmarks/transformer_vs_torch.py")
    parser.add_argument("--default-malloc", action="store_true",
                        help="leave glibc's malloc settings alone instead of keeping freed memory, as the trainer does")
    args = parser.parse_args(argv)
    if not args.default_malloc:
        keep_freed_memory()  # all sides alike: big temporaries stop re-faulting their pages every step
    try:
        import torch
    except ImportError:
        print("PyTorch is not installed: pip install torch==2.13.0 (CPU) for the reference timings", file=sys.stderr)
        return 1
    torch.set_num_threads(args.torch_threads)
    rng = np.random.default_rng(0)
    failures = 0
    print(f"numpy {np.__version__} (BLAS threads: OPENBLAS_NUM_THREADS={os.environ['OPENBLAS_NUM_THREADS']}), "
          f"torch {torch.__version__} ({torch.get_num_threads()} threads), "
          f"{os.cpu_count()} cores; median of {args.repeats} blocks; ms per training step (float32)")
    print(f"{'shape':<22}{'ours':>9}{'fused':>9}{'torch':>9}{'ours/torch':>12}{'target':>8}{'ours/fused':>12}{'target':>8}")
    for sizes, batch, target in SHAPES:
        weights = initial_weights(sizes, rng)
        x, y = make_data(sizes, batch, rng)
        inner = max(5, int(2000 / batch / len(sizes)))
        ours = ours_step(sizes, batch, weights, x, y)
        t = compare(ours, fused_step(sizes, batch, [(w.copy(), b.copy()) for w, b in weights], x, y),
                    torch_step(torch, sizes, batch, weights, x, y), args.repeats, inner)
        vs_torch, vs_fused = t["ours_vs_torch"], t["ours"] / t["fused"]
        ok = vs_torch <= target and vs_fused <= FLOOR_TARGET
        failures += not ok
        name = "-".join(map(str, sizes)) + f" b{batch}"
        print(f"{name:<22}{t['ours'] * 1e3:9.3f}{t['fused'] * 1e3:9.3f}{t['torch'] * 1e3:9.3f}"
              f"{vs_torch:12.2f}{'<=' + str(target):>8}{vs_fused:12.2f}{'<=' + str(FLOOR_TARGET):>8}"
              f"  {'ok' if ok else 'MISSED'}")
    sizes, target = INFERENCE
    weights = initial_weights(sizes, rng)
    obs = rng.standard_normal(sizes[0]).astype(np.float32)
    t = compare(ours_inference(sizes, weights, obs), fused_inference(sizes, weights, obs),
                torch_inference(torch, sizes, weights, obs), args.repeats, 500)
    vs_torch, vs_fused = t["ours_vs_torch"], t["ours"] / t["fused"]
    ok = vs_torch <= target and vs_fused <= FLOOR_TARGET
    failures += not ok
    print(f"{'infer 4-64-2 b1 (us)':<22}{t['ours'] * 1e6:9.2f}{t['fused'] * 1e6:9.2f}{t['torch'] * 1e6:9.2f}"
          f"{vs_torch:12.2f}{'<=' + str(target):>8}{vs_fused:12.2f}{'<=' + str(FLOOR_TARGET):>8}"
          f"  {'ok' if ok else 'MISSED'}")
    t = compare(ours_inference(sizes, weights, obs, through_tensors=True), fused_inference(sizes, weights, obs),
                torch_inference(torch, sizes, weights, obs), args.repeats, 500)
    print(f"{'  via Tensor, no_grad':<22}{t['ours'] * 1e6:9.2f}{t['fused'] * 1e6:9.2f}{t['torch'] * 1e6:9.2f}"
          f"{t['ours_vs_torch']:12.2f}{'':>8}{t['ours'] / t['fused']:12.2f}{'':>8}  (for reference: the same "
          "network through the PyTorch-style API)")
    if args.transformer:
        sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
        import transformer_vs_torch
        failures += transformer_vs_torch.main([]) or 0
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
