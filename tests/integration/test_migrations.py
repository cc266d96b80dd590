"""Migrations: idempotent, one transaction each, safe when two deploys race."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator

import psycopg
import pytest
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from salonbot.db.connection import Connection, connect
from salonbot.db.migrate import available_migrations, migrate


@pytest.fixture
def empty_database_url(database_url: str) -> Iterator[str]:
    name = f"salonbot_migrate_{uuid.uuid4().hex[:8]}"
    with connect(database_url) as admin:
        admin.autocommit = True
        admin.execute(f'CREATE DATABASE "{name}"')
    params = conninfo_to_dict(database_url)
    params["dbname"] = name
    yield make_conninfo(**params)
    with connect(database_url) as admin:
        admin.autocommit = True
        # Dropping waits for the server to end the test's sessions: no statement timeout.
        admin.execute("SET statement_timeout = 0")
        admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')


def test_migrate_twice_applies_once(empty_database_url: str) -> None:
    with connect(empty_database_url) as conn:
        first = migrate(conn)
        second = migrate(conn)
        versions = [r["version"] for r in conn.execute("SELECT version FROM schema_migrations")]

    assert [m.version for m in first] == [m.version for m in available_migrations()]
    assert second == []
    assert versions == [m.version for m in available_migrations()]


def test_concurrent_deploys_apply_each_migration_once(empty_database_url: str) -> None:
    applied: list[int] = []
    errors: list[BaseException] = []
    barrier = threading.Barrier(4)

    def deploy() -> None:
        try:
            with connect(empty_database_url) as conn:
                barrier.wait()
                applied.extend(m.version for m in migrate(conn))
        except BaseException as exc:  # collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=deploy) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    assert sorted(applied) == [m.version for m in available_migrations()]


def test_schema_has_the_product_tables_and_indexes(db: Connection) -> None:
    rows = db.execute(
        "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'ai_messages'"
    ).fetchall()
    definitions = " ".join(r["indexdef"] for r in rows)

    assert "(conversation_id, created_at)" in definitions
    assert "(salon_id, created_at)" in definitions


def _booking(conn: Connection, code: str, client: str, master: str, start: str, end: str) -> None:
    conn.execute(
        """INSERT INTO bookings (code, salon_id, master_id, service_id, client_id, starts_at,
                                 ends_at, blocked_until, price)
           SELECT %s, s.id, m.id, sv.id, c.id, %s, %s, %s::timestamptz + interval '10 min', 40
             FROM salons s JOIN masters m ON m.salon_id = s.id AND m.code = %s
             JOIN services sv ON sv.salon_id = s.id JOIN clients c ON c.phone = %s""",
        (code, start, end, end, master, client),
    )


def test_booking_limits_migrate_a_calendar_with_overlapping_bookings_of_one_client(
    empty_database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a database at the first migration, with a salon and bookings made before one
    # customer's bookings had to be apart: Alice's A, B and C each overlap the next (B
    # overlaps both, A and C do not touch), D overlaps nothing, and Bruno's E is at A's time
    import salonbot.db.migrate as migrations

    everything = available_migrations()
    monkeypatch.setattr(migrations, "available_migrations", lambda: everything[:1])
    with connect(empty_database_url) as conn:
        migrate(conn)
        monkeypatch.undo()
        salon = uuid.uuid4()
        conn.execute(
            "INSERT INTO salons (id, name, timezone) VALUES (%s, 'S', 'Europe/Berlin')", (salon,)
        )
        conn.execute(
            """INSERT INTO services (salon_id, code, names, duration_minutes, price)
               VALUES (%s, 'manicure', '{"en": "Manicure"}', 60, 40)""",
            (salon,),
        )
        conn.execute(
            "INSERT INTO masters (salon_id, code, name) VALUES (%s, 'anna', 'Anna'),"
            " (%s, 'bob', 'Bob'), (%s, 'eve', 'Eve')",
            (salon, salon, salon),
        )
        conn.execute(
            "INSERT INTO clients (salon_id, phone) VALUES (%s, '+491'), (%s, '+492')",
            (salon, salon),
        )
        day = "2026-03-02 "
        _booking(conn, "AAAAAA", "+491", "anna", day + "10:00+01", day + "11:00+01")
        _booking(conn, "BBBBBB", "+491", "bob", day + "10:30+01", day + "11:30+01")
        _booking(conn, "CCCCCC", "+491", "eve", day + "11:00+01", day + "12:00+01")
        _booking(conn, "DDDDDD", "+491", "anna", day + "12:00+01", day + "13:00+01")
        _booking(conn, "EEEEEE", "+492", "bob", day + "12:00+01", day + "13:00+01")
        conn.commit()

        # When the remaining migrations run
        applied = migrate(conn)

        # Then they applied; every booking stays confirmed, and of Alice's overlapping
        # bookings only B, the one overlapping the first made, is kept out of the constraint
        # (C overlapped only B); the rest are checked as usual
        assert [m.version for m in applied] == [m.version for m in everything[1:]]
        rows = conn.execute(
            "SELECT code, status, legacy_overlap, cancelled_at FROM bookings ORDER BY code"
        ).fetchall()
        assert [(r["code"], r["status"], r["legacy_overlap"], r["cancelled_at"]) for r in rows] == [
            ("AAAAAA", "confirmed", False, None),
            ("BBBBBB", "confirmed", True, None),
            ("CCCCCC", "confirmed", False, None),
            ("DDDDDD", "confirmed", False, None),
            ("EEEEEE", "confirmed", False, None),
        ]
        # and a new overlap of Alice's is still refused by the database
        with pytest.raises(psycopg.errors.ExclusionViolation), conn.transaction():
            _booking(conn, "FFFFFF", "+491", "bob", day + "12:30+01", day + "13:30+01")
        # and the salon got the default limit
        limit = conn.execute("SELECT max_live_bookings_per_client AS n FROM salons").fetchone()
        assert limit == {"n": 3}


def test_booking_items_migrate_every_booking_into_a_one_item_visit(
    empty_database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a database just before visits, with a confirmed and a cancelled booking
    import salonbot.db.migrate as migrations

    everything = available_migrations()
    before = [m for m in everything if m.version < 13]
    monkeypatch.setattr(migrations, "available_migrations", lambda: before)
    with connect(empty_database_url) as conn:
        migrate(conn)
        monkeypatch.undo()
        salon = uuid.uuid4()
        conn.execute(
            "INSERT INTO salons (id, name, timezone) VALUES (%s, 'S', 'Europe/Berlin')", (salon,)
        )
        conn.execute(
            """INSERT INTO services (salon_id, code, names, duration_minutes, price)
               VALUES (%s, 'manicure', '{"en": "Manicure"}', 60, 40)""",
            (salon,),
        )
        conn.execute(
            "INSERT INTO masters (salon_id, code, name) VALUES (%s, 'anna', 'Anna')", (salon,)
        )
        conn.execute(
            "INSERT INTO clients (salon_id, phone) VALUES (%s, '+491'), (%s, '+492')",
            (salon, salon),
        )
        day = "2026-03-02 "
        _booking(conn, "AAAAAA", "+491", "anna", day + "10:00+01", day + "11:00+01")
        _booking(conn, "BBBBBB", "+492", "anna", day + "12:00+01", day + "13:00+01")
        conn.execute("UPDATE bookings SET status = 'cancelled' WHERE code = 'BBBBBB'")
        conn.commit()

        # When the remaining migrations run
        migrate(conn)

        # Then each booking is a visit of one item with its own master, time and status
        rows = conn.execute(
            """SELECT b.code, i.position, i.master_id = b.master_id AS same_master,
                      i.starts_at = b.starts_at AND i.blocked_until = b.blocked_until AS same_time,
                      i.status
                 FROM booking_items i JOIN bookings b ON b.id = i.booking_id ORDER BY b.code"""
        ).fetchall()
        assert [tuple(r.values()) for r in rows] == [
            ("AAAAAA", 0, True, True, "confirmed"),
            ("BBBBBB", 0, True, True, "cancelled"),
        ]
        # and the master's time is still the database's to guard: an overlap with A is
        # refused, one at the cancelled B's time is not
        with pytest.raises(psycopg.errors.ExclusionViolation) as refused, conn.transaction():
            conn.execute("INSERT INTO clients (salon_id, phone) VALUES (%s, '+493')", (salon,))
            _booking(conn, "CCCCCC", "+493", "anna", day + "10:30+01", day + "11:30+01")
        assert refused.value.diag.constraint_name == "bookings_no_overlap"
        conn.execute("INSERT INTO clients (salon_id, phone) VALUES (%s, '+494')", (salon,))
        _booking(conn, "DDDDDD", "+494", "anna", day + "12:00+01", day + "13:00+01")
        # and a booking written on its own, then moved and cancelled by a writer that
        # knows nothing of items, takes its item along
        conn.execute(
            "UPDATE bookings SET starts_at = starts_at + interval '1 hour',"
            " ends_at = ends_at + interval '1 hour',"
            " blocked_until = blocked_until + interval '1 hour' WHERE code = 'DDDDDD'"
        )
        moved = conn.execute(
            "SELECT i.starts_at = b.starts_at AS same FROM booking_items i"
            " JOIN bookings b ON b.id = i.booking_id WHERE b.code = 'DDDDDD'"
        ).fetchall()
        assert moved == [{"same": True}]
        conn.execute("UPDATE bookings SET status = 'cancelled' WHERE code = 'DDDDDD'")
        status = conn.execute(
            "SELECT i.status FROM booking_items i JOIN bookings b ON b.id = i.booking_id"
            " WHERE b.code = 'DDDDDD'"
        ).fetchone()
        assert status == {"status": "cancelled"}
