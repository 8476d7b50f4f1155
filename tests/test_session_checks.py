"""The test session itself: without PostgreSQL it stops before any test, in one line saying how
to start it (tests/conftest.py), on xdist's workers as without them."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.processes import free_port

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize("workers", ["4", "0"])
def test_a_session_without_postgresql_stops_first_in_one_line(workers: str) -> None:
    closed = free_port()  # nothing listens there
    env = {**os.environ, "SWITCHBOARD_TEST_POSTGRES_URL": f"postgresql://postgres@127.0.0.1:{closed}/postgres"}
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-n", workers, "-p", "no:cacheprovider", "tests/test_layering.py"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 1
    assert done.stdout == ""
    assert done.stderr == (
        f"Exit: PostgreSQL at 127.0.0.1:{closed} is not reachable (connection refused); the tests need it: "
        "start it with `pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start`, "
        "or set SWITCHBOARD_TEST_POSTGRES_URL to the URL of one (postgresql://user@host:port/postgres)\n"
    )
