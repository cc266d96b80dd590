"""A crash (the container dies: no handler runs) right after each side effect of the
processor, then the queue's redelivery: one booking and one reply in the end. The points
after commit and after the HTTP send are in tests/integration/processor/test_redelivery.py;
these are the ones inside the transaction, and the one between marking a reply
`sending` and its HTTP request, whose honest outcome is at most one reply (see
docs/faults.md)."""

from __future__ import annotations

from collections.abc import Callable
from types import ModuleType
from typing import Any

import pytest

from salonbot.booking import store as booking_store
from salonbot.conversation import store as conversations
from salonbot.db.connection import Connection
from salonbot.processing import ledger, pipeline
from salonbot_dev.fakes.whatsapp import FakeWhatsApp
from tests.fakes.openai_server import Answer, FakeOpenAI, ModelRequest, ToolCall
from tests.integration.processor.harness import (
    bookings_of,
    build_harness,
    import_demo_salon,
    rows,
    sent_texts,
    settings_for,
)

pytestmark = pytest.mark.integration


class Crash(BaseException):
    """The process dies here: nothing after it runs, no handler catches it."""


def _model(request: ModelRequest) -> Answer:
    """Books when asked, confirms once the tool answered: the same on every redelivery,
    wherever the previous attempt died."""
    results = request.tool_results()
    if results:
        return Answer(f"Записали! Код {results[-1]['booked']['code']}.")
    return Answer(
        tool_calls=[ToolCall("book", {"service": "manicure", "start": "2030-01-07 12:00"})]
    )


def _book_and_confirm() -> list[Any]:
    return [_model, _model]


def _always(*args: Any, **kwargs: Any) -> bool:
    return True


def _marks_sending(*args: Any, **kwargs: Any) -> bool:
    return len(args) > 3 and args[3] == ledger.SENDING


# (name, module, function, which calls crash after running)
INSIDE_THE_TRANSACTION: list[tuple[str, ModuleType, str, Callable[..., bool]]] = [
    ("ledger_claimed", ledger, "claim", _always),
    ("booking_inserted", booking_store, "create_booking", _always),
    ("messages_stored", conversations, "append_messages", _always),
    ("reply_saved", ledger, "save_reply", _always),
]


def _crash_after(
    monkeypatch: pytest.MonkeyPatch, module: ModuleType, name: str, when: Callable[..., bool]
) -> list[bool]:
    original = getattr(module, name)
    crashed: list[bool] = []

    def wrapper(*args: Any, **kwargs: Any) -> Any:
        result = original(*args, **kwargs)
        if not crashed and when(*args, **kwargs):
            crashed.append(True)
            raise Crash
        return result

    monkeypatch.setattr(module, name, wrapper)
    return crashed


@pytest.mark.parametrize(
    ("module", "function", "when"),
    [(m, f, w) for _, m, f, w in INSIDE_THE_TRANSACTION],
    ids=[name for name, *_ in INSIDE_THE_TRANSACTION],
)
def test_a_crash_inside_the_transaction_converges_to_one_booking_and_one_reply(
    db: Connection,
    fake_openai: FakeOpenAI,
    fake_whatsapp: FakeWhatsApp,
    monkeypatch: pytest.MonkeyPatch,
    module: ModuleType,
    function: str,
    when: Callable[..., bool],
) -> None:
    import_demo_salon(db)
    harness = build_harness(db, settings_for(fake_openai, fake_whatsapp))
    body = harness.body("Маникюр сегодня в 12:00")
    fake_openai.add(*_book_and_confirm(), *_book_and_confirm())

    # Given a container that dies right after this side effect
    with monkeypatch.context() as patched:
        crashed = _crash_after(patched, module, function, when)
        with pytest.raises(Crash):
            harness.process(body)
    assert crashed
    # Then nothing of the turn outlived it: it all was one transaction
    assert bookings_of(db) == [] and sent_texts(fake_whatsapp) == []
    assert rows(db, "SELECT count(*) AS n FROM inbound_messages")[0]["n"] == 0
    assert rows(db, "SELECT count(*) AS n FROM ai_messages")[0]["n"] == 0

    # When SQS redelivers the message (twice, for good measure)
    assert harness.process(body) == pipeline.REPLIED
    assert harness.process(body) == pipeline.REPLIED

    # Then one booking, one reply naming it
    (booking,) = bookings_of(db)
    assert sent_texts(fake_whatsapp) == [f"Записали! Код {booking['code']}."]
    assert [r["role"] for r in rows(db, "SELECT role FROM ai_messages ORDER BY id")] == [
        "user",
        "assistant",
    ]


def test_a_crash_between_marking_the_reply_sending_and_sending_it_never_sends_twice(
    db: Connection,
    fake_openai: FakeOpenAI,
    fake_whatsapp: FakeWhatsApp,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import_demo_salon(db)
    harness = build_harness(db, settings_for(fake_openai, fake_whatsapp))
    body = harness.body("Маникюр сегодня в 12:00")
    fake_openai.add(*_book_and_confirm())

    # Given a container that dies after committing `sending`, before the HTTP request
    with monkeypatch.context() as patched:
        crashed = _crash_after(patched, ledger, "mark_item", _marks_sending)
        with pytest.raises(Crash):
            harness.process(body)
    assert crashed

    # When the message is redelivered
    assert harness.process(body) == pipeline.REPLY_FAILED
    assert harness.process(body) == pipeline.REPLY_FAILED

    # Then the booking stands, once, and the reply is never sent twice: the redelivery
    # cannot tell this crash from one during the request, so it sends nothing (at most
    # once), and the ledger says so for the operator
    (booking,) = bookings_of(db)
    assert booking["status"] == "confirmed"
    assert fake_whatsapp.requests == []
    (entry,) = rows(db, "SELECT reply_status, reply_error, reply FROM inbound_messages")
    assert entry["reply_status"] == "failed"
    assert entry["reply_error"] == "send interrupted; not repeated"
    assert [item["state"] for item in entry["reply"]] == ["unknown"]
    assert len(fake_openai.requests) == 2
