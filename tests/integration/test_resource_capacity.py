"""The resource proof: customers racing on their own connections for one shared resource
(two pedicure chairs, four masters) never put it over its capacity at any instant; and a
writer that skips the store is refused by the database."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest
from psycopg import errors as pg_errors

from salonbot.booking.store import Booking, create_booking
from salonbot.db.connection import Connection
from tests.integration.racing import race
from tests.integration.salon_builder import create_salon
from tests.integration.visit_salon import NOW, VISIT_SALON_ID, at, visit_salon_data


def phone(index: int) -> str:
    return f"+7915{index:07d}"


def test_racing_customers_never_put_the_chairs_over_capacity(
    db: Connection, database_url: str
) -> None:
    # Given two pedicure chairs shared by four masters, all free on Tuesday
    create_salon(db, visit_salon_data(chairs=2, pedicurists=4))
    db.commit()
    # Starts 12:00, 12:30, 13:00: each overlaps the next, 12:00 and 13:00 only touch
    starts = [at(12), at(12, 30), at(13)]

    # When 12 customers race for pedicures with four different masters
    results = race(
        database_url,
        lambda conn, salon, i: create_booking(
            conn,
            salon,
            phone=phone(i),
            service_code="pedicure",
            master_code=f"nails{i % 4 + 1}",
            starts_at=starts[i % 3],
            now=NOW,
        ),
        12,
        salon_id=VISIT_SALON_ID,
    )

    # Then some won, every other attempt was refused as taken, and at no instant are
    # more than two pedicures in the chairs
    kinds = Counter(type(r).__name__ for r in results)
    assert set(kinds) <= {"Booking", "SlotTaken"}, results
    won = [r for r in results if isinstance(r, Booking)]
    assert 2 <= len(won) <= 4
    db.rollback()
    rows = db.execute(
        """SELECT starts_at, ends_at FROM booking_items
            WHERE status = 'confirmed' AND resource_id IS NOT NULL"""
    ).fetchall()
    assert len(rows) == len(won)
    for row in rows:
        inside = [r for r in rows if r["starts_at"] <= row["starts_at"] < r["ends_at"]]
        assert len(inside) <= 2


def test_the_database_refuses_a_third_pedicure_in_two_chairs(db: Connection) -> None:
    # Given two pedicures at 12:00 in the two chairs
    salon = create_salon(db, visit_salon_data(chairs=2, pedicurists=3))
    for i, master in enumerate(["nails1", "nails2"]):
        create_booking(
            db, salon, phone=phone(i), service_code="pedicure", master_code=master,
            starts_at=at(12), now=NOW,
        )  # fmt: skip
    row: Any = db.execute("SELECT * FROM booking_items LIMIT 1").fetchone()

    # When a writer that skips the store's checks puts a third one in at 12:30
    booking = create_booking(
        db, salon, phone=phone(3), service_code="manicure", master_code="nails3",
        starts_at=at(12, 30), now=NOW,
    )  # fmt: skip
    with pytest.raises(pg_errors.ExclusionViolation) as refused:
        db.execute(
            "UPDATE booking_items SET resource_id = %s, service_id = %s WHERE booking_id = %s",
            (row["resource_id"], row["service_id"], booking.id),
        )

    # Then the capacity check refuses it
    assert refused.value.diag.constraint_name == "booking_items_resource_capacity"


def test_a_pending_booking_of_the_chair_holds_only_its_own_time(
    db: Connection, database_url: str
) -> None:
    # Given one chair, and Alice's pedicure at 12:00 written but not yet committed
    from salonbot.booking.catalog import load_salon
    from salonbot.db.connection import connect
    from salonbot.errors import SlotTaken

    create_salon(db, visit_salon_data(chairs=1, pedicurists=3))
    db.commit()
    with connect(database_url) as alice, connect(database_url) as boris:
        salon = load_salon(alice, VISIT_SALON_ID)
        create_booking(
            alice, salon, phone=phone(1), service_code="pedicure", master_code="nails1",
            starts_at=at(12), now=NOW,
        )  # fmt: skip

        # When Boris books the chair later that day with another master, then at 12:30
        later = create_booking(
            boris, salon, phone=phone(2), service_code="pedicure", master_code="nails2",
            starts_at=at(15), now=NOW,
        )  # fmt: skip
        boris.commit()
        with pytest.raises(SlotTaken):
            create_booking(
                boris, salon, phone=phone(3), service_code="pedicure", master_code="nails3",
                starts_at=at(12, 30), now=NOW,
            )  # fmt: skip

        # Then 15:00 was his at once, and 12:30 was refused while Alice's turn was open
        assert later.starts_at == at(15)
        alice.rollback()
