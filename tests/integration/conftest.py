"""Integration fixtures shared across modules."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from salonbot_dev.local.moto_server import MotoServer


@pytest.fixture(scope="module")
def moto_url() -> Iterator[str]:
    """moto in server mode on 127.0.0.1 (a free port), one per test module."""
    server = MotoServer()
    url = server.start()
    yield url
    server.stop()
