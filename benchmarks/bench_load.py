"""Load through the local stack (loopback only, bounded in count and time).

- A burst of signed webhook POSTs: 200 customers of 20 salons (the demo salon and 19
  copies with their own ids and WhatsApp numbers), 10 numbered texts each, sent from a
  thread pool; each customer sends its next message once the previous one was acked, as
  a phone does, and a failed delivery is repeated as Meta does (counted).
- Reported: webhook latency (p50/p99, client side), the intake rate, and end-to-end
  throughput up to the last reply at the fake send API.
- Verified: every message processed exactly once (one `inbound_messages` row, one user
  `ai_messages` row, every reply item sent once and present once at the send API, no
  reply the ledger does not know), per-customer order kept (the user messages of each
  conversation stored in sending order), and how many were throttled (the per-customer
  limit is on locally: the stack sets RATE_LIMIT_TABLE from the template).
- 50 customers racing for the same 5 slots through the booking store, each on its own
  connection: exactly 5 bookings, one per slot.

Run: `python -m benchmarks load` (about two minutes on two cores)."""

from __future__ import annotations

import datetime as dt
import statistics
import tempfile
import time
import uuid
from collections import Counter, defaultdict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from benchmarks.harness import Row
from salonbot_dev.fakes.customer import CustomerPhone
from tests.e2e.stack_process import REPO_ROOT, StackProcess
from tests.integration.racing import race

AREA = "load"
SALONS = 20
CUSTOMERS_PER_SALON = 10
MESSAGES_PER_CUSTOMER = 10
WORKERS = 32
# Bounds: the whole burst must be processed within this time, or the run fails.
PROCESS_LIMIT_S = 900.0
RACERS = 50
RACE_SLOTS = 5
POST_ATTEMPTS = 5
FIRST_NUMBER_ID = 100000000000001  # the demo salon's whatsapp_phone_number_id


@dataclass
class Sent:
    customer: str  # wa_id
    salon_index: int
    order: list[str] = field(default_factory=list)  # wamids in sending order
    latencies_s: list[float] = field(default_factory=list)
    statuses: list[int] = field(default_factory=list)
    retries: int = 0


# -- stack and salons --------------------------------------------------------------------


def import_salons(database_url: str, count: int) -> list[tuple[str, str]]:
    """(salon id, whatsapp_phone_number_id) of the demo salon and `count - 1` copies of
    it with their own ids and numbers (the demo salon itself is already imported)."""
    from salonbot.booking.importer import import_salon
    from salonbot.booking.salon_file import load_salon_file
    from salonbot.db.connection import connect

    demo = load_salon_file(REPO_ROOT / "demo" / "salon.yaml")
    salons = [(str(demo.id), str(demo.whatsapp_phone_number_id))]
    with connect(database_url) as conn:
        for index in range(1, count):
            number = str(FIRST_NUMBER_ID + index)
            copy = demo.model_copy(
                update={
                    "id": uuid.UUID(f"3f0c1a52-0000-4000-8000-1{index:011d}"),
                    "name": f"{demo.name} {index + 1}",
                    "whatsapp_phone_number_id": number,
                }
            )
            result = import_salon(conn, copy)
            salons.append((str(result.salon_id), number))
    return salons


# -- the burst ---------------------------------------------------------------------------


def _customer_sends(phone: CustomerPhone, sent: Sent, messages: int) -> None:
    for number in range(1, messages + 1):
        payload = phone.text_payload(f"Сообщение {number}: какие у вас цены?")
        wamid = payload["entry"][0]["changes"][0]["value"]["messages"][0]["id"]
        began = time.perf_counter()
        # As Meta does: a failed delivery (connection error or non-2xx) is sent again.
        for attempt in range(1, POST_ATTEMPTS + 1):
            try:
                status = phone.post(payload)
            except OSError:
                status = 0
            if 200 <= status < 300 or attempt == POST_ATTEMPTS:
                break
            sent.retries += 1
            time.sleep(0.2 * attempt)
        sent.latencies_s.append(time.perf_counter() - began)
        sent.statuses.append(status)
        sent.order.append(wamid)


