"""`make bench` keeps working: every figure runs end to end (a few calls; no timing is asserted)."""

import os
import subprocess
import sys
from pathlib import Path

import psycopg2
import pytest

from tests.conftest import require_service

ROOT = Path(__file__).resolve().parents[1]


def postgres_reachable() -> bool:
    try:
        psycopg2.connect(host="127.0.0.1", port=5432, user="postgres", dbname="postgres", connect_timeout=3).close()
    except psycopg2.OperationalError:
        return False
    return True


@pytest.mark.integration
def test_every_benchmark_figure_runs(tmp_path):
    require_service(postgres_reachable(), "PostgreSQL is not reachable on 127.0.0.1:5432")
    # The plugin clone figure serves its repository through OpenSSH's sshd, as the integration tests do.
    require_service(
        os.path.exists("/usr/sbin/sshd"), "OpenSSH's server is not installed (apt-get install openssh-server)"
    )
    env = {**os.environ, "BENCH_DATABASE_URL": "postgres://postgres@127.0.0.1:5432/latchkey_bench_smoke"}
    result = subprocess.run(
        [sys.executable, "-m", "benchmarks", "-n", "20"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stderr[-2000:]
    for figure in (
        "reveal (the one door)",
        "reveal, P=1",
        "reveal, P=16",
        "create",
        "list 100 (API)",
        "list 1,000 (API)",
        "list 1,000 (guardian generic tables)",
        "credential tests",
        "rotation",
        "plugin clone over HTTPS",
        "plugin clone over SSH",
        "expiry sweep 1,000 due of 100,000",
    ):
        assert figure in result.stdout
    assert "met their goal" in result.stdout
