"""Where a study lives: Optuna's journal file in the study folder, or a database URL shared by machines.

- No `--storage` (and no RL_SCRATCH_TUNE_STORAGE): `JournalStorage` on `<study folder>/journal.log`,
  an append-only log with a file lock, safe for several processes on one machine (Optuna's
  docs advise against SQLite there). Running the same command again reopens it.
- `--storage URL`: any database URL Optuna's RDBStorage takes; `postgresql://user@host/db`
  is the one for many machines. The URL may come from the environment variable instead, so a
  password stays out of shell history and `ps`; libpq's PGPASSWORD and ~/.pgpass work too.

A password never leaves this module unmasked: `mask()` turns it into *** in anything
printed or written, and every message that might quote the URL goes through it.
"""

from __future__ import annotations

import os
import random
import re
import socket
import time
import warnings
from pathlib import Path

from rl_scratch.config import ConfigError

STORAGE_VARIABLE = "RL_SCRATCH_TUNE_STORAGE"
JOURNAL_FILE = "journal.log"
# Optuna's heartbeat for database storages: a trial whose worker stopped beating for
# GRACE_SECONDS is failed by the next worker that starts a trial (a machine that died).
HEARTBEAT_SECONDS = 20
GRACE_SECONDS = 90
CONNECT_TIMEOUT_SECONDS = 10
CREATE_ATTEMPTS = 5
SCHEMES = ("postgresql", "mysql", "sqlite")

_secrets: set[str] = set()
_URL_PASSWORD = re.compile(r"(?P<head>[a-z][a-z0-9+.-]*://[^:/@\s]*:)(?P<password>[^@\s]*)(?P<tail>@)", re.I)


def mask(text: str) -> str:
    """`text` with every known password, and any password-looking part of a URL, replaced by ***."""
    text = _URL_PASSWORD.sub(lambda m: m["head"] + "***" + m["tail"], str(text))
    for secret in _secrets:
        text = text.replace(secret, "***")
    return text


def storage_url(flag: str | None) -> str | None:
    """--storage, else the environment variable, else None (the embedded journal)."""
    url = flag if flag is not None else os.environ.get(STORAGE_VARIABLE)
    return url.strip() if url and url.strip() else None


def _parse(url: str):
    """A SQLAlchemy URL object; a malformed or unsupported URL raises ConfigError (masked)."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        parsed = make_url(url)
    except (ArgumentError, ValueError):
        raise ConfigError(f"malformed storage URL {mask(url)!r}: expected e.g. postgresql://user@host:5432/db "
                          f"or sqlite:///study.db") from None
    if parsed.password:
        _secrets.add(str(parsed.password))
    backend = parsed.get_backend_name()
    if backend not in SCHEMES:
        raise ConfigError(f"unsupported storage URL scheme {backend!r} in {mask(url)!r}: "
                          f"use {', '.join(s + '://' for s in SCHEMES)}")
    if backend == "postgresql" and "+" not in parsed.drivername:
        # the [tune] extra brings psycopg 3; SQLAlchemy < 2.1 would look for psycopg2
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed


def describe(url: str | None, folder: Path) -> str:
    """Where the study is, for people: the journal path, or the URL with its password as ***."""
    if url is None:
        return f"journal file {folder / JOURNAL_FILE}"
    return mask(url)


def open_storage(url: str | None, folder: Path):
    """An Optuna storage; an unreachable database raises ConfigError with the reason (masked)."""
    import optuna
    from sqlalchemy.exc import IntegrityError, ProgrammingError

    warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)
    if url is None:
        from optuna.storages.journal import JournalFileBackend

        return optuna.storages.JournalStorage(JournalFileBackend(str(folder / JOURNAL_FILE)))
    parsed = _parse(url)
    engine_kwargs = {}
    if parsed.get_backend_name() == "postgresql":
        engine_kwargs["connect_args"] = {"connect_timeout": CONNECT_TIMEOUT_SECONDS}
    heartbeat = {} if parsed.get_backend_name() == "sqlite" else {
        "heartbeat_interval": HEARTBEAT_SECONDS, "grace_period": GRACE_SECONDS}
    for attempt in range(CREATE_ATTEMPTS):
        try:
            return optuna.storages.RDBStorage(parsed.render_as_string(hide_password=False),
                                              engine_kwargs=engine_kwargs, **heartbeat)
        except (IntegrityError, ProgrammingError) as error:
            # Workers started together on a new database race to create Optuna's tables (a duplicate
            # key or table for the loser); by the next attempt the winner has made them.
            if attempt == CREATE_ATTEMPTS - 1:
                raise ConfigError(f"cannot open storage {mask(url)}: {mask(_first_line(error))}") from None
            time.sleep(0.5 + random.random())
        except ImportError as error:
            raise ConfigError(f"storage {mask(url)}: its database driver is missing ({error}); "
                              "pip install -e '.[tune]' brings psycopg for PostgreSQL") from None
        except Exception as error:  # SQLAlchemy and driver errors name the host; the reason is the first line
            raise ConfigError(f"cannot open storage {mask(url)}: {mask(_first_line(error))}") from None


def _first_line(error: Exception) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__


# ------------------------------------------------------- worker identity
def _start_time(pid: int) -> str | None:
    """The process's start time in clock ticks since boot (/proc), None when it is gone or a zombie."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return None if fields[0] in ("Z", "X") else fields[19]


def worker_identity() -> dict:
    """Who runs a trial: host, pid and the pid's start time (so a reused pid is not mistaken for it)."""
    return {"host": socket.gethostname(), "pid": os.getpid(), "start": _start_time(os.getpid())}


def is_dead(worker: dict | None) -> bool:
    """A worker on this host whose process is gone; workers on other hosts are the heartbeat's job."""
    if not worker or worker.get("host") != socket.gethostname():
        return False
    start = _start_time(int(worker["pid"]))
    return start is None or (worker.get("start") is not None and start != worker["start"])
