"""What a connection sends, from libpq's protocol trace: every statement (psycopg's own
BEGIN, SAVEPOINT and COMMIT included) and whether a transaction was open when it went.

Two checks on it. `pinning` lists the statements that make RDS Proxy pin a client to one
server connection for the rest of its session, after the RDS user guide's list for
PostgreSQL ("Avoiding pinning an RDS Proxy"): SET of a session parameter (SET LOCAL ends
with its transaction), set_config(..., false), PREPARE / EXECUTE / DEALLOCATE / DISCARD
and named protocol-level prepared statements, temporary tables, cursors, LISTEN, LOAD,
sequence functions called by name, and session-level advisory locks (the
transaction-level `pg_advisory_xact_lock` family does not pin). `untimed` lists the
statements that ran without the per-transaction timeouts: outside a transaction, or in
one that did not start with `SET LOCAL statement_timeout`."""

from __future__ import annotations

import os
import re
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from psycopg.pq import Trace

from salonbot.db.connection import Connection

_MESSAGE = re.compile(r"^(?P<side>[FB])\t\d+\t(?P<kind>\w+)(?:\t (?P<rest>.*))?$", re.DOTALL)
_QUERY = re.compile(r'^"(?P<sql>.*)"$', re.DOTALL)
_PARSE = re.compile(r'^"(?P<name>[^"]*)" "(?P<sql>.*)" \d+(?: \S+)*$', re.DOTALL)

_PINS = {
    "a session SET": re.compile(r"^\s*(SET|RESET)\s+(?!LOCAL\b)", re.I),
    "set_config for the session": re.compile(r"set_config\s*\([^)]*,\s*false\s*\)", re.I),
    "a prepared statement": re.compile(r"^\s*(PREPARE|EXECUTE|DEALLOCATE|DISCARD)\b", re.I),
    "a temporary table": re.compile(r"\bCREATE\s+(TEMP|TEMPORARY)\b", re.I),
    "a cursor": re.compile(r"\bDECLARE\b.*\bCURSOR\b", re.I | re.DOTALL),
    "LISTEN or LOAD": re.compile(r"^\s*(LISTEN|LOAD)\b", re.I),
    "a sequence function": re.compile(r"\b(nextval|setval|currval|lastval)\s*\(", re.I),
    "a session advisory lock": re.compile(
        r"\bpg_(try_)?advisory_(lock|unlock)(_shared|_all)?\s*\(", re.I
    ),
}


@dataclass(frozen=True)
class Sent:
    sql: str
    in_transaction: bool  # a transaction was open on the server when it was sent
    prepared_as: str = ""  # the name of a protocol-level prepared statement


def _statements(sql: str) -> list[str]:
    """The statements of a simple-protocol query (no statement here has a ';' inside)."""
    return [part.strip() for part in sql.split(";") if part.strip()]


def parse_trace(text: str) -> list[Sent]:
    messages: list[list[str]] = []
    for line in text.splitlines():
        if re.match(r"^[FB]\t\d+\t", line):
            messages.append([line])
        elif messages:
            messages[-1].append(line)
    sent: list[Sent] = []
    in_transaction = False
    for lines in messages:
        match = _MESSAGE.match("\n".join(lines))
        if match is None:
            continue
        kind, rest = match["kind"], match["rest"] or ""
        if match["side"] == "B":
            if kind == "ReadyForQuery":
                in_transaction = rest.strip() != "I"
            continue
        if kind == "Query" and (query := _QUERY.match(rest)):
            sent += [Sent(part, in_transaction) for part in _statements(query["sql"])]
        elif kind == "Parse" and (parse := _PARSE.match(rest)):
            sent.append(Sent(parse["sql"].strip(), in_transaction, parse["name"]))
    return sent


@contextmanager
def recorded(conn: Connection) -> Iterator[list[Sent]]:
    """The statements `conn` sends inside the block, once the block is over."""
    fd, path = tempfile.mkstemp(prefix="salonbot-wire-")
    sent: list[Sent] = []
    conn.pgconn.trace(fd)
    conn.pgconn.set_trace_flags(Trace.SUPPRESS_TIMESTAMPS | Trace.REGRESS_MODE)
    try:
        yield sent
    finally:
        conn.pgconn.untrace()  # flushes the trace; libpq writes no more to it
        os.close(fd)
        with open(path, encoding="utf-8", errors="replace") as trace:
            sent += parse_trace(trace.read())
        os.unlink(path)


def pinning(sent: list[Sent]) -> list[str]:
    found = [f"a named prepared statement: {s.sql}" for s in sent if s.prepared_as]
    for statement in sent:
        found += [f"{why}: {statement.sql}" for why, p in _PINS.items() if p.search(statement.sql)]
    return found


def untimed(sent: list[Sent]) -> list[str]:
    found: list[str] = []
    timed = False
    previous_began = False
    for statement in sent:
        words = statement.sql.split()
        first = words[0].upper() if words else ""
        if not statement.in_transaction:
            if first != "BEGIN":
                found.append(f"outside a transaction: {statement.sql}")
            timed, previous_began = False, first == "BEGIN"
            continue
        if previous_began:
            previous_began = False
            timed = statement.sql.upper().startswith("SET LOCAL STATEMENT_TIMEOUT")
            if timed:
                continue
        if not timed and first not in ("COMMIT", "ROLLBACK"):
            found.append(f"in a transaction without the timeouts: {statement.sql}")
    return found