def burst(
    gateway_url: str,
    app_secret: str,
    salons: list[tuple[str, str]],
    customers_per_salon: int,
    messages: int,
    workers: int,
) -> tuple[list[Sent], float, float]:
    """Send; returns what was sent, the epoch time of the first POST and the burst's
    wall-clock duration."""
    customers = []
    for salon_index, (_, number_id) in enumerate(salons):
        for c in range(customers_per_salon):
            wa_id = f"7991{salon_index:03d}{c:04d}"
            phone = CustomerPhone(gateway_url, app_secret, number_id, f"+{wa_id}")
            customers.append((phone, Sent(wa_id, salon_index)))
    started_epoch = time.time()
    began = time.perf_counter()
    with ThreadPoolExecutor(max_workers=workers) as pool:
        futures = [pool.submit(_customer_sends, p, s, messages) for p, s in customers]
        for future in futures:
            future.result()
    return [s for _, s in customers], started_epoch, time.perf_counter() - began


def wait_processed(database_url: str, wamids: list[str], limit_s: float) -> float:
    """Seconds until every message's reply is settled (sent, failed or none)."""
    from salonbot.db.connection import connect

    began = time.perf_counter()
    with connect(database_url) as conn:
        conn.autocommit = True
        while True:
            row = conn.execute(
                """SELECT count(*) AS n FROM inbound_messages
                    WHERE message_id = ANY(%s) AND reply_status <> 'pending'""",
                (wamids,),
            ).fetchone()
            done = int(row["n"]) if row else 0
            if done >= len(wamids):
                return time.perf_counter() - began
            if time.perf_counter() - began > limit_s:
                raise TimeoutError(f"only {done} of {len(wamids)} processed in {limit_s:.0f} s")
            time.sleep(0.25)


# -- verification ------------------------------------------------------------------------


@dataclass
class Verdicts:
    messages: int
    inbound_rows: int
    user_rows: int
    duplicate_user_rows: int
    reply_status: Counter[str]
    reply_items: int
    items_sent: int
    at_send_api: int
    unknown_at_send_api: int
    items_missing_at_send_api: int
    repeated_at_send_api: int
    out_of_order: list[str]
    throttled: int
    last_reply_epoch: float

    @property
    def exactly_once(self) -> bool:
        return (
            self.inbound_rows == self.messages
            and self.user_rows == self.messages
            and self.duplicate_user_rows == 0
            and self.items_sent == self.reply_items
            and self.items_missing_at_send_api == 0
            and self.repeated_at_send_api == 0
            and self.unknown_at_send_api == 0
            and self.reply_status.get("sent", 0) + self.reply_status.get("none", 0) == self.messages
        )


