"""Fixtures: the template's DynamoDB tables in moto, and the processor tests' fakes."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.integration.privacy.stores import Stores, template_tables

# The fake model and the fake send API, one of each per test, as the processor tests use.
from tests.integration.processor.conftest import fake_openai, fake_whatsapp  # noqa: F401


@pytest.fixture
def stores(monkeypatch: pytest.MonkeyPatch) -> Iterator[Stores]:
    yield from template_tables(monkeypatch)
