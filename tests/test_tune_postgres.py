"""Two tuner workers share one study through a real PostgreSQL server (a throwaway cluster on localhost).

The test makes its own cluster: initdb into a temporary folder (as the `postgres` user when
running as root, since PostgreSQL refuses to run as root), pg_ctl start on a free port with
password authentication, then two `python -m rl_scratch.tune` processes with separate study
folders, as two machines would have: one gets the URL from --storage, the other from the
environment variable. CI installs PostgreSQL when its binaries are missing and sets
RL_SCRATCH_REQUIRE_POSTGRES=1, so there this test fails rather than skips.
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

optuna = pytest.importorskip("optuna")
psycopg = pytest.importorskip("psycopg")

PASSWORD = "pg-Secret-7c1f"
USER = "tuner"


def _bindir() -> Path | None:
    """The PostgreSQL server binaries: pg_config's bindir, else Debian's /usr/lib/postgresql/<v>/bin."""
    candidates = []
    if shutil.which("pg_config"):
        out = subprocess.run(["pg_config", "--bindir"], capture_output=True, text=True)
        candidates.append(out.stdout.strip())
    candidates += sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True)
    for folder in candidates:
        if folder and (Path(folder) / "initdb").exists() and (Path(folder) / "pg_ctl").exists():
            return Path(folder)
    return None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def postgres_url():
    bindir = _bindir()
    if bindir is None:
        if os.environ.get("RL_SCRATCH_REQUIRE_POSTGRES"):
            pytest.fail("PostgreSQL's initdb/pg_ctl not found (CI installs the postgresql package)")
        pytest.skip("PostgreSQL server binaries not installed (apt-get install postgresql)")
    root = Path(tempfile.mkdtemp(prefix="rl-scratch-pg-"))
    as_user = []
    if os.geteuid() == 0:  # the server refuses root: the cluster belongs to the postgres user
        shutil.chown(root, "postgres")
        os.chmod(root, 0o700)
        as_user = ["runuser", "-u", "postgres", "--"]
    (root / "pw").write_text(PASSWORD + "\n")
    if as_user:
        shutil.chown(root / "pw", "postgres")
    port = _free_port()
    data = root / "data"
    try:
        subprocess.run([*as_user, str(bindir / "initdb"), "-D", str(data), "-U", USER, "--pwfile", str(root / "pw"),
                        "-A", "scram-sha-256", "--no-sync"], check=True, capture_output=True, timeout=120)
        subprocess.run([*as_user, str(bindir / "pg_ctl"), "-D", str(data), "-l", str(root / "server.log"), "-w",
                        "-t", "60", "-o", f"-p {port} -k {root} -c listen_addresses=127.0.0.1 -c fsync=off",
                        "start"], check=True, capture_output=True, timeout=120)
        with psycopg.connect(host="127.0.0.1", port=port, user=USER, password=PASSWORD, dbname="postgres",
                             autocommit=True) as connection:
            connection.execute("CREATE DATABASE optuna")
        yield f"postgresql://{USER}:{PASSWORD}@127.0.0.1:{port}/optuna"
    finally:
        subprocess.run([*as_user, str(bindir / "pg_ctl"), "-D", str(data), "-m", "immediate", "-w", "stop"],
                       capture_output=True, timeout=60)
        shutil.rmtree(root, ignore_errors=True)


def test_two_workers_share_one_postgres_study_and_the_trial_cap(postgres_url, tmp_path):
    args = [sys.executable, "-m", "rl_scratch.tune", "--env", "GridWorld", "--agent", "qlearning", "--steps", "1500",
            "--trials", "5", "--study", "shared"]
    machine_a = subprocess.Popen([*args, "--storage", postgres_url, "--out", str(tmp_path / "a")], cwd=tmp_path,
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    env_b = {**os.environ, "RL_SCRATCH_TUNE_STORAGE": postgres_url}
    machine_b = subprocess.Popen([*args, "--out", str(tmp_path / "b")], cwd=tmp_path, env=env_b,
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    outputs = [p.communicate(timeout=300) for p in (machine_a, machine_b)]
    assert machine_a.returncode == 0 and machine_b.returncode == 0, outputs

    study = optuna.load_study(study_name="shared", storage=postgres_url.replace("postgresql://",
                                                                                "postgresql+psycopg://"))
    ran = [t for t in study.trials if not t.user_attrs.get("over_cap")]
    assert len(ran) == 5 and all(t.state.name in ("COMPLETE", "PRUNED") for t in ran)  # 5 in total, not 5 each
    assert {t.user_attrs["worker"]["pid"] for t in ran} == {machine_a.pid, machine_b.pid}  # both took part
    for folder in ("a", "b"):  # each machine's report shows the whole study (as it was when that one stopped)
        report = (tmp_path / folder / "report.md").read_text()
        assert sum(report.count(f"| {state} |") for state in ("complete", "pruned", "running")) == 5
        assert "postgresql://tuner:***@127.0.0.1" in report

    written = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert len(written) > 20
    for path in written:
        assert PASSWORD.encode() not in path.read_bytes(), path
    for out, err in outputs:
        assert PASSWORD not in out and PASSWORD not in err
