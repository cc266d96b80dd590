"""The staff API, route by route: the inbox, the thread, replies (inside and outside the
24-hour window, exactly once per Idempotency-Key), return to bot, the day's bookings,
walk-ins, moves and marks through the booking rules, and the figures; every route walled
per salon (403 for another salon's user, 401 without a verified token)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from salonbot.booking import availability
from salonbot.booking.catalog import load_salon
from salonbot.db.connection import Connection
from salonbot_dev.fakes.whatsapp import FakeWhatsApp
from tests.conftest import DEMO_SALON_ID
from tests.integration.salon_builder import BERLIN_SALON_ID
from tests.integration.staff.conftest import (
    StaffApi,
    customer_conversation,
    seed_booking,
    staff_claims,
)

pytestmark = pytest.mark.integration

CUSTOMER = "+79001234567"
STAFF = staff_claims(DEMO_SALON_ID)
OTHER_SALON = staff_claims(BERLIN_SALON_ID, owner=True, email="berlin@example.com")


def rows(db: Connection) -> dict[str, Any]:
    tables = ("ai_messages", "bookings", "staff_requests", "clients")
    counts = {t: db.execute(f"SELECT count(*) AS n FROM {t}").fetchone()["n"] for t in tables}
    counts["conversations"] = [
        tuple(r.values())
        for r in db.execute(
            "SELECT id, status, handoff_until FROM ai_conversations ORDER BY id"
        ).fetchall()
    ]
    counts["booking_states"] = [
        tuple(r.values())
        for r in db.execute(
            "SELECT code, status, starts_at, arrived_at FROM bookings ORDER BY code"
        ).fetchall()
    ]
    return counts


def free_slot(db: Connection, service: str = "manicure", master: str = "anna") -> dt.datetime:
    salon = load_salon(db, DEMO_SALON_ID)
    (slot, *_) = availability.earliest_slots(db, salon, service, master, limit=1)
    return slot.starts_at


def local(at: dt.datetime) -> str:
    return at.strftime("%Y-%m-%d %H:%M")


# -- tenants ------------------------------------------------------------------------------


def _routes(conversation: str, code: str, day: str) -> list[tuple[str, str, dict[str, Any]]]:
    salon = {"salon_id": str(DEMO_SALON_ID)}
    return [
        ("GET", "/api/v1/staff/conversations", {"query": salon}),
        ("GET", f"/api/v1/staff/conversations/{conversation}/messages", {}),
        ("POST", f"/api/v1/staff/conversations/{conversation}/messages", {"body": {"text": "Hi"}}),
        ("POST", f"/api/v1/staff/conversations/{conversation}/release", {}),
        ("GET", "/api/v1/staff/bookings", {"query": {**salon, "date": day}}),
        (
            "POST",
            "/api/v1/staff/bookings",
            {
                "body": {
                    **salon,
                    "service": "manicure",
                    "start": "2030-01-01 10:00",
                    "phone": "+79005550000",
                }
            },
        ),
        ("PATCH", f"/api/v1/staff/bookings/{code}", {"body": {"status": "cancelled"}}),
        ("GET", "/api/v1/staff/metrics", {"query": salon}),
        ("POST", "/api/v1/staff/salon-file", {"body": {**salon, "content": "name: x"}}),
        ("GET", "/api/v1/staff/views/inbox", {"query": salon}),
        ("GET", f"/api/v1/staff/views/thread/{conversation}", {}),
        ("GET", "/api/v1/staff/views/calendar", {"query": {**salon, "date": day}}),
        ("GET", "/api/v1/staff/views/dashboard", {"query": salon}),
        ("GET", "/api/v1/staff/views/settings", {"query": salon}),
    ]


ROUTE_IDS = ["inbox", "thread", "reply", "release", "bookings", "walk-in", "patch", "metrics"]


@pytest.fixture
def demo_data(db: Connection, salons: Any) -> tuple[str, str, str]:
    conversation = customer_conversation(
        db, DEMO_SALON_ID, CUSTOMER, "Позовите администратора", handed_off=True
    )
    start = free_slot(db)
    code = seed_booking(db, DEMO_SALON_ID, starts_at=start)
    return conversation, code, start.date().isoformat()


@pytest.mark.parametrize("index", range(len(ROUTE_IDS)), ids=ROUTE_IDS)
def test_another_salons_user_gets_403_and_changes_nothing(
    staff_api: StaffApi,
    db: Connection,
    demo_data: tuple[str, str, str],
    fake_whatsapp: FakeWhatsApp,
    index: int,
) -> None:
    # Given the owner of another salon, and the demo salon's conversation and booking
    method, path, options = _routes(*demo_data)[index]
    before = rows(db)
    # When they call the route for the demo salon's data
    reply = staff_api.call(method, path, claims=OTHER_SALON, **options)
    # Then 403, naming no salon, nothing changed and nothing sent
    assert reply.status == 403, reply.body
    assert reply.body["message"] == "Forbidden: the user does not work for this salon"
    db.rollback()
    assert rows(db) == before
    assert fake_whatsapp.sent == []


@pytest.mark.parametrize("index", range(len(ROUTE_IDS)), ids=ROUTE_IDS)
def test_no_verified_token_gets_401(
    staff_api: StaffApi, db: Connection, demo_data: tuple[str, str, str], index: int
) -> None:
    method, path, options = _routes(*demo_data)[index]
    before = rows(db)
    reply = staff_api.call(method, path, claims=None, **options)
    assert reply.status == 401, reply.body
    db.rollback()
    assert rows(db) == before


def test_a_user_of_no_salon_gets_403(staff_api: StaffApi, salons: Any) -> None:
    reply = staff_api.call("GET", "/api/v1/staff/conversations", claims=staff_claims())
    assert reply.status == 403
    assert reply.body["message"] == "Forbidden: the user works for no salon"


def test_a_user_of_two_salons_names_the_salon(staff_api: StaffApi, salons: Any) -> None:
    both = staff_claims(DEMO_SALON_ID, BERLIN_SALON_ID)
    assert staff_api.call("GET", "/api/v1/staff/conversations", claims=both).status == 403
    reply = staff_api.call(
        "GET",
        "/api/v1/staff/conversations",
        claims=both,
        query={"salon_id": str(BERLIN_SALON_ID)},
    )
    assert reply.status == 200, reply.body


# -- inbox, thread, replies ---------------------------------------------------------------


def test_the_inbox_lists_handed_off_conversations_newest_first(
    staff_api: StaffApi, db: Connection, salons: Any
) -> None:
    now = dt.datetime.now(dt.UTC)
    older = customer_conversation(
        db,
        DEMO_SALON_ID,
        "+79001112233",
        "Можно оператора?",
        at=now - dt.timedelta(hours=3),
        handed_off=True,
    )
    newer = customer_conversation(
        db, DEMO_SALON_ID, CUSTOMER, "Хочу поговорить с человеком", handed_off=True
    )
    answered = customer_conversation(db, DEMO_SALON_ID, "+79004445566", "Запишите меня")
    customer_conversation(db, BERLIN_SALON_ID, "+4915112345678", "Hallo", handed_off=True)

    waiting = staff_api.call("GET", "/api/v1/staff/conversations", claims=STAFF)
    assert waiting.status == 200, waiting.body
    assert waiting.body["waiting"] == 2
    assert [i["id"] for i in waiting.body["items"]] == [newer, older]
    first = waiting.body["items"][0]
    assert first["phone"] == "…4567"
    assert first["last_message"] == "Хочу поговорить с человеком"
    assert first["last_message_role"] == "user"
    assert first["waiting"] is True and first["status"] == "handoff"

    everything = staff_api.call(
        "GET", "/api/v1/staff/conversations", claims=STAFF, query={"status": "all"}
    )
    assert {i["id"] for i in everything.body["items"]} == {older, newer, answered}

    bad = staff_api.call(
        "GET", "/api/v1/staff/conversations", claims=STAFF, query={"status": "later"}
    )
    assert bad.status == 422
    assert bad.body["detail"][0]["field"] == "status"


def test_a_reply_inside_the_window_reaches_the_customer_once(
    staff_api: StaffApi, db: Connection, salons: Any, fake_whatsapp: FakeWhatsApp
) -> None:
    conversation = customer_conversation(
        db, DEMO_SALON_ID, CUSTOMER, "Есть кто живой?", handed_off=True
    )
    path = f"/api/v1/staff/conversations/{conversation}/messages"
    # When staff answer with an Idempotency-Key, and the request is retried
    first = staff_api.call(
        "POST", path, claims=STAFF, body={"text": "Здравствуйте! Это Анна."}, key="reply-1"
    )
    again = staff_api.call(
        "POST", path, claims=STAFF, body={"text": "Здравствуйте! Это Анна."}, key="reply-1"
    )
    # Then WhatsApp got the text once, and the retry got the first answer
    assert first.status == 201, first.body
    assert again.status == 201 and again.body == first.body
    assert again.headers.get("idempotent-replayed") == "true"
    assert fake_whatsapp.texts_to(CUSTOMER.lstrip("+")) == ["Здравствуйте! Это Анна."]
    # stored as a staff message, by who wrote it; the hand-off (2 hours so far) now runs
    # HANDOFF_MINUTES (3 hours) from now
    db.rollback()
    stored = db.execute(
        "SELECT role, content, staff_user, external_id FROM ai_messages "
        "WHERE conversation_id = %s AND role = 'staff'",
        (conversation,),
    ).fetchall()
    assert stored == [
        {
            "role": "staff",
            "content": "Здравствуйте! Это Анна.",
            "staff_user": "anna@example.com",
            "external_id": first.body["whatsapp_message_id"],
        }
    ]
    state = db.execute(
        "SELECT status, handoff_until FROM ai_conversations WHERE id = %s", (conversation,)
    ).fetchone()
    assert state["status"] == "handoff"
    left = state["handoff_until"] - dt.datetime.now(dt.UTC)
    assert dt.timedelta(minutes=175) < left <= dt.timedelta(minutes=180)
    # The same key with another text is refused, and sends nothing
    other = staff_api.call("POST", path, claims=STAFF, body={"text": "Другой текст"}, key="reply-1")
    assert other.status == 422
    assert other.body["detail"][0]["field"] == "Idempotency-Key"
    assert len(fake_whatsapp.sent) == 1
    # The thread shows it after the customer's message, with its delivery status
    thread = staff_api.call(
        "GET", f"/api/v1/staff/conversations/{conversation}/messages", claims=STAFF
    )
    assert thread.status == 200
    assert [(m["role"], m["text"]) for m in thread.body["messages"]] == [
        ("user", "Есть кто живой?"),
        ("staff", "Здравствуйте! Это Анна."),
    ]
    assert thread.body["messages"][1]["delivery"] == "sent"
    assert thread.body["window_open"] is True


def test_a_reply_outside_the_window_is_409_and_sends_nothing(
    staff_api: StaffApi, db: Connection, salons: Any, fake_whatsapp: FakeWhatsApp
) -> None:
    long_ago = dt.datetime.now(dt.UTC) - dt.timedelta(hours=25)
    conversation = customer_conversation(
        db, DEMO_SALON_ID, CUSTOMER, "Вы работаете завтра?", at=long_ago, handed_off=True
    )
    before = rows(db)
    reply = staff_api.call(
        "POST",
        f"/api/v1/staff/conversations/{conversation}/messages",
        claims=STAFF,
        body={"text": "Да, с 10:00"},
        key="late-1",
    )
    assert reply.status == 409, reply.body
    assert reply.body["reason"] == "outside_window"
    assert "24-hour customer-service window closed" in reply.body["message"]
    assert fake_whatsapp.sent == []
    db.rollback()
    assert rows(db) == before


def test_the_window_is_the_whatsapp_time_of_the_last_inbound_message(
    staff_api: StaffApi, db: Connection, salons: Any, fake_whatsapp: FakeWhatsApp
) -> None:
    # A customer message stored just now, but sent 25 hours ago (redelivered late): the
    # window is WhatsApp's time of it, `last_inbound_at`, not when it was stored
    conversation = customer_conversation(
        db, DEMO_SALON_ID, CUSTOMER, "Вы тут?", at=dt.datetime.now(dt.UTC), handed_off=True
    )
    db.execute(
        "UPDATE ai_conversations SET last_inbound_at = now() - interval '25 hours' WHERE id = %s",
        (conversation,),
    )
    db.commit()
    path = f"/api/v1/staff/conversations/{conversation}/messages"
    late = staff_api.call("POST", path, claims=STAFF, body={"text": "Да"})
    assert late.status == 409 and late.body["reason"] == "outside_window"
    thread = staff_api.call("GET", path, claims=STAFF)
    assert thread.body["window_open"] is False
    # Two minutes before it closes is too late for free text as well (the closing margin)
    db.execute(
        "UPDATE ai_conversations SET last_inbound_at = now() - interval '23 hours 58 minutes' "
        "WHERE id = %s",
        (conversation,),
    )
    db.commit()
    closing = staff_api.call("POST", path, claims=STAFF, body={"text": "Да"})
    assert closing.status == 409 and "too soon for free-form text" in closing.body["message"]
    assert fake_whatsapp.sent == []


def test_reply_validation_names_the_field(staff_api: StaffApi, db: Connection, salons: Any) -> None:
    conversation = customer_conversation(db, DEMO_SALON_ID, CUSTOMER, "?")
    path = f"/api/v1/staff/conversations/{conversation}/messages"
    empty = staff_api.call("POST", path, claims=STAFF, body={"text": "   "})
    assert empty.status == 422 and empty.body["detail"][0]["field"] == "text"
    extra = staff_api.call("POST", path, claims=STAFF, body={"text": "ok", "to": "+1"})
    assert extra.status == 422 and extra.body["detail"][0]["field"] == "to"
    missing = staff_api.call(
        "POST", "/api/v1/staff/conversations/conv_x/messages", claims=STAFF, body={"text": "ok"}
    )
    assert missing.status == 404


def test_release_returns_the_conversation_to_the_bot(
    staff_api: StaffApi, db: Connection, salons: Any
) -> None:
    conversation = customer_conversation(db, DEMO_SALON_ID, CUSTOMER, "Оператор!", handed_off=True)
    reply = staff_api.call(
        "POST", f"/api/v1/staff/conversations/{conversation}/release", claims=STAFF, key="release-1"
    )
    assert reply.status == 200, reply.body
    assert reply.body == {"conversation_id": conversation, "status": "active"}
    inbox = staff_api.call("GET", "/api/v1/staff/conversations", claims=STAFF)
    assert inbox.body == {"waiting": 0, "items": []}
    db.rollback()
    state = db.execute(
        "SELECT status, handoff_until FROM ai_conversations WHERE id = %s", (conversation,)
    ).fetchone()
    assert state == {"status": "active", "handoff_until": None}


# -- bookings -----------------------------------------------------------------------------


def test_a_walk_in_is_booked_through_the_booking_rules(
    staff_api: StaffApi, db: Connection, salons: Any
) -> None:
    start = free_slot(db)
    body = {
        "service": "manicure",
        "master": "anna",
        "start": local(start),
        "phone": "+7 900 555-01-01",
        "name": "Ольга",
    }
    made = staff_api.call("POST", "/api/v1/staff/bookings", claims=STAFF, body=body, key="w-1")
    assert made.status == 201, made.body
    assert made.body["master"] == "anna" and made.body["source"] == "staff"
    assert made.body["starts_at"] == start.isoformat()
    assert made.body["customer_name"] == "Ольга"
    replay = staff_api.call("POST", "/api/v1/staff/bookings", claims=STAFF, body=body, key="w-1")
    assert replay.body == made.body
    day = staff_api.call(
        "GET",
        "/api/v1/staff/bookings",
        claims=STAFF,
        query={"date": start.date().isoformat(), "master": "anna"},
    )
    assert [b["code"] for b in day.body["bookings"]] == [made.body["code"]]
    # the same time again, for another customer: the database refuses it
    taken = staff_api.call(
        "POST", "/api/v1/staff/bookings", claims=STAFF, body={**body, "phone": "+79005550202"}
    )
    assert taken.status == 409 and taken.body["reason"] == "slot_taken"
    db.rollback()
    assert db.execute("SELECT count(*) AS n FROM bookings").fetchone()["n"] == 1


def test_walk_in_errors_name_their_fields(staff_api: StaffApi, salons: Any) -> None:
    reply = staff_api.call(
        "POST",
        "/api/v1/staff/bookings",
        claims=STAFF,
        body={"service": "manicure", "start": "tomorrow", "phone": "12"},
    )
    assert reply.status == 422
    assert {d["field"] for d in reply.body["detail"]} == {"start", "phone"}
    unknown = staff_api.call(
        "POST",
        "/api/v1/staff/bookings",
        claims=STAFF,
        body={"service": "massage", "start": "2030-01-01 10:00", "phone": "+79005550303"},
    )
    assert unknown.status == 404


def test_a_booking_is_moved_cancelled_and_marked(
    staff_api: StaffApi, db: Connection, salons: Any
) -> None:
    now = dt.datetime.now(dt.UTC)
    started = seed_booking(
        db,
        DEMO_SALON_ID,
        starts_at=now - dt.timedelta(minutes=20),
        code="PAST01",
        master="maria",
        service="haircut_women",
    )
    arrived = staff_api.call(
        "PATCH", f"/api/v1/staff/bookings/{started}", claims=STAFF, body={"status": "arrived"}
    )
    assert arrived.status == 200, arrived.body
    assert arrived.body["status"] == "arrived"
    no_show = staff_api.call(
        "PATCH", f"/api/v1/staff/bookings/{started}", claims=STAFF, body={"status": "no_show"}
    )
    assert no_show.body["status"] == "no_show"
    back = staff_api.call(
        "PATCH", f"/api/v1/staff/bookings/{started}", claims=STAFF, body={"status": "arrived"}
    )
    assert back.status == 409 and back.body["reason"] == "booking_state"

    first, later = free_slot(db), None
    made = staff_api.call(
        "POST",
        "/api/v1/staff/bookings",
        claims=STAFF,
        body={
            "service": "manicure",
            "master": "anna",
            "start": local(first),
            "phone": "+79005550404",
        },
    )
    code = made.body["code"]
    early = staff_api.call(
        "PATCH", f"/api/v1/staff/bookings/{code}", claims=STAFF, body={"status": "no_show"}
    )
    assert early.status == 409
    later = first + dt.timedelta(days=1)
    moved = staff_api.call(
        "PATCH", f"/api/v1/staff/bookings/{code}", claims=STAFF, body={"start": local(later)}
    )
    if moved.status == 409:  # the next day is closed: the rules said why
        assert moved.body["reason"] in ("not_bookable", "slot_taken")
    else:
        assert moved.status == 200, moved.body
        assert moved.body["starts_at"] == later.isoformat()
    cancelled = staff_api.call(
        "PATCH", f"/api/v1/staff/bookings/{code}", claims=STAFF, body={"status": "cancelled"}
    )
    assert cancelled.status == 200 and cancelled.body["status"] == "cancelled"
    both = staff_api.call(
        "PATCH",
        f"/api/v1/staff/bookings/{code}",
        claims=STAFF,
        body={"status": "cancelled", "start": local(later)},
    )
    assert both.status == 422
    unknown = staff_api.call(
        "PATCH", "/api/v1/staff/bookings/NOPE99", claims=STAFF, body={"status": "cancelled"}
    )
    assert unknown.status == 404


def test_metrics_count_each_local_day(staff_api: StaffApi, db: Connection, salons: Any) -> None:
    conversation = customer_conversation(db, DEMO_SALON_ID, CUSTOMER, "Привет")
    db.execute(
        "INSERT INTO ai_messages (conversation_id, salon_id, role, content, prompt_tokens, cost) "
        "VALUES (%s, %s, 'assistant', 'Здравствуйте', 0, 0), "
        "(%s, %s, 'assistant', 'Модель', 120, 0.0025)",
        (conversation, DEMO_SALON_ID, conversation, DEMO_SALON_ID),
    )
    db.commit()
    today = dt.datetime.now(load_salon(db, DEMO_SALON_ID).tz).date()
    reply = staff_api.call(
        "GET",
        "/api/v1/staff/metrics",
        claims=staff_claims(DEMO_SALON_ID, owner=True),
        query={"from": (today - dt.timedelta(days=6)).isoformat(), "to": today.isoformat()},
    )
    assert reply.status == 200, reply.body
    days = reply.body["days"]
    assert len(days) == 7 and days[-1]["day"] == today.isoformat()
    assert days[-1]["conversations"] == 1
    assert days[-1]["replies"] == 2 and days[-1]["zero_token_share"] == 0.5
    assert days[-1]["spend_usd"] == pytest.approx(0.0025)
    assert days[-1]["budget_usd"] > 0
    assert all(d["conversations"] == 0 for d in days[:-1])
    wrong = staff_api.call(
        "GET",
        "/api/v1/staff/metrics",
        claims=STAFF,
        query={"from": today.isoformat(), "to": (today - dt.timedelta(days=1)).isoformat()},
    )
    assert wrong.status == 422 and wrong.body["detail"][0]["field"] == "from"


def test_me_says_who_is_signed_in(staff_api: StaffApi, salons: Any) -> None:
    reply = staff_api.call(
        "GET", "/api/v1/staff/me", claims=staff_claims(DEMO_SALON_ID, owner=True)
    )
    assert reply.body == {
        "email": "anna@example.com",
        "role": "owner",
        "salons": [str(DEMO_SALON_ID)],
    }


# -- the salon file -----------------------------------------------------------------------


def _demo_file() -> str:
    from tests.conftest import DEMO_SALON_FILE

    return DEMO_SALON_FILE.read_text(encoding="utf-8")


def test_the_owner_uploads_a_salon_file_validated_like_the_import(
    staff_api: StaffApi, db: Connection, salons: Any
) -> None:
    owner = staff_claims(DEMO_SALON_ID, owner=True)
    path = "/api/v1/staff/salon-file"
    revision = db.execute("SELECT revision FROM salons WHERE id = %s", (DEMO_SALON_ID,)).fetchone()
    # An invalid file names the field and changes nothing
    bad = _demo_file().replace("duration_minutes: 60", "duration_minutes: -60", 1)
    refused = staff_api.call("POST", path, claims=owner, body={"content": bad})
    assert refused.status == 422, refused.body
    assert refused.body["detail"][0]["field"] == "services[0].duration_minutes"
    unknown = staff_api.call("POST", path, claims=owner, body={"content": "name: x\ncolour: red"})
    assert unknown.status == 422
    # Staff who are not the owner may not upload
    staff = staff_api.call("POST", path, claims=STAFF, body={"content": _demo_file()})
    assert staff.status == 403
    # Another salon's id in the file is refused
    other = _demo_file().replace(str(DEMO_SALON_ID), str(BERLIN_SALON_ID))
    foreign = staff_api.call("POST", path, claims=owner, body={"content": other})
    assert foreign.status == 422 and foreign.body["detail"][0]["field"] == "id"
    db.rollback()
    after = db.execute("SELECT revision FROM salons WHERE id = %s", (DEMO_SALON_ID,)).fetchone()
    assert after == revision
    # A valid file is imported
    renamed = _demo_file().replace("duration_minutes: 60", "duration_minutes: 75", 1)
    done = staff_api.call("POST", path, claims=owner, body={"content": renamed}, key="file-1")
    assert done.status == 201, done.body
    assert done.body["revision"] == revision["revision"] + 1
    db.rollback()
    salon = load_salon(db, DEMO_SALON_ID)
    assert salon.service("manicure").duration_minutes == 75


def test_the_views_are_html_in_the_salons_language(
    staff_api: StaffApi, db: Connection, salons: Any
) -> None:
    customer_conversation(
        db, DEMO_SALON_ID, CUSTOMER, "<b>Позовите</b> администратора", handed_off=True
    )
    inbox = staff_api.call("GET", "/api/v1/staff/views/inbox", claims=STAFF)
    assert inbox.status == 200
    assert inbox.headers["content-type"].startswith("text/html")
    assert "Входящие" in inbox.body and "ждут: 1" in inbox.body
    # the customer's words are escaped, never markup
    assert "&lt;b&gt;Позовите&lt;/b&gt;" in inbox.body and "<b>" not in inbox.body
    english = staff_api.call("GET", "/api/v1/staff/views/inbox", claims=STAFF, query={"lang": "en"})
    assert "1 waiting" in english.body
