"""Process-level runtime settings for training small networks: BLAS threads and malloc.

The trainer, `play`, the test suite and the benchmarks all call these two, so every
measurement runs NumPy the way a training run does. Each leaves the user's choice
alone when they set the matching environment variable.
"""

from __future__ import annotations

import ctypes
import os

_THREAD_VARIABLES = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")
# NumPy 2 wheels bundle scipy-openblas (prefixed names); NumPy 1.x wheels an ILP64 OpenBLAS with a 64_ suffix.
_OPENBLAS_SETTERS = ("scipy_openblas_set_num_threads64_", "scipy_openblas_set_num_threads",
                     "openblas_set_num_threads64_", "openblas_set_num_threads")


def limit_blas_threads(threads: int = 1) -> bool:
    """Run NumPy's OpenBLAS on `threads` threads unless the user chose (an *_NUM_THREADS variable).

    The networks here are small: a multithreaded BLAS spends more on waking and
    syncing threads than it saves, and on a busy 2-core machine it is far worse
    (PPO on CartPole: 186 steps/s with the default threads, 1590 with one).
    NumPy is already imported, so the variables are too late; this calls the
    loaded OpenBLAS's own setter (what threadpoolctl does). Returns whether it did.
    """
    if any(name in os.environ for name in _THREAD_VARIABLES):
        return False
    try:
        with open("/proc/self/maps") as maps:  # Linux: the shared libraries this process loaded
            libraries = {line.split()[-1] for line in maps if "openblas" in line.lower() and ".so" in line}
    except OSError:
        return False
    for path in sorted(libraries):
        try:
            library = ctypes.CDLL(path)
        except OSError:
            continue
        for symbol in _OPENBLAS_SETTERS:
            setter = getattr(library, symbol, None)
            if setter is not None:
                setter(threads)
                return True
    return False


_MALLOC_VARIABLES = ("MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_")
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3  # glibc's mallopt parameter numbers
_KEEP_BYTES = 1 << 30


def keep_freed_memory() -> bool:
    """Let glibc's malloc reuse freed memory instead of handing it back to the OS.

    A training step allocates and frees the same large temporaries every time;
    by default glibc maps big ones fresh (and trims the heap) on each step, so
    every step pays page faults again: a TinyGPT step on text took 20 ms instead
    of 11. Does nothing off glibc or when the user set a MALLOC_* variable.
    Returns whether it applied.
    """
    if any(name in os.environ for name in _MALLOC_VARIABLES):
        return False
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return False
    return bool(mallopt(_M_MMAP_THRESHOLD, _KEEP_BYTES)) and bool(mallopt(_M_TRIM_THRESHOLD, _KEEP_BYTES))


def configure_for_small_networks() -> None:
    """Both settings at once: what `train` and `play` do before their first network step."""
    limit_blas_threads()
    keep_freed_memory()
