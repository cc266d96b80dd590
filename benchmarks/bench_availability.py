"""Availability and booking on a busy salon: 20 masters, 30 services, 2,000 live bookings
over the next 30 days, one shared resource (two chairs, which s02 needs); visits of two and
three services back to back; then the same salon with the masters (and bookings) doubled, to
show that SQL round trips per query do not grow with the number of masters. Other salons'
bookings share the tables, as in production.

Run: `python -m benchmarks availability`."""

from __future__ import annotations

import datetime as dt
import random
import uuid
from typing import Any

from benchmarks.harness import Row, count_round_trips, fresh_database_url, measure

AREA = "availability"
OTHER_SALONS = 8  # other tenants sharing the tables, 2,000 bookings each
TIMEZONE = "Europe/Berlin"
SERVICES = 30
BOOKINGS_PER_MASTER = 100  # 20 masters -> 2,000 bookings
DAYS = 30
SEED = 20260302
RESOURCE_SERVICE = 2  # s02 needs one of the two chairs
CHAIRS = 2


def salon_file(salon_id: uuid.UUID, masters: int) -> dict[str, Any]:
    services = [
        {
            "code": f"s{i:02d}",
            "name": {"en": f"Service {i}", "ru": f"Услуга {i}"},
            "duration_minutes": 30 + 15 * (i % 6),
            "price": 1000 + 100 * i,
            "buffer_after_minutes": 10 * (i % 3),
            **({"resource": "chair"} if i == RESOURCE_SERVICE else {}),
        }
        for i in range(SERVICES)
    ]
    week = {
        day: ["09:00-13:00", "14:00-20:00"] for day in ("mon", "tue", "wed", "thu", "fri", "sat")
    }
    return {
        "id": str(salon_id),
        "name": f"Benchmark salon ({masters} masters)",
        "timezone": TIMEZONE,
        "language": "en",
        "currency": "EUR",
        "slot_step_minutes": 15,
        "min_notice_minutes": 60,
        "booking_horizon_days": DAYS,
        "resources": [{"code": "chair", "capacity": CHAIRS}],
        "services": services,
        "masters": [
            {
                "code": f"m{m:02d}",
                "name": f"Master {m}",
                # s00 is done by everyone (the "any master" worst case), the rest by 10 each
                "services": ["s00"] + [f"s{i:02d}" for i in range(1, SERVICES) if i % 2 == m % 2],
                "working_hours": week,
                "days_off": [],
            }
            for m in range(masters)
        ],
    }


