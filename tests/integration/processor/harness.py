"""What the processor tests share: the demo salon at a fixed time, the fake model and
the fake WhatsApp send API on 127.0.0.1, queue bodies as the webhook enqueues them, and
a processor wired like production but with those fakes."""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

import yaml

from salonbot.assistant.agent import LlmAgent, openai_client
from salonbot.assistant.fallback import FixedReply
from salonbot.assistant.router import AssistantRouter
from salonbot.booking.catalog import Salon, load_salon
from salonbot.booking.importer import import_salon
from salonbot.booking.salon_file import validate_salon
from salonbot.config import Settings
from salonbot.cost.guard_protocol import UnlimitedSpend
from salonbot.db.connection import Connection
from salonbot.processing.pipeline import MessageProcessor
from salonbot.processing.queue import process_queue_body
from salonbot.processing.staff import StaffNotifier
from salonbot.whatsapp.client import WhatsAppClient
from salonbot.whatsapp.events import InboundMessage, InteractiveReply, QueueEnvelope
from salonbot_dev.fakes.whatsapp import FakeWhatsApp
from tests.conftest import DEMO_SALON_FILE
from tests.fakes.openai_server import FakeOpenAI

MOSCOW = ZoneInfo("Europe/Moscow")
# Monday 7 January 2030, 09:00 in Moscow. Anna does manicures Mon/Tue 10-14 and 15-20.
NOW = dt.datetime(2030, 1, 7, 9, 0, tzinfo=MOSCOW)
MONDAY = dt.date(2030, 1, 7)
TUESDAY = dt.date(2030, 1, 8)
CUSTOMER = "+79001234567"
OTHER_CUSTOMER = "+79007654321"
DEMO_PHONE_NUMBER_ID = "100000000000001"
ACCESS_TOKEN = "EAAG-test-access-token-123456"


class Clock:
    def __init__(self, now: dt.datetime = NOW) -> None:
        self.now = now

    def __call__(self) -> dt.datetime:
        return self.now


def demo_salon_data(**overrides: Any) -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(DEMO_SALON_FILE.read_text())
    data.update(overrides)
    return data


def import_demo_salon(conn: Connection, **overrides: Any) -> Salon:
    result = import_salon(conn, validate_salon(demo_salon_data(**overrides)))
    conn.commit()
    return load_salon(conn, result.salon_id)


def settings_for(
    fake_openai: FakeOpenAI | None, fake_whatsapp: FakeWhatsApp, **overrides: Any
) -> Settings:
    values: dict[str, Any] = {
        "openai_api_key": "sk-test-key-000000" if fake_openai else None,
        "openai_base_url": fake_openai.url if fake_openai else None,
        "openai_timeout_s": 5.0,
        "openai_retry_base_s": 0.01,
        "whatsapp_api_base_url": fake_whatsapp.url + "/v21.0",
        "whatsapp_access_token": ACCESS_TOKEN,
        "whatsapp_retry_base_s": 0.01,
        "whatsapp_timeout_s": 5.0,
    }
    values.update(overrides)
    return Settings(**values)


@dataclass
class Harness:
    """A processor wired like production, with the fakes and a fixed clock."""

    conn: Connection
    settings: Settings
    clock: Clock
    whatsapp: WhatsAppClient
    router: AssistantRouter
    staff: StaffNotifier
    processor: MessageProcessor
    ids: Iterator[int] = field(default_factory=lambda: itertools.count(1))

    def body(
        self,
        text: str | None,
        *,
        wamid: str | None = None,
        phone: str = CUSTOMER,
        phone_number_id: str = DEMO_PHONE_NUMBER_ID,
        interactive: InteractiveReply | None = None,
        kind: str = "text",
    ) -> str:
        message = InboundMessage(
            phone_number_id=phone_number_id,
            message_id=wamid or f"wamid.test.{next(self.ids)}",
            wa_id=phone.lstrip("+"),
            timestamp=self.clock.now,
            type="interactive" if interactive else kind,
            text=text,
            interactive=interactive,
            contact_name="Мария",
        )
        return QueueEnvelope(event=message, enqueued_at=self.clock.now).model_dump_json()

    def say(self, text: str, **kwargs: Any) -> str:
        """Process one customer message; the processor's outcome."""
        return process_queue_body(self.body(text, **kwargs), self.processor)

    def process(self, body: str) -> str:
        return process_queue_body(body, self.processor)


def build_harness(
    conn: Connection,
    settings: Settings,
    *,
    clock: Clock | None = None,
    guard: Any = None,
    staff: StaffNotifier | None = None,
    whatsapp: WhatsAppClient | None = None,
    **parts: Any,
) -> Harness:
    """`parts`: the processor's optional parts (`receipts`, `voice_notes`, `bursts`)."""
    clock = clock or Clock()
    client = openai_client(settings)
    agent = (
        LlmAgent(client, settings, guard=guard or UnlimitedSpend(), clock=clock)
        if client is not None
        else None
    )
    router = AssistantRouter(agent=agent, fallback=FixedReply())
    return wire(conn, settings, router, clock=clock, staff=staff, whatsapp=whatsapp, **parts)


def wire(
    conn: Connection,
    settings: Settings,
    router: AssistantRouter,
    *,
    clock: Clock,
    staff: StaffNotifier | None = None,
    whatsapp: WhatsAppClient | None = None,
    **parts: Any,
) -> Harness:
    """The processor around `router`, on the test's connection and clock."""
    whatsapp = whatsapp or WhatsAppClient(settings)
    staff = staff or StaffNotifier(None)
    processor = MessageProcessor(
        settings,
        assistant=router,
        whatsapp=whatsapp,
        staff=staff,
        connection=lambda: conn,
        clock=clock,
        **parts,
    )
    return Harness(conn, settings, clock, whatsapp, router, staff, processor)


def sent_texts(fake: FakeWhatsApp, phone: str = CUSTOMER) -> list[str]:
    return fake.texts_to(phone)


def rows(conn: Connection, sql: str, *params: Any) -> list[dict[str, Any]]:
    result = conn.execute(sql, params).fetchall()
    conn.commit()
    return result


def bookings_of(conn: Connection, phone: str = CUSTOMER) -> list[dict[str, Any]]:
    return rows(
        conn,
        "SELECT b.code, b.status, b.starts_at, m.code AS master, s.code AS service, "
        "b.source_message_id FROM bookings b JOIN clients c ON c.id = b.client_id "
        "JOIN masters m ON m.id = b.master_id JOIN services s ON s.id = b.service_id "
        "WHERE c.phone = %s ORDER BY b.id",
        phone,
    )
