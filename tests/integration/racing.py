"""Customers racing on their own connections, released at once: the concurrency tests and
the load benchmark share it."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable
from typing import Any

from salonbot.booking.catalog import Salon, load_salon
from salonbot.booking.store import Booking
from salonbot.db.connection import Connection, connect
from tests.integration.salon_builder import BERLIN_SALON_ID

ATTEMPTS = 24


def race(
    database_url: str,
    attempt: Callable[[Connection, Salon, int], Booking],
    attempts: int = ATTEMPTS,
    *,
    salon_id: uuid.UUID = BERLIN_SALON_ID,
    open_connection: Callable[[str], Connection] = connect,
) -> list[Any]:
    """Run `attempt` from `attempts` threads, each with its own connection, released at
    once. Returns each thread's Booking or exception."""
    connections = [open_connection(database_url) for _ in range(attempts)]
    salons = [load_salon(conn, salon_id) for conn in connections]
    for conn in connections:
        conn.commit()
    start = threading.Barrier(attempts)
    results: list[Any] = [None] * attempts

    def run(index: int) -> None:
        start.wait()
        try:
            results[index] = attempt(connections[index], salons[index], index)
        except Exception as exc:
            results[index] = exc

    threads = [threading.Thread(target=run, args=(i,)) for i in range(attempts)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for conn in connections:
        conn.close()
    return results
