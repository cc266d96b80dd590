"""Cost guard and retention figures.

- reserve + reconcile latency of the DynamoDB cost guard against a local moto server
  over real HTTP (ThreadedMotoServer): the round trips and serialization the processor
  pays per model call, not DynamoDB's own service time (single-digit ms in a region);
- cleanup throughput on 100k AI messages in PostgreSQL, batches of the default size."""

from __future__ import annotations

import datetime as dt
import logging
import socket
import time
import uuid
from decimal import Decimal
from pathlib import Path

from benchmarks.harness import Row, Timing, fresh_database_url, measure

AREA = "cost"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _guard_rows() -> list[Row]:
    import boto3
    from moto.server import ThreadedMotoServer

    from salonbot.cost.guard import DynamoCostGuard

    port = _free_port()
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        client = boto3.client(
            "dynamodb",
            endpoint_url=f"http://127.0.0.1:{port}",
            region_name="eu-west-1",
            aws_access_key_id="bench",
            aws_secret_access_key="bench",
        )
        client.create_table(
            TableName="cost",
            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
            BillingMode="PAY_PER_REQUEST",
        )
        guard = DynamoCostGuard(
            "cost", global_daily_budget_usd=Decimal(1_000_000), shards=10, client=client
        )
        salons = [str(uuid.uuid4()) for _ in range(20)]
        samples: list[float] = []
        for n in range(320):
            started = time.perf_counter()
            r = guard.reserve(
                salon_id=salons[n % len(salons)],
                timezone="Europe/Moscow",
                daily_budget_usd=Decimal(1_000_000),
                amount_usd=Decimal("0.0021"),
                reservation_id=f"bench-{n}",
                customer_phone=f"+7900{n % 20:07d}",
                customer_daily_budget_usd=Decimal(100_000),
            )
            guard.reconcile(r, Decimal("0.0013"))
            elapsed = (time.perf_counter() - started) * 1000
            if n >= 20:  # warm-up
                samples.append(elapsed)
            # Untimed: moto copies the whole table on every transaction, so a growing
            # table would measure moto; DynamoDB's cost does not depend on table size.
            client.delete_item(TableName="cost", Key={"pk": {"S": f"resv#bench-{n}"}})
        timing = Timing(samples)
    finally:
        server.stop()
    note = (
        "moto server over loopback HTTP: 2 transactions (4 items each: reservation, "
        "customer, salon, global shard) per model call, 10 global shards, table kept at "
        "~50 items; mostly moto's own expression parsing and table copies"
    )
    return [
        Row(AREA, "reserve+reconcile median", f"{timing.median_ms:.1f} ms", "", note),
        Row(AREA, "reserve+reconcile p95", f"{timing.p95_ms:.1f} ms", "", note),
    ]


def _client_side_rows() -> list[Row]:
    """The same two calls with the service stubbed out: what the guard itself costs the
    processor (building, validating and serializing the transactions)."""
    import boto3
    from botocore.stub import Stubber

    from salonbot.cost.guard import DynamoCostGuard

    client = boto3.client(
        "dynamodb",
        region_name="eu-west-1",
        aws_access_key_id="bench",
        aws_secret_access_key="bench",
    )
    guard = DynamoCostGuard("cost", global_daily_budget_usd=Decimal(1000), client=client)
    counter = iter(range(10**9))
    with Stubber(client) as stub:
        # The day's shard count is read once per container and day, before the first call.
        stub.add_response("update_item", {"Attributes": {"shards": {"N": "10"}}})
        guard.day_shards(dt.datetime.now(dt.UTC).date())

        def reserve_and_reconcile() -> None:
            stub.add_response("transact_write_items", {})
            stub.add_response("transact_write_items", {})
            n = next(counter)
            r = guard.reserve(
                salon_id="s",
                timezone="Europe/Moscow",
                daily_budget_usd=Decimal(5),
                amount_usd=Decimal("0.0021"),
                reservation_id=f"stub-{n}",
                customer_phone="+79001234567",
                customer_daily_budget_usd=Decimal("0.5"),
            )
            guard.reconcile(r, Decimal("0.0013"))

        timing = measure(reserve_and_reconcile, repeat=500, warmup=20)
    note = "botocore Stubber instead of the service: the guard's own CPU per model call"
    return [
        Row(AREA, "reserve+reconcile client side median", f"{timing.median_ms:.2f} ms", "", note)
    ]


def _cleanup_rows() -> list[Row]:
    from salonbot.booking.importer import import_salon
    from salonbot.booking.salon_file import load_salon_file
    from salonbot.db.connection import connect
    from salonbot.retention import RetentionPolicy, purge_old_ai_data

    demo = Path(__file__).resolve().parent.parent / "demo" / "salon.yaml"
    now = dt.datetime.now(dt.UTC)
    with connect(fresh_database_url()) as conn:
        salon = import_salon(conn, load_salon_file(demo)).salon_id
        p = {"salon": salon, "now": now}
        conn.execute(
            """INSERT INTO ai_conversations (id, salon_id, phone_number, last_message_at)
               SELECT 'c' || g, %(salon)s, '+1' || g,
                      %(now)s - (CASE WHEN g <= 2000 THEN 40 ELSE 1 END) * interval '1 day'
               FROM generate_series(1, 4000) g""",
            p,
        )
        # 100k messages: 50k in idle conversations, 20k over 90 days old, 30k recent.
        conn.execute(
            """INSERT INTO ai_messages (conversation_id, salon_id, role, content, created_at)
               SELECT 'c' || (CASE WHEN g <= 50000 THEN g %% 2000 + 1
                                   ELSE 2001 + g %% 2000 END),
                      %(salon)s, 'user', repeat('x', 120),
                      %(now)s - (CASE WHEN g <= 50000 THEN 45
                                      WHEN g <= 70000 THEN 100 ELSE 2 END) * interval '1 day'
               FROM generate_series(1, 100000) g""",
            p,
        )
        conn.execute("ANALYZE ai_messages")
        conn.execute("ANALYZE ai_conversations")
        conn.commit()
        policy = RetentionPolicy()
        started = time.perf_counter()
        result = purge_old_ai_data(conn, policy, now=now)
        seconds = time.perf_counter() - started
    rows = result.messages_deleted + result.messages_cascaded + result.conversations_deleted
    note = (
        f"{rows:,} rows deleted of 104k in {result.batches} batches of up to "
        f"{policy.batch_size} ({seconds:.2f} s)"
    )
    return [Row(AREA, "cleanup throughput", f"{rows / seconds:,.0f} rows/s", "", note)]


def run() -> list[Row]:
    return _guard_rows() + _client_side_rows() + _cleanup_rows()
