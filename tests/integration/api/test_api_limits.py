"""Input the API cannot use gets a 4xx, not a 500: a JSON body nested deeper than the
parser recurses, and a stats window whose ends lie out of any date's range."""

from __future__ import annotations

import json
import uuid

import pytest

from salonbot.booking.importer import import_salon
from salonbot.booking.salon_file import load_salon_file
from salonbot.db.connection import Connection
from tests.conftest import DEMO_SALON_FILE, DEMO_SALON_ID
from tests.integration.api.conftest import Api

pytestmark = pytest.mark.integration

DEPTH = 3000


@pytest.fixture
def demo(db: Connection) -> uuid.UUID:
    import_salon(db, load_salon_file(DEMO_SALON_FILE))
    db.commit()
    return DEMO_SALON_ID


def _nested(depth: int) -> str:
    return "[" * depth + "]" * depth


@pytest.mark.parametrize(
    "body",
    [
        _nested(DEPTH),
        json.dumps({"salon_id": str(DEMO_SALON_ID), "phone_number": "+79001234567"})[:-1]
        + ', "message": '
        + _nested(DEPTH)
        + "}",
        '{"a": ' * DEPTH + "1" + "}" * DEPTH,
    ],
    ids=["arrays", "inside_the_message", "objects"],
)
def test_a_body_nested_3000_deep_is_a_422_not_a_500(api: Api, demo: uuid.UUID, body: str) -> None:
    reply = api.process(None, raw=body)
    assert reply.status == 422, reply.body
    assert reply.body["statusCode"] == 422
    assert [d["type"] for d in reply.body["detail"]] == ["json_invalid"]


def test_a_body_nested_as_deep_as_the_parser_reads_is_validated_as_usual(
    api: Api, demo: uuid.UUID
) -> None:
    body = json.dumps(
        {"salon_id": str(DEMO_SALON_ID), "phone_number": "+79001234567", "message": "x"}
    )
    reply = api.process(None, raw=body.replace('"x"', _nested(500)))
    assert reply.status == 422, reply.body
    assert [d["field"] for d in reply.body["detail"]] == ["message"]


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({"to": "9999-12-31"}, "to"),
        ({"to": "0001-01-01"}, "to"),
        ({"from": "0001-01-01"}, "from"),
        ({"from": "2026-01-01", "to": "9999-12-31T23:59:59+00:00"}, "to"),
        ({"from": "0001-01-01T00:00:00+14:00", "to": "2026-01-01"}, "from"),
        ({"from": "1969-12-31", "to": "2026-01-01"}, "from"),
        ({"from": "2026-01-01", "to": "9001-01-01"}, "to"),
    ],
)
def test_a_stats_window_out_of_range_is_a_422_naming_the_bound(
    api: Api, demo: uuid.UUID, query: dict[str, str], field: str
) -> None:
    reply = api.stats({"salon_id": str(demo), **query})
    assert reply.status == 422, reply.body
    assert [d["field"] for d in reply.body["detail"]] == [field]


def test_the_widest_window_allowed_is_answered(api: Api, demo: uuid.UUID) -> None:
    reply = api.stats({"salon_id": str(demo), "from": "1970-01-01", "to": "9000-12-31"})
    assert reply.status == 200, reply.body
    assert reply.body["messages_received"] == 0
