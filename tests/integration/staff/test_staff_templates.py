"""Outside the 24-hour window staff send one of the salon's approved follow-up templates:
offered in the thread, sent once per Idempotency-Key as a Cloud API template message,
priced into `message_costs`, stored as a staff message; a template Meta has not approved,
or another salon's, changes nothing."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from salonbot.booking.salon_file import TemplateFile
from salonbot.db.connection import Connection
from salonbot.outbound import templates
from salonbot_dev.fakes.whatsapp import FakeWhatsApp
from tests.conftest import DEMO_SALON_ID
from tests.integration.salon_builder import BERLIN_SALON_ID
from tests.integration.staff.conftest import StaffApi, customer_conversation, staff_claims

pytestmark = pytest.mark.integration

CUSTOMER = "+79001234567"
STAFF = staff_claims(DEMO_SALON_ID)
OTHER_SALON = staff_claims(BERLIN_SALON_ID, owner=True, email="berlin@example.com")


def salon_templates(db: Connection) -> None:
    files = [
        TemplateFile(
            purpose="staff_followup",
            name="staff_followup_ru",
            language="ru",
            category="utility",
            body="Здравствуйте! {{1}} ответил на ваш вопрос, напишите нам.",
            body_parameters=["salon"],
        ),
        TemplateFile(purpose="feedback", name="feedback_ru", language="ru"),
        TemplateFile(
            purpose="staff_followup", name="staff_followup_en", language="en", category="marketing"
        ),
    ]
    templates.import_templates(db, DEMO_SALON_ID, files)
    templates.record_status(
        db, name="staff_followup_ru", language="ru", meta_status="APPROVED", salon_id=DEMO_SALON_ID
    )
    templates.record_status(
        db, name="feedback_ru", language="ru", meta_status="APPROVED", salon_id=DEMO_SALON_ID
    )
    templates.record_status(
        db,
        name="staff_followup_en",
        language="en",
        meta_status="REJECTED",
        reason="INVALID_FORMAT",
        salon_id=DEMO_SALON_ID,
    )
    db.commit()


def counts(db: Connection) -> tuple[int, int, int]:
    db.rollback()
    row = db.execute(
        "SELECT (SELECT count(*) FROM ai_messages WHERE role = 'staff') AS staff, "
        "(SELECT count(*) FROM message_costs) AS costs, "
        "(SELECT count(*) FROM staff_requests) AS keys"
    ).fetchone()
    return row["staff"], row["costs"], row["keys"]


def test_an_approved_followup_goes_out_once_priced_and_stored(
    staff_api: StaffApi, db: Connection, salons: Any, fake_whatsapp: FakeWhatsApp
) -> None:
    salon_templates(db)
    fake_whatsapp.add_template(
        "staff_followup_ru", "ru", body="Здравствуйте! {{1}} ответил на ваш вопрос, напишите нам."
    )
    long_ago = dt.datetime.now(dt.UTC) - dt.timedelta(hours=30)
    conversation = customer_conversation(
        db, DEMO_SALON_ID, CUSTOMER, "Можно перенести?", at=long_ago, handed_off=True
    )
    thread = staff_api.call(
        "GET", f"/api/v1/staff/conversations/{conversation}/messages", claims=STAFF
    )
    # The thread offers only the approved follow-up
    assert thread.body["window_open"] is False
    assert [(t["name"], t["language"]) for t in thread.body["templates"]] == [
        ("staff_followup_ru", "ru")
    ]
    # and so does the console's thread view, as a form in place of the disabled reply box
    view = staff_api.call(
        "GET", f"/api/v1/staff/views/thread/{conversation}", claims=STAFF, query={"lang": "en"}
    )
    assert view.status == 200
    assert 'data-action="template"' in view.body
    assert '<option value="staff_followup_ru|ru">' in view.body
    assert "staff_followup_en" not in view.body and "feedback_ru" not in view.body
    path = f"/api/v1/staff/conversations/{conversation}/templates"
    body = {"name": "staff_followup_ru", "language": "ru"}
    first = staff_api.call("POST", path, claims=STAFF, body=body, key="follow-1")
    again = staff_api.call("POST", path, claims=STAFF, body=body, key="follow-1")
    assert first.status == 201, first.body
    assert again.status == 201 and again.body == first.body
    assert again.headers.get("idempotent-replayed") == "true"
    # WhatsApp got one template message, with the salon's name as its parameter
    (message,) = fake_whatsapp.sent
    sent = message.payload
    assert sent["type"] == "template" and message.to == CUSTOMER.lstrip("+")
    assert sent["template"]["name"] == "staff_followup_ru"
    assert sent["template"]["components"][0]["parameters"][0]["type"] == "text"
    db.rollback()
    stored = db.execute(
        "SELECT content, staff_user, external_id FROM ai_messages "
        "WHERE conversation_id = %s AND role = 'staff'",
        (conversation,),
    ).fetchone()
    assert stored["external_id"] == first.body["whatsapp_message_id"]
    assert stored["staff_user"] == "anna@example.com"
    assert stored["content"].startswith("Здравствуйте! ") and "{{1}}" not in stored["content"]
    # priced from the rate table: a utility template outside the window is billed
    cost = db.execute(
        "SELECT category, price_usd, priced_by FROM message_costs WHERE wamid = %s",
        (first.body["whatsapp_message_id"],),
    ).fetchone()
    assert cost["category"] == "utility" and cost["price_usd"] > 0
    assert cost["priced_by"] == "rate_table"


def test_a_template_not_approved_or_not_a_followup_is_refused(
    staff_api: StaffApi, db: Connection, salons: Any, fake_whatsapp: FakeWhatsApp
) -> None:
    salon_templates(db)
    conversation = customer_conversation(db, DEMO_SALON_ID, CUSTOMER, "?", handed_off=True)
    path = f"/api/v1/staff/conversations/{conversation}/templates"
    before = counts(db)
    rejected = staff_api.call(
        "POST", path, claims=STAFF, body={"name": "staff_followup_en", "language": "en"}, key="r"
    )
    assert rejected.status == 409, rejected.body
    assert rejected.body["reason"] == "template_not_approved"
    assert "rejected (INVALID_FORMAT)" in rejected.body["message"]
    other_purpose = staff_api.call(
        "POST", path, claims=STAFF, body={"name": "feedback_ru", "language": "ru"}
    )
    assert other_purpose.status == 422 and other_purpose.body["detail"][0]["field"] == "name"
    unknown = staff_api.call("POST", path, claims=STAFF, body={"name": "nope", "language": "ru"})
    assert unknown.status == 422 and unknown.body["detail"][0]["field"] == "name"
    bad = staff_api.call("POST", path, claims=STAFF, body={"name": "X!", "language": "russian"})
    assert bad.status == 422
    assert {d["field"] for d in bad.body["detail"]} == {"name", "language"}
    # Another salon's staff cannot send into this conversation
    foreign = staff_api.call(
        "POST", path, claims=OTHER_SALON, body={"name": "staff_followup_ru", "language": "ru"}
    )
    assert foreign.status == 403
    assert fake_whatsapp.sent == []
    assert counts(db) == before


def test_an_opted_out_customer_gets_no_template(
    staff_api: StaffApi, db: Connection, salons: Any, fake_whatsapp: FakeWhatsApp
) -> None:
    salon_templates(db)
    conversation = customer_conversation(db, DEMO_SALON_ID, CUSTOMER, "СТОП", handed_off=True)
    db.execute(
        "INSERT INTO opt_outs (salon_id, phone, scope, source) VALUES (%s, %s, 'all', 'customer')",
        (DEMO_SALON_ID, CUSTOMER),
    )
    db.commit()
    refused = staff_api.call(
        "POST",
        f"/api/v1/staff/conversations/{conversation}/templates",
        claims=STAFF,
        body={"name": "staff_followup_ru", "language": "ru"},
    )
    assert refused.status == 409 and refused.body["reason"] == "opted_out"
    assert fake_whatsapp.sent == []