def verify(database_url: str, whatsapp_url: str, sent: list[Sent]) -> Verdicts:
    import json
    import urllib.request

    from salonbot.db.connection import connect

    wamids = [w for s in sent for w in s.order]
    with connect(database_url) as conn:
        inbound = conn.execute(
            """SELECT message_id, reply_status, reply,
                      extract(epoch FROM sent_at)::float8 AS sent_epoch
                 FROM inbound_messages WHERE message_id = ANY(%s)""",
            (wamids,),
        ).fetchall()
        users = conn.execute(
            """SELECT conversation_id, external_id, content FROM ai_messages
                WHERE role = 'user' AND external_id = ANY(%s) ORDER BY id""",
            (wamids,),
        ).fetchall()
        conn.rollback()
    with urllib.request.urlopen(f"{whatsapp_url}/_messages", timeout=60) as response:
        at_api = json.load(response)["messages"]

    api_ids = Counter(str(m["id"]) for m in at_api)
    item_ids: list[str] = []
    throttled = 0
    for row in inbound:
        for item in row["reply"] or []:
            if item.get("state") == "sent" and item.get("id"):
                item_ids.append(str(item["id"]))
        if not row["reply"]:
            throttled += 1
    reply_items = sum(len(row["reply"] or []) for row in inbound)
    known = set(item_ids)
    # Replies to these customers only (the stack may have talked to others before).
    customers = {s.customer for s in sent}
    ours_at_api = [m for m in at_api if m["to"] in customers]

    by_conversation: dict[str, list[str]] = defaultdict(list)
    for row in users:
        by_conversation[row["conversation_id"]].append(row["external_id"])
    out_of_order = []
    for s in sent:
        stored = next((ids for ids in by_conversation.values() if ids and ids[0] in s.order), [])
        if stored != s.order:
            out_of_order.append(s.customer)

    return Verdicts(
        messages=len(wamids),
        inbound_rows=len(inbound),
        user_rows=len({r["external_id"] for r in users}),
        duplicate_user_rows=len(users) - len({r["external_id"] for r in users}),
        reply_status=Counter(r["reply_status"] for r in inbound),
        reply_items=reply_items,
        items_sent=len(item_ids),
        at_send_api=len(ours_at_api),
        unknown_at_send_api=sum(1 for m in ours_at_api if m["id"] not in known),
        items_missing_at_send_api=sum(1 for i in item_ids if api_ids[i] == 0),
        repeated_at_send_api=sum(1 for i in item_ids if api_ids[i] > 1),
        out_of_order=out_of_order,
        throttled=throttled,
        last_reply_epoch=max((r["sent_epoch"] or 0.0) for r in inbound),
    )


# -- 50 customers for 5 slots ------------------------------------------------------------


def slot_race(database_url: str, salon_id: str, racers: int, slots: int) -> tuple[int, int, int]:
    """(bookings made, slots booked, SlotTaken refusals) when `racers` customers, each on
    its own connection, try to book one of `slots` free times of one master at once."""
    from salonbot.booking.availability import earliest_slots
    from salonbot.booking.catalog import load_salon
    from salonbot.booking.store import create_booking
    from salonbot.db.connection import connect
    from salonbot.errors import SlotTaken

    with connect(database_url) as conn:
        salon = load_salon(conn, uuid.UUID(salon_id))
        now = dt.datetime.now(dt.UTC) + dt.timedelta(days=7)
        free = earliest_slots(conn, salon, "manicure", "anna", limit=50, now=now)
        conn.rollback()
    # Slots that do not overlap each other (a manicure blocks 70 minutes).
    chosen: list[dt.datetime] = []
    for slot in free:
        if all(abs((slot.starts_at - c).total_seconds()) >= 90 * 60 for c in chosen):
            chosen.append(slot.starts_at)
        if len(chosen) == slots:
            break
    if len(chosen) < slots:
        raise RuntimeError(f"only {len(chosen)} separate free slots for the race")

    def attempt(conn: Any, racers_salon: Any, index: int) -> Any:
        return create_booking(
            conn,
            racers_salon,
            phone=f"+7992{index:07d}",
            service_code="manicure",
            master_code="anna",
            starts_at=chosen[index % slots],
            now=now,
        )

    results = race(database_url, attempt, racers, salon_id=uuid.UUID(salon_id))
    unexpected = [r for r in results if isinstance(r, Exception) and not isinstance(r, SlotTaken)]
    if unexpected:
        raise unexpected[0]
    with connect(database_url) as conn:
        rows = conn.execute(
            """SELECT starts_at FROM bookings b JOIN masters m ON m.id = b.master_id
                WHERE b.salon_id = %s AND m.code = 'anna' AND b.status = 'confirmed'
                  AND b.starts_at = ANY(%s)""",
            (salon_id, chosen),
        ).fetchall()
    made = sum(1 for r in results if r is not None and not isinstance(r, Exception))
    refused = sum(1 for r in results if isinstance(r, SlotTaken))
    if made != len(rows):
        raise AssertionError(f"{made} bookings reported but {len(rows)} in the database")
    return made, len({r["starts_at"] for r in rows}), refused


