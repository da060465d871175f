"""SIGINT (Ctrl-C) and SIGTERM, handled alike at every moment of a run.

What a signal does depends on the phase the trainer is in:

    "abort"     start-up, and the final evaluation: raise Interrupted at once
    "graceful"  training: the first signal asks to stop at the end of the current
                episode; the next one raises Interrupted (stop at once)
    "defer"     writing a periodic checkpoint: only recorded, so the write
                finishes; a stop-at-once asked for meanwhile is raised when the
                write is done
    "final"     the final save (checkpoint, eval.json, learning curve): only
                recorded; the save finishes and the process then exits

The process then exits 128 + the number of the first signal (130 for SIGINT,
143 for SIGTERM), the shell's convention.
"""

from __future__ import annotations

import contextlib
import signal
import threading

HANDLED = (signal.SIGINT, signal.SIGTERM)


class Interrupted(KeyboardInterrupt):
    """Raised by a signal that stops the run at once (a KeyboardInterrupt, so no `except Exception`
    in an agent or a library swallows it)."""

    def __init__(self, signum: int):
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


def signal_name(signum: int) -> str:
    return "Ctrl-C" if signum == signal.SIGINT else signal.Signals(signum).name


def exit_code(signum: int) -> int:
    return 128 + int(signum)


class StopSignals:
    """Installs handlers for SIGINT and SIGTERM and routes them by phase (see the module docstring).

    `on_stop_requested(signum)` is called (from the handler) by the first signal of
    the graceful phase. Handlers can only be set from the main thread; elsewhere
    (main() called from a thread) this records nothing and Python's defaults stay.
    """

    def __init__(self):
        self.received: list[int] = []
        self.mode = "abort"
        self.stop_requested = False
        self.raise_pending = False
        self.on_stop_requested = None
        self._previous: dict = {}

    # ------------------------------------------------------------- setup
    def install(self) -> "StopSignals":
        if threading.current_thread() is threading.main_thread():
            for signum in HANDLED:
                self._previous[signum] = signal.signal(signum, self._handle)
        return self

    def restore(self) -> None:
        for signum, handler in self._previous.items():
            signal.signal(signum, handler)
        self._previous.clear()

    # ----------------------------------------------------------- queries
    @property
    def first(self) -> int | None:
        """The first signal received, or None."""
        return self.received[0] if self.received else None

    # ---------------------------------------------------------- handling
    def _handle(self, signum, frame):
        self.received.append(signum)
        if self.mode == "abort":
            raise Interrupted(signum)
        if self.mode == "graceful" and not self.stop_requested:
            self.stop_requested = True
            if self.on_stop_requested is not None:
                self.on_stop_requested(signum)
            return
        if self.mode == "graceful":
            raise Interrupted(signum)
        if self.mode == "final":
            self.raise_pending = True  # skips what is left to interrupt (the final evaluation)
            return
        # "defer": a second signal while a periodic checkpoint is written stops at once afterwards
        if self.stop_requested:
            self.raise_pending = True
        else:
            self.stop_requested = True
            if self.on_stop_requested is not None:
                self.on_stop_requested(signum)

    @contextlib.contextmanager
    def phase(self, mode: str):
        """Run the block in `mode`, then go back to the previous mode.

        A signal that arrived while raising had to wait is raised when it no longer
        must: on entering "abort", or on going back to "graceful" after a checkpoint.
        """
        if mode == "abort":
            self._raise_pending()
        previous, self.mode = self.mode, mode
        try:
            yield self
        finally:
            self.mode = previous
        if previous == "graceful":
            self._raise_pending()

    def _raise_pending(self) -> None:
        if self.raise_pending:
            self.raise_pending = False
            raise Interrupted(self.received[-1])
