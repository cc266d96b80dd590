"""`salonbot local` as a process, on embedded PostgreSQL: it starts, keeps its data
between runs, and a signal (SIGTERM, or Ctrl-C's SIGINT) stops it leaving nothing behind;
a second stack on the same state, or a busy port, is refused in one line before anything
starts."""

from __future__ import annotations

import shutil
import signal
import socket
import subprocess
from pathlib import Path

import psycopg
import pytest

from tests.conftest import DEMO_SALON_FILE, DEMO_SALON_ID
from tests.e2e.stack_process import SALONBOT, StackProcess
from tests.integration.test_local_stack import project

pytestmark = pytest.mark.integration


def test_start_stop_and_restart_on_kept_data(tmp_path: Path) -> None:
    root = project(tmp_path / "project")
    (root / "demo").mkdir()
    shutil.copy(DEMO_SALON_FILE, root / "demo" / "salon.yaml")
    state_dir = tmp_path / "state"
    fake_send_api = {"WHATSAPP_API_BASE_URL": "http://127.0.0.1:9"}

    # Given a stack started as `make dev` starts it, on embedded PostgreSQL
    first = StackProcess(state_dir, cwd=root, extra_env=fake_send_api)
    addresses = first.start()
    assert first.postmaster_pid is not None, first.output()
    assert (state_dir / "database_url").read_text().strip() == addresses.database_url
    with psycopg.connect(addresses.database_url) as conn:
        conn.execute("CREATE TABLE kept (x int)")
    assert "salonbot local stack is ready" in first.output()
    assert str(DEMO_SALON_ID) in first.output()

    # When it gets SIGTERM
    assert first.stop(signal.SIGTERM) == 0, first.output()
    # Then no process, port or state file is left
    assert first.leftovers() == [], first.output()

    # And a second run (stopped with Ctrl-C's SIGINT) finds the data of the first
    second = StackProcess(state_dir, cwd=root, extra_env=fake_send_api)
    again = second.start()
    with psycopg.connect(again.database_url) as conn:
        assert conn.execute("SELECT count(*) FROM kept").fetchone() == (0,)
        salons = conn.execute("SELECT count(*) FROM salons").fetchone()
    assert salons == (1,)
    assert second.stop(signal.SIGINT) == 0, second.output()
    assert second.leftovers() == [], second.output()


def test_a_second_stack_on_the_same_state_is_refused(tmp_path: Path) -> None:
    root = project(tmp_path / "project")
    state_dir = tmp_path / "state"
    env = {"WHATSAPP_API_BASE_URL": "http://127.0.0.1:9"}
    running = StackProcess(state_dir, cwd=root, extra_env=env, args=("--salon-file", ""))
    running.start()
    try:
        second = StackProcess(state_dir, cwd=root, extra_env=env, args=("--salon-file", ""))
        with pytest.raises(RuntimeError, match="already running"):
            second.start()
        # in one line, with what to do, and no traceback
        assert second.process is not None and second.process.returncode == 1
        said = second.output().splitlines()
        assert said[0].startswith("starting salonbot locally")
        (error,) = said[1:]
        assert error.startswith("error: a local stack is already running") and "stop it" in error
    finally:
        assert running.stop() == 0
    assert running.leftovers() == []


def test_a_busy_port_is_said_in_one_line_before_anything_starts(tmp_path: Path) -> None:
    root = project(tmp_path / "project")
    state_dir = tmp_path / "state"
    with socket.socket() as taken:
        # Given a port another program listens on
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]

        # When the stack is started on it
        result = subprocess.run(
            [str(SALONBOT), "local", "--port", str(port)],
            cwd=root,
            env=StackProcess(state_dir).environment(),
            capture_output=True,
            text=True,
            timeout=120,
        )

    # Then it exits non-zero with one line naming the port and what to do
    assert result.returncode != 0
    assert "Traceback" not in result.stdout + result.stderr, result.stderr
    (error,) = result.stderr.splitlines()
    assert error.startswith(f"error: port {port} on 127.0.0.1 is already in use"), error
    assert "make dev PORT=" in error and "--port" in error
    # And neither PostgreSQL nor moto was started for nothing
    assert "PostgreSQL" not in result.stdout and "AWS resources" not in result.stdout
    assert not (state_dir / "pgdata").exists()