# -- the run -----------------------------------------------------------------------------


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def run(
    salons: int = SALONS,
    customers_per_salon: int = CUSTOMERS_PER_SALON,
    messages: int = MESSAGES_PER_CUSTOMER,
    workers: int = WORKERS,
) -> list[Row]:
    state_dir = Path(tempfile.mkdtemp(prefix="salonbot-bench-load-")) / "state"
    stack = StackProcess(state_dir, args=("--no-schedules",))
    addresses = stack.start()
    try:
        imported = import_salons(addresses.database_url, salons)
        sent, started_epoch, burst_s = burst(
            addresses.gateway_url,
            addresses.app_secret,
            imported,
            customers_per_salon,
            messages,
            workers,
        )
        wamids = [w for s in sent for w in s.order]
        statuses = Counter(code for s in sent for code in s.statuses)
        wait_processed(addresses.database_url, wamids, PROCESS_LIMIT_S)
        verdicts = verify(addresses.database_url, addresses.whatsapp_url, sent)
        made, slots_booked, refused = slot_race(
            addresses.database_url, imported[0][0], RACERS, RACE_SLOTS
        )
    finally:
        stack.stop()

    latencies_ms = [x * 1000 for s in sent for x in s.latencies_s]
    total = len(wamids)
    end_to_end_s = verdicts.last_reply_epoch - started_epoch
    shape = (
        f"{total} signed POSTs: {len(imported)} salons x {customers_per_salon} customers x "
        f"{messages} texts, {workers} client threads; one stack process on loopback"
    )
    exactly_once_note = (
        f"inbound_messages {verdicts.inbound_rows}/{total}, user ai_messages "
        f"{verdicts.user_rows}/{total} ({verdicts.duplicate_user_rows} repeated), reply items "
        f"sent {verdicts.items_sent}/{verdicts.reply_items}, at the send API "
        f"{verdicts.at_send_api} ({verdicts.repeated_at_send_api} repeated, "
        f"{verdicts.items_missing_at_send_api} missing, {verdicts.unknown_at_send_api} unknown); "
        f"reply status {dict(sorted(verdicts.reply_status.items()))}"
    )
    return [
        Row(
            AREA,
            "webhook latency p50 / p99 under the burst",
            f"{statistics.median(latencies_ms):.1f} / {_percentile(latencies_ms, 0.99):.1f} ms",
            note=(
                f"{shape}; final HTTP statuses {dict(sorted(statuses.items()))}, "
                f"{sum(s.retries for s in sent)} deliveries repeated after an error"
            ),
        ),
        Row(
            AREA,
            "webhook intake rate",
            f"{total / burst_s:.0f} msg/s",
            note=f"{total} acked in {burst_s:.1f} s",
        ),
        Row(
            AREA,
            "end-to-end throughput (first POST to last reply)",
            f"{total / end_to_end_s:.1f} msg/s",
            note=f"{total} messages in {end_to_end_s:.1f} s; guided flow, no model",
        ),
        Row(
            AREA,
            "every message processed exactly once",
            "yes" if verdicts.exactly_once else "NO",
            "yes",
            exactly_once_note,
        ),
        Row(
            AREA,
            "per-customer order kept",
            "yes" if not verdicts.out_of_order else f"NO ({len(verdicts.out_of_order)} customers)",
            "yes",
            f"{len(sent)} conversations: user messages stored in sending order",
        ),
        Row(
            AREA,
            "messages throttled (per-customer limit on)",
            str(verdicts.throttled),
            "0",
            f"{messages} per customer against the limit of 10 per fixed 60 s window",
        ),
        Row(
            AREA,
            f"{RACERS} customers racing for the same {RACE_SLOTS} slots",
            f"{made} bookings",
            f"{RACE_SLOTS}",
            f"one master, {slots_booked} distinct slots booked, {refused} told SlotTaken; "
            "each racer on its own connection",
        ),
    ]


if __name__ == "__main__":
    import sys

    from benchmarks.__main__ import text_table

    args = [int(a) for a in sys.argv[1:]]
    print(text_table(run(*args)))
