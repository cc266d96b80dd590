"""The salon's templates at Meta: `salonbot templates push|status` against the fake Graph
API over HTTP, and the `message_template_status_update` webhook through the processor."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator

import pytest

from salonbot.db.connection import Connection
from salonbot.outbound import templates
from salonbot.whatsapp.events import QueueEnvelope, TemplateStatus
from salonbot_dev.cli import main
from salonbot_dev.fakes.whatsapp import FakeWhatsApp, start_fake_whatsapp
from tests.integration.outbound.test_reminders import REMINDER_TEMPLATES
from tests.integration.processor.harness import build_harness, import_demo_salon, settings_for

pytestmark = pytest.mark.integration

WABA = "102290129340398"


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeWhatsApp]:
    server = start_fake_whatsapp(out=None)
    monkeypatch.setenv("WHATSAPP_API_BASE_URL", server.url + "/v21.0")
    monkeypatch.setenv("WHATSAPP_ACCESS_TOKEN", "EAAG-test-token-000")
    from salonbot.config import get_settings

    get_settings.cache_clear()
    yield server
    server.stop()
    get_settings.cache_clear()


def statuses(db: Connection, salon_id: object) -> dict[str, str]:
    return {t.language: t.status for t in templates.salon_templates(db, salon_id)}  # type: ignore[arg-type]


def cli(database_url: str, capsys: pytest.CaptureFixture[str], *argv: str) -> object:
    assert main(["--database-url", database_url, *argv, "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def test_push_submits_templates_and_status_reads_metas_verdicts(
    db: Connection, database_url: str, fake: FakeWhatsApp, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given a salon file with two templates, never submitted
    salon = import_demo_salon(
        db, whatsapp_business_account_id=WABA, whatsapp_templates=REMINDER_TEMPLATES
    )
    assert statuses(db, salon.id) == {"ru": "draft", "en": "draft"}
    # When they are pushed
    pushed = cli(database_url, capsys, "templates", "push", "--salon", str(salon.id))
    # Then Meta holds them, pending, with examples and buttons in their language
    assert {row["status"] for row in pushed} == {"pending"}  # type: ignore[attr-defined]
    ru = fake.templates[("visit_reminder", "ru")]
    assert ru.waba_id == WABA and ru.category == "UTILITY"
    body, buttons = ru.components
    assert body["text"] == REMINDER_TEMPLATES[0]["body"]
    assert len(body["example"]["body_text"][0]) == 4
    assert [b["text"] for b in buttons["buttons"]] == ["Подтвердить", "Отменить", "Перенести"]
    # When Meta approves one and rejects the other, `status` shows it
    fake.approve("visit_reminder", "ru")
    fake.approve("visit_reminder", "en", "REJECTED")
    shown = cli(database_url, capsys, "templates", "status", "--salon", str(salon.id))
    assert {r["language"]: r["status"] for r in shown} == {"ru": "approved", "en": "rejected"}  # type: ignore[attr-defined]
    # A re-import of an unchanged file keeps the verdicts; a changed body is a draft again
    changed = [
        dict(REMINDER_TEMPLATES[0]),
        dict(REMINDER_TEMPLATES[1], body="Hi {{1}} {{2}} {{3}} {{4}}"),
    ]
    import_demo_salon(db, whatsapp_business_account_id=WABA, whatsapp_templates=changed)
    assert statuses(db, salon.id) == {"ru": "approved", "en": "draft"}


def test_push_without_a_business_account_is_a_clear_error(
    db: Connection, database_url: str, fake: FakeWhatsApp, capsys: pytest.CaptureFixture[str]
) -> None:
    salon = import_demo_salon(db, whatsapp_templates=REMINDER_TEMPLATES)
    assert (
        main(["--database-url", database_url, "templates", "push", "--salon", str(salon.id)]) != 0
    )
    assert "whatsapp_business_account_id" in capsys.readouterr().err
    assert fake.templates == {}


def test_the_template_status_webhook_updates_the_salons_template(
    db: Connection, fake: FakeWhatsApp
) -> None:
    salon = import_demo_salon(
        db, whatsapp_business_account_id=WABA, whatsapp_templates=REMINDER_TEMPLATES
    )
    other = import_demo_salon(
        db,
        id="3f0c1a52-0000-4000-8000-0000000000c2",
        whatsapp_phone_number_id="100000000000002",
        whatsapp_business_account_id="999999999999",
        whatsapp_templates=REMINDER_TEMPLATES,
    )
    harness = build_harness(db, settings_for(None, fake))
    now = dt.datetime(2030, 1, 7, 6, 0, tzinfo=dt.UTC)
    for event, language in (("APPROVED", "ru"), ("PAUSED", "en")):
        verdict = TemplateStatus(
            waba_id=WABA,
            template_id="594425479261596",
            name="visit_reminder",
            language=language,
            event=event,
            timestamp=now,
        )
        harness.process(QueueEnvelope(event=verdict, enqueued_at=now).model_dump_json())
    assert statuses(db, salon.id) == {"ru": "approved", "en": "paused"}
    # Another salon's business account is not touched
    assert statuses(db, other.id) == {"ru": "draft", "en": "draft"}