def fill_bookings(conn: Any, salon: Any, now: dt.datetime, per_master: int) -> int:
    """Non-overlapping live bookings inside working hours over the next DAYS days,
    spread evenly over the masters, written in one COPY."""
    from salonbot.booking.availability import bookable_days, shift_windows

    rng = random.Random(SEED)
    step = salon.slot_step_minutes * 60
    days = [d for d in bookable_days(salon, now) if d > now.date()]
    rows = []
    for index, master in enumerate(salon.masters.values()):
        # One client per master: a master's bookings never overlap, so neither do the
        # client's (the database refuses one customer in two places at once).
        client = conn.execute(
            "INSERT INTO clients (salon_id, phone) VALUES (%s, %s) RETURNING id",
            (salon.id, f"+49151{index:08d}"),
        ).fetchone()["id"]
        # Lay out a day's worth of bookings with random gaps on every working day, then
        # keep a random `per_master` of them (a subset of non-overlapping ones still is).
        offered = [s for s in salon.services.values() if master.does(s)]
        candidates = []
        for day in days:
            for start, end in shift_windows(salon, master, day):
                t = start + rng.randrange(0, 4) * step
                while True:
                    service = rng.choice(offered)
                    duration = service.duration_minutes * 60
                    blocked = duration + service.buffer_after_minutes * 60
                    if t + duration > end:
                        break
                    candidates.append((t, duration, blocked, service))
                    t += blocked + rng.randrange(0, 6) * step
                    t = start + -(-(t - start) // step) * step  # back onto the slot grid
        if len(candidates) < per_master:
            raise RuntimeError(f"only {len(candidates)} bookings fit for {master.code}")
        for t, duration, blocked, service in rng.sample(candidates, per_master):
            rows.append(
                (
                    uuid.uuid4().hex[:10].upper(),
                    salon.id,
                    master.id,
                    service.id,
                    client,
                    dt.datetime.fromtimestamp(t, dt.UTC),
                    dt.datetime.fromtimestamp(t + duration, dt.UTC),
                    dt.datetime.fromtimestamp(t + blocked, dt.UTC),
                    service.price,
                )
            )
    with conn.cursor().copy(
        "COPY bookings (code, salon_id, master_id, service_id, client_id, starts_at, ends_at,"
        " blocked_until, price) FROM STDIN"
    ) as copy:
        for row in rows:
            copy.write_row(row)
    # The bookings became one-item visits; the chair's service holds a chair in each
    # (those that would put the chairs over capacity stay without one).
    service = salon.service(f"s{RESOURCE_SERVICE:02d}")
    items = conn.execute(
        "SELECT i.id, i.starts_at, i.ends_at FROM booking_items i JOIN bookings b"
        " ON b.id = i.booking_id WHERE b.salon_id = %s AND i.service_id = %s ORDER BY i.id",
        (salon.id, service.id),
    ).fetchall()
    seated: list[Any] = []
    for item in items:
        inside = [
            o
            for o in seated
            if o["starts_at"] < item["ends_at"] and item["starts_at"] < o["ends_at"]
        ]
        points = [item["starts_at"]] + [
            o["starts_at"] for o in inside if o["starts_at"] > item["starts_at"]
        ]
        if all(
            sum(1 for o in inside if o["starts_at"] <= t < o["ends_at"]) < CHAIRS for t in points
        ):
            seated.append(item)
    conn.execute(
        "UPDATE booking_items SET resource_id = %s WHERE id = ANY(%s)",
        (service.resource_id, [item["id"] for item in seated]),
    )
    conn.execute("ANALYZE bookings")
    conn.execute("ANALYZE booking_items")
    return len(rows)


def build(url: str, masters: int, now: dt.datetime) -> tuple[Any, int]:
    from salonbot.booking.catalog import load_salon
    from salonbot.booking.importer import import_salon
    from salonbot.booking.salon_file import validate_salon
    from salonbot.db.connection import connect

    salon_id = uuid.uuid4()
    with connect(url) as conn:
        import_salon(conn, validate_salon(salon_file(salon_id, masters)))
        salon = load_salon(conn, salon_id)
        count = fill_bookings(conn, salon, now, BOOKINGS_PER_MASTER)
        conn.commit()
    return salon, count


def ms(value: float) -> str:
    return f"{value:.2f}"


def measure_salon(
    url: str, salon: Any, label: str, now: dt.datetime
) -> tuple[list[Row], dict[str, int]]:
    from salonbot.booking.availability import earliest_slots, free_slots
    from salonbot.booking.store import cancel_booking, create_booking
    from salonbot.db.connection import connect

    tomorrow = now.date() + dt.timedelta(days=1)
    rows: list[Row] = []
    trips: dict[str, int] = {}
    with connect(url) as conn:
        conn.autocommit = True  # a read outside any transaction: no BEGIN in the count
        cases = [
            (
                "one day, any master",
                "< 5 ms",
                lambda: free_slots(conn, salon, "s00", tomorrow, now=now),
            ),
            (
                "one day, one master",
                "< 5 ms",
                lambda: free_slots(conn, salon, "s00", tomorrow, "m00", now=now),
            ),
            (
                "earliest 5 slots over 30 days, any master",
                "< 50 ms",
                lambda: earliest_slots(conn, salon, "s01", limit=5, days=DAYS, now=now),
            ),
            (
                "earliest start of a two-service visit (s02 with a chair, then s01) over "
                "30 days, any master per item",
                "< 10 ms",
                lambda: earliest_slots(conn, salon, ["s02", "s01"], limit=1, days=DAYS, now=now),
            ),
            (
                "one day, three-service visit (s00, s02 with a chair, s01), any master",
                "< 10 ms",
                lambda: free_slots(conn, salon, ["s00", "s02", "s01"], tomorrow, now=now),
            ),
            (
                "all free slots over 30 days, any master (full scan)",
                "< 50 ms",
                lambda: earliest_slots(conn, salon, "s00", limit=100_000, days=DAYS, now=now),
            ),
        ]
        for name, target, fn in cases:
            with count_round_trips(conn) as counted:
                found = fn()
            trips[name] = counted.count
            timing = measure(fn, repeat=100 if "full" in name else 300)
            rows.append(
                Row(
                    AREA,
                    f"{name}: median / p95 ms",
                    f"{ms(timing.median_ms)} / {ms(timing.p95_ms)}",
                    target,
                    f"{label}; {len(found)} slots; {counted.count} SQL round trip(s)",
                )
            )

        # Booking then cancelling free slots, each in a transaction of its own.
        conn.autocommit = False
        free = iter(free_slots(conn, salon, "s00", tomorrow, now=now))
        conn.commit()
        create_trips: list[int] = []

        def book_and_cancel() -> None:
            slot = next(free)
            with count_round_trips(conn) as counted:
                booking = create_booking(
                    conn,
                    salon,
                    phone="+4915111111111",
                    service_code="s00",
                    starts_at=slot.starts_at,
                    now=now,
                )
            create_trips.append(counted.count)
            cancel_booking(conn, salon, phone="+4915111111111", code=booking.code, now=now)

        timing = measure(book_and_cancel, repeat=30, warmup=2)
        rows.append(
            Row(
                AREA,
                "create + cancel a booking: median / p95 ms",
                f"{ms(timing.median_ms)} / {ms(timing.p95_ms)}",
                "",
                f"{label}; create = {max(create_trips)} round trips incl. BEGIN and COMMIT",
            )
        )
    return rows, trips


def run() -> list[Row]:
    from zoneinfo import ZoneInfo

    url = fresh_database_url()
    # A Monday morning; the bookings fill the next 30 days.
    now = dt.datetime(2026, 3, 2, 8, 0, tzinfo=ZoneInfo(TIMEZONE))
    rows: list[Row] = []
    round_trips: dict[int, dict[str, int]] = {}
    for _ in range(OTHER_SALONS):
        build(url, 20, now)
    for masters in (20, 40):
        salon, count = build(url, masters, now)
        label = (
            f"{masters} masters, {SERVICES} services, {count} bookings "
            f"(+{OTHER_SALONS * 20 * BOOKINGS_PER_MASTER} of {OTHER_SALONS} other salons)"
        )
        salon_rows, round_trips[masters] = measure_salon(url, salon, label, now)
        rows.extend(salon_rows)
    small, big = round_trips[20], round_trips[40]
    rows.append(
        Row(
            AREA,
            "SQL round trips per availability query, 20 vs 40 masters",
            f"{', '.join(map(str, small.values()))} vs {', '.join(map(str, big.values()))}",
            "constant",
            "constant in the number of masters" if small == big else "GROWS with masters",
        )
    )
    return rows
