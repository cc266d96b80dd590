"""The inbox also waits on what no hand-off flagged: a customer's message kept unanswered
(too old when it arrived) and a low feedback rating, each in the customer's conversation
until staff mark it done; another salon's never shows."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from salonbot.conversation.store import open_conversation
from salonbot.db.connection import Connection
from salonbot.processing import kept
from salonbot.whatsapp.events import InboundMessage
from tests.conftest import DEMO_SALON_ID
from tests.integration.salon_builder import BERLIN_SALON_ID
from tests.integration.staff.conftest import StaffApi, seed_booking, staff_claims

pytestmark = pytest.mark.integration

STAFF = staff_claims(DEMO_SALON_ID)
OTHER_SALON = staff_claims(BERLIN_SALON_ID, owner=True, email="berlin@example.com")
LATE = "+79005550101"
UNHAPPY = "+79005550202"
HAPPY = "+79005550303"


def keep_stale(db: Connection, salon_id: Any, phone: str, text: str) -> None:
    message = InboundMessage(
        phone_number_id="100000000000001",
        message_id=f"wamid.kept.{phone}",
        wa_id=phone.lstrip("+"),
        timestamp=dt.datetime.now(dt.UTC) - dt.timedelta(days=2),
        type="text",
        text=text,
    )
    assert kept.keep(db, message, kept.STALE, salon_id=salon_id)
    db.commit()


def rate(db: Connection, phone: str, code: str, rating: int, *, hours_ago: int) -> None:
    start = dt.datetime.now(dt.UTC) - dt.timedelta(hours=hours_ago)
    seed_booking(db, DEMO_SALON_ID, starts_at=start, phone=phone, code=code)
    db.execute("UPDATE bookings SET rating = %s, rated_at = now() WHERE code = %s", (rating, code))
    open_conversation(db, DEMO_SALON_ID, phone, inbound_at=start)
    db.commit()


def waiting(staff_api: StaffApi, claims: dict[str, str]) -> dict[str, Any]:
    reply = staff_api.call("GET", "/api/v1/staff/conversations", claims=claims)
    assert reply.status == 200, reply.body
    return reply.body


def test_kept_messages_and_low_ratings_wait_until_staff_are_done(
    staff_api: StaffApi, db: Connection, salons: Any
) -> None:
    # Given a customer's message kept unanswered (their first), a visit rated 1 and one rated 5
    keep_stale(db, DEMO_SALON_ID, LATE, "Вы завтра работаете?")
    rate(db, UNHAPPY, "LOW001", 1, hours_ago=3)
    rate(db, HAPPY, "TOP005", 5, hours_ago=6)
    # and the same in another salon
    keep_stale(db, BERLIN_SALON_ID, "+4915100000001", "Sind Sie morgen offen?")
    # Then the salon's inbox lists the kept message (its text the last message) and the
    # low rating, not the good one, with masked numbers
    inbox = waiting(staff_api, STAFF)
    items = {i["phone"]: i for i in inbox["items"]}
    assert inbox["waiting"] == 2 and set(items) == {"…0101", "…0202"}
    late = items["…0101"]
    assert late["id"] == f"conv_{DEMO_SALON_ID}_{LATE.lstrip('+')}"
    assert late["last_message"] == "Вы завтра работаете?" and late["waiting"] is True
    assert late["last_message_role"] == "user"
    # the thread opens (the conversation was made for the kept message)
    thread = staff_api.call(
        "GET", f"/api/v1/staff/conversations/{late['id']}/messages", claims=STAFF
    )
    assert thread.status == 200 and thread.body["window_open"] is False
    # Another salon sees only its own, and cannot open these
    other = waiting(staff_api, OTHER_SALON)
    assert [i["last_message"] for i in other["items"]] == ["Sind Sie morgen offen?"]
    foreign = staff_api.call(
        "GET", f"/api/v1/staff/conversations/{late['id']}/messages", claims=OTHER_SALON
    )
    assert foreign.status == 403
    # When staff mark each done, it leaves the waiting list (and stays under status=all)
    for item in inbox["items"]:
        done = staff_api.call(
            "POST", f"/api/v1/staff/conversations/{item['id']}/release", claims=STAFF
        )
        assert done.status == 200, done.body
    assert waiting(staff_api, STAFF) == {"waiting": 0, "items": []}
    everything = staff_api.call(
        "GET", "/api/v1/staff/conversations", claims=STAFF, query={"status": "all"}
    )
    assert {i["phone"] for i in everything.body["items"]} >= {"…0101", "…0202"}
    # A new low rating after that waits again
    db.execute("UPDATE bookings SET rated_at = now() WHERE code = 'LOW001'")
    db.commit()
    assert [i["phone"] for i in waiting(staff_api, STAFF)["items"]] == ["…0202"]
