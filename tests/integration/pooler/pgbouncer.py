"""PgBouncer in transaction-pooling mode in front of the test PostgreSQL: what RDS Proxy
does to salonbot's connections, on this machine.

Like RDS Proxy it refuses startup parameters it does not know (`options` among them:
`ignore_startup_parameters` is left empty on purpose), and each transaction of a client
may run on another server connection (`server_round_robin`, and more server connections
than one client needs), so session state set in one transaction is not there in the
next. PgBouncer does not pin: what would pin RDS Proxy is checked on the statements
themselves (`tests.integration.pooler.wire`)."""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import psycopg
from psycopg.conninfo import conninfo_to_dict, make_conninfo

BINARY = "/usr/sbin/pgbouncer"  # where Debian's package puts it (not on a user's PATH)
POOL_SIZE = 6
START_TIMEOUT_S = 15.0


def pgbouncer_binary() -> str:
    found = shutil.which("pgbouncer") or (BINARY if os.access(BINARY, os.X_OK) else None)
    if found is None:
        raise RuntimeError("pgbouncer is not installed: `make install` installs it")
    return found


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _unprivileged_user(host: str) -> str:
    """Who pgbouncer runs as when started by root (it refuses to run as root): the owner
    of the server's socket directory, who can reach the socket, else nobody."""
    if host.startswith("/") and os.path.isdir(host):
        owner = pwd.getpwuid(os.stat(host).st_uid).pw_name
        if owner != "root":
            return owner
    return "nobody"


def _quote(value: str) -> str:
    return '"' + value.replace('"', '""') + '"'


@dataclass
class PgBouncer:
    """A running PgBouncer; `url(dbname)` reaches that database through it."""

    server_url: str
    port: int
    folder: Path
    process: subprocess.Popen[bytes]
    log: IO[bytes]

    @classmethod
    def start(cls, server_url: str) -> PgBouncer:
        server = conninfo_to_dict(server_url)
        user = str(server.get("user") or "postgres")
        folder = Path(tempfile.mkdtemp(prefix="salonbot-test-pgbouncer-"))
        folder.chmod(0o755)  # pgbouncer drops root privileges (below) and reads here
        port = _free_port()
        target = f"host={server.get('host') or '127.0.0.1'} port={server.get('port') or 5432}"
        (folder / "userlist.txt").write_text(
            f"{_quote(user)} {_quote(str(server.get('password') or ''))}\n"
        )
        (folder / "pgbouncer.ini").write_text(
            f"""[databases]
* = {target}

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = {port}
unix_socket_dir =
auth_type = trust
auth_file = {folder / "userlist.txt"}
pool_mode = transaction
server_round_robin = 1
default_pool_size = {POOL_SIZE}
min_pool_size = 0
max_client_conn = 200
query_wait_timeout = 30
"""
        )
        for name in ("userlist.txt", "pgbouncer.ini"):
            (folder / name).chmod(0o644)
        command = [pgbouncer_binary()]
        if os.geteuid() == 0:
            command += ["-u", _unprivileged_user(str(server.get("host") or ""))]
        log = (folder / "pgbouncer.log").open("wb")
        process = subprocess.Popen(
            [*command, str(folder / "pgbouncer.ini")], stdout=log, stderr=subprocess.STDOUT
        )
        bouncer = cls(server_url, port, folder, process, log)
        bouncer._wait_until_ready(user, str(server.get("dbname") or user))
        return bouncer

    def url(self, dbname: str | None = None) -> str:
        server = conninfo_to_dict(self.server_url)
        return make_conninfo(
            host="127.0.0.1",
            port=str(self.port),
            user=str(server.get("user") or "postgres"),
            dbname=dbname or str(server.get("dbname")),
        )

    def _wait_until_ready(self, user: str, dbname: str) -> None:
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            if self.process.poll() is not None:
                raise RuntimeError(f"pgbouncer exited: {self.log_text()}")
            try:
                with psycopg.connect(self.url(dbname), connect_timeout=2) as conn:
                    conn.execute("SELECT 1")
                return
            except psycopg.OperationalError:
                if time.monotonic() > deadline:
                    log = self.log_text()
                    self.stop()
                    raise RuntimeError(f"pgbouncer did not start: {log}") from None
                time.sleep(0.1)

    def log_text(self) -> str:
        if not self.log.closed:
            self.log.flush()
        return (self.folder / "pgbouncer.log").read_text(errors="replace")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.log.close()
        shutil.rmtree(self.folder, ignore_errors=True)
