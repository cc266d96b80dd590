"""Run `salonbot local` as a subprocess exactly as `make dev` does (on free ports, in a
state folder of its own), wait until it is ready, stop it with a signal, and list what
it left behind. Used by the end-to-end tests and `benchmarks/bench_local.py`."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from salonbot_dev.local.state import StackAddresses

REPO_ROOT = Path(__file__).resolve().parents[2]
SALONBOT = Path(sys.executable).parent / "salonbot"
# Settings that would point the stack elsewhere than its embedded defaults.
OUTSIDE_SETTINGS = (
    "DATABASE_URL",
    "AWS_ENDPOINT_URL",
    "WHATSAPP_API_BASE_URL",
    "OPENAI_API_KEY",
    "OPENAI_BASE_URL",
    "LOG_LEVEL",
)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def port_open(url: str) -> bool:
    host, _, port = url.removeprefix("http://").split("/")[0].partition(":")
    try:
        with socket.create_connection((host, int(port)), timeout=1):
            return True
    except OSError:
        return False


def process_alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"  # a zombie has exited


def processes_of(session_or_parent: int) -> list[int]:
    """Live processes in that session or whose parent is that pid."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except (FileNotFoundError, ProcessLookupError):
            continue
        state, parent, session = fields[0], int(fields[1]), int(fields[3])
        if state != "Z" and session_or_parent in (parent, session):
            found.append(int(entry.name))
    return found


@dataclass
class StackProcess:
    state_dir: Path
    port: int = field(default_factory=free_port)
    cwd: Path = REPO_ROOT
    extra_env: dict[str, str] = field(default_factory=dict)
    args: tuple[str, ...] = ()
    # Another way to run it (`make dev PORT=...`): then the stack is a child of `command`.
    command: tuple[str, ...] | None = None
    process: subprocess.Popen[bytes] | None = None
    addresses: StackAddresses | None = None
    postmaster_pid: int | None = None
    log_path: Path | None = None

    def environment(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if k not in OUTSIDE_SETTINGS}
        env["SALONBOT_LOCAL_DIR"] = str(self.state_dir)
        env["PYTHONUNBUFFERED"] = "1"
        env.update(self.extra_env)
        return env

    def start(self, timeout_s: float = 120.0) -> StackAddresses:
        """Start and wait until the gateway answers; returns the stack's addresses."""
        self.state_dir.mkdir(parents=True, exist_ok=True)
        self.log_path = self.state_dir / "stack.log"
        log = self.log_path.open("wb")
        command = self.command or (str(SALONBOT), "local", "--port", str(self.port), *self.args)
        self.process = subprocess.Popen(
            list(command),
            cwd=self.cwd,
            env=self.environment(),
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log.close()
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"salonbot local exited early:\n{self.output()}")
            stack_file = self.state_dir / "stack.json"
            if stack_file.exists():
                found = StackAddresses(**json.loads(stack_file.read_text()))
                if found.pid in (self.process.pid, *processes_of(self.process.pid)):
                    self.addresses = found
                if self.addresses is not None and self._ready():
                    self.postmaster_pid = self._postmaster_pid()
                    return self.addresses
            time.sleep(0.05)
        self.stop()
        raise TimeoutError(f"salonbot local not ready in {timeout_s} s:\n{self.output()}")

    def _ready(self) -> bool:
        assert self.addresses is not None
        try:
            with urllib.request.urlopen(
                f"{self.addresses.gateway_url}/_local/ready", timeout=2
            ) as response:
                return response.status == 200
        except OSError:
            return False

    def _postmaster_pid(self) -> int | None:
        pid_file = self.state_dir / "pgdata" / "postmaster.pid"
        if not pid_file.exists():
            return None
        return int(pid_file.read_text().split()[0])

    def output(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path else ""

    def stop(self, signum: int = signal.SIGTERM, timeout_s: float = 60.0) -> int:
        """Signal the stack and wait for it (and `command`) to exit; returns the exit code."""
        assert self.process is not None
        if self.process.poll() is None:
            stack_pid = self.addresses.pid if self.addresses else self.process.pid
            os.kill(stack_pid, signum)
        try:
            return self.process.wait(timeout_s)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            raise

    def leftovers(self) -> list[str]:
        """What a stopped stack left behind: processes, listening ports, state files."""
        assert self.process is not None
        found = [f"process {pid}" for pid in processes_of(self.process.pid)]
        if self.postmaster_pid is not None:
            if process_alive(self.postmaster_pid):
                found.append(f"postgres {self.postmaster_pid}")
            found += [f"postgres child {pid}" for pid in processes_of(self.postmaster_pid)]
        if self.addresses is not None:
            for url in (
                self.addresses.gateway_url,
                self.addresses.whatsapp_url,
                self.addresses.aws_endpoint_url,
            ):
                if url.startswith("http://127.0.0.1") and port_open(url):
                    found.append(f"listening {url}")
        for name in ("stack.json", "database_url"):
            if (self.state_dir / name).exists():
                found.append(f"file {name}")
        return found
