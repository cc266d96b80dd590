"""Fixtures: the fake model and the fake WhatsApp send API, one of each per test."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from salonbot_dev.fakes.whatsapp import FakeWhatsApp, start_fake_whatsapp
from tests.fakes.openai_server import FakeOpenAI


@pytest.fixture
def fake_openai() -> Iterator[FakeOpenAI]:
    fake = FakeOpenAI().start()
    yield fake
    fake.stop()
    assert fake.script_errors == [], "a scripted model step failed"


@pytest.fixture
def fake_whatsapp() -> Iterator[FakeWhatsApp]:
    fake = start_fake_whatsapp(out=None)
    yield fake
    fake.stop()
