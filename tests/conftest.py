import os

# Tests never open a real window or a GUI plotting backend.
os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
os.environ.setdefault("SDL_AUDIODRIVER", "dummy")
os.environ.setdefault("MPLBACKEND", "Agg")
os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")

# The suite trains small networks: a multithreaded BLAS only adds thread wake-ups (and on a
# busy 2-core machine, long stalls). The CLI does the same for its runs.
from rl_scratch.runtime import keep_freed_memory, limit_blas_threads  # noqa: E402

limit_blas_threads()
keep_freed_memory()


def import_torch():
    """PyTorch for the parity tests. Without it they skip, except where RL_SCRATCH_REQUIRE_TORCH=1
    (CI sets it, after installing torch): there a missing or broken torch fails them instead."""
    import pytest

    if os.environ.get("RL_SCRATCH_REQUIRE_TORCH") == "1":
        import torch
        return torch
    return pytest.importorskip("torch", reason="PyTorch parity tests need torch (pip install torch==2.13.0)")
