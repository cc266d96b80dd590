"""What ApiFunction hands X-Ray: a recording tracer provider stands in for aws_xray_sdk's,
and a turn's reply, conversation id and phone must appear in none of it."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from salonbot.booking.importer import import_salon
from salonbot.booking.salon_file import load_salon_file
from salonbot.db.connection import Connection
from salonbot.observability import get_tracer
from tests.conftest import DEMO_SALON_FILE, DEMO_SALON_ID
from tests.integration.api.conftest import Api

pytestmark = pytest.mark.integration

PHONE = "+79001234567"


class RecordedSubsegment:
    def __init__(self, name: str) -> None:
        self.name = name
        self.metadata: list[tuple[str, Any]] = []
        self.annotations: list[tuple[str, Any]] = []

    def put_metadata(self, key: str, value: Any, namespace: str = "default") -> None:
        self.metadata.append((key, value))

    def put_annotation(self, key: str, value: Any) -> None:
        self.annotations.append((key, value))

    def add_exception(self, exception: BaseException, stack: Any, remote: bool = False) -> None:
        self.metadata.append(("exception", str(exception)))


class RecordingProvider:
    def __init__(self) -> None:
        self.subsegments: list[RecordedSubsegment] = []

    @contextmanager
    def in_subsegment(self, name: str | None = None, **kwargs: Any) -> Iterator[Any]:
        subsegment = RecordedSubsegment(name or "")
        self.subsegments.append(subsegment)
        yield subsegment

    def recorded(self) -> str:
        return json.dumps(
            [(s.name, s.metadata, s.annotations) for s in self.subsegments],
            ensure_ascii=False,
            default=str,
        )


def test_a_turn_leaves_no_reply_or_phone_in_the_trace(
    api: Api, db: Connection, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given the demo salon and a tracer whose segments are recorded
    import_salon(db, load_salon_file(DEMO_SALON_FILE))
    db.commit()
    provider = RecordingProvider()
    monkeypatch.setattr(get_tracer(), "provider", provider)
    # When a customer's message is answered through the handler
    reply = api.process(
        {"salon_id": str(DEMO_SALON_ID), "phone_number": PHONE, "message": "Привет"}
    )
    assert reply.status == 200
    assert reply.body["response"]
    # Then the handler's segment was traced, with nothing of the customer in it
    assert [s.name for s in provider.subsegments] == ["## lambda_handler"]
    recorded = provider.recorded()
    assert reply.body["response"] not in recorded
    assert reply.body["conversation_id"] not in recorded
    assert PHONE.lstrip("+") not in recorded
