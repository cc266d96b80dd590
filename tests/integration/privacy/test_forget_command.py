"""`salonbot forget --salon ID --phone P`: on a database with the environment's DynamoDB
tables, with the running local stack's tables (moto in server mode), and through the
deployed stack's AdminFunction (`--function`), as an operator runs it."""

from __future__ import annotations

import json
import os
import secrets
import time
from pathlib import Path
from typing import Any

import boto3
import pytest

from salonbot.assistant.throttle import CustomerThrottle
from salonbot.config import get_settings
from salonbot.conversation.store import conversation_id
from salonbot.db.connection import Connection, reset_connection
from salonbot.inbound.dedupe import DynamoSeenMessages, dedupe_key
from salonbot_dev.cli import main
from salonbot_dev.cli import privacy as privacy_command
from salonbot_dev.local.aws_resources import AwsClients, ResourceBuilder
from salonbot_dev.local.state import StackAddresses
from salonbot_dev.local.template import Resolver, Template
from tests.conftest import DEMO_SALON_ID
from tests.integration.privacy.stores import (
    REGION,
    TABLE_SETTINGS,
    TEMPLATE,
    Stores,
    dynamo_occurrences,
    pg_occurrences,
)
from tests.integration.processor.harness import import_demo_salon
from tests.integration.test_admin import InProcessLambda, event, invoke

pytestmark = pytest.mark.integration

PHONE = "+79001234567"
WAMID = f"wamid.{PHONE.lstrip('+')}.cli"


def seed(db: Connection, stores: Stores) -> None:
    """The customer's conversation and ledger row, their throttle window and the webhook's
    record of their message id."""
    import_demo_salon(db)
    cid = conversation_id(DEMO_SALON_ID, PHONE)
    db.execute(
        "INSERT INTO ai_conversations (id, salon_id, phone_number) VALUES (%s, %s, %s)",
        (cid, DEMO_SALON_ID, PHONE),
    )
    db.execute(
        """
        INSERT INTO inbound_messages (message_id, salon_id, conversation_id, phone_number,
                                      received_at)
        VALUES (%s, %s, %s, %s, now())
        """,
        (WAMID, DEMO_SALON_ID, cid, PHONE),
    )
    db.commit()
    CustomerThrottle(stores.tables["rate_limit_table"], client=stores.client).check(
        str(DEMO_SALON_ID), PHONE, WAMID
    )
    seen = DynamoSeenMessages(stores.tables["idempotency_table"], client=stores.client)
    owner = secrets.token_hex(8)
    seen.claim(dedupe_key(WAMID), time.time(), owner)
    seen.complete(dedupe_key(WAMID), time.time(), owner)
    salon_number = db.execute(
        "SELECT whatsapp_phone_number_id FROM salons WHERE id = %s", (DEMO_SALON_ID,)
    ).fetchone()
    db.commit()
    assert salon_number is not None
    seen.note_latest(
        salon_number["whatsapp_phone_number_id"],
        PHONE.lstrip("+"),
        WAMID,
        int(time.time()),
        time.time(),
    )


def forget(
    capsys: pytest.CaptureFixture[str], *argv: str, database_url: str | None = None
) -> tuple[int, str]:
    database = ["--database-url", database_url] if database_url else []
    code = main([*database, "forget", "--salon", str(DEMO_SALON_ID), "--phone", PHONE, *argv])
    captured = capsys.readouterr()
    return code, captured.out + captured.err


def assert_forgotten(db: Connection, stores: Stores) -> None:
    assert pg_occurrences(db, [PHONE.lstrip("+")]) == {}
    assert dynamo_occurrences(stores, [PHONE.lstrip("+")]) == {}


@pytest.fixture
def no_table_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    for setting in TABLE_SETTINGS:
        monkeypatch.delenv(setting.upper(), raising=False)


def test_on_a_database_with_the_environment_s_tables(
    db: Connection,
    database_url: str,
    stores: Stores,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    seed(db, stores)
    for setting, table in stores.tables.items():
        monkeypatch.setenv(setting.upper(), table)
    code, out = forget(capsys, "--json", database_url=database_url)
    assert code == 0, out
    report = json.loads(out)
    assert report["postgresql"]["ai_conversations"] == 1
    assert report["postgresql"]["inbound_messages"] == 1
    assert report["dynamodb"] == {
        "throttle_windows": 1,
        "seen_message_ids": 1,
        "latest_messages": 1,
        "cost_reservations": 0,
        "cost_customer_counters": 0,
    }
    assert_forgotten(db, stores)


def test_with_the_local_stack_s_tables(
    db: Connection,
    database_url: str,
    moto_url: str,
    tmp_path: Path,
    no_table_settings: None,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # Given the tables as `make dev` creates them (named <stack>-<logical id>) in moto
    resolver = Resolver(
        Template({"Resources": TEMPLATE.resources_of_type("AWS::DynamoDB::Table")}),
        region=REGION,
    )
    clients = AwsClients.for_endpoint(moto_url, REGION)
    ResourceBuilder(resolver, clients).create_all()
    names = {setting: resolver.ref(lid) for setting, lid in TABLE_SETTINGS.items()}
    stores = Stores(clients.dynamodb, names)
    seed(db, stores)
    # and the running stack's address book
    StackAddresses(
        pid=os.getpid(), gateway_url="", whatsapp_url="", aws_endpoint_url=moto_url,
        database_url=database_url, app_secret="", verify_token="", region=REGION,
    ).write(tmp_path)  # fmt: skip
    monkeypatch.setattr(privacy_command, "LOCAL_STATE_DIR", tmp_path)
    # When the operator forgets the customer
    code, out = forget(capsys, database_url=database_url)
    # Then the stack's tables were reached and the customer is gone
    assert code == 0, out
    assert f"forgot ***4567 of salon {DEMO_SALON_ID}" in out
    assert "throttle_windows" in out and "not reached" not in out
    assert_forgotten(db, stores)


def test_without_any_table_it_erases_the_database_and_says_what_it_did_not_reach(
    db: Connection,
    database_url: str,
    tmp_path: Path,
    no_table_settings: None,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    import_demo_salon(db)
    monkeypatch.setattr(privacy_command, "LOCAL_STATE_DIR", tmp_path)  # no stack there
    code, out = forget(capsys, database_url=database_url)
    assert code == 0, out
    for kind in (
        "throttle_windows",
        "seen_message_ids",
        "cost_reservations",
        "cost_customer_counters",
    ):
        assert f"{kind}: not reached" in out


def test_through_the_deployed_admin_function(
    db: Connection,
    database_url: str,
    stores: Stores,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # Given the function's environment: the database and the stack's tables
    seed(db, stores)
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("POWERTOOLS_TRACE_DISABLED", "true")
    for setting, table in stores.tables.items():
        monkeypatch.setenv(setting.upper(), table)
    get_settings.cache_clear()
    reset_connection()
    service = InProcessLambda()
    real_client = boto3.client

    def client(name: str, **kwargs: Any) -> Any:
        return service if name == "lambda" else real_client(name, **kwargs)

    monkeypatch.setattr(boto3, "client", client)
    function = "salonbot-prod-AdminFunction-Abc123"
    try:
        # When the operator forgets the customer through it
        code, out = forget(capsys, "--function", function, "--json")
        assert code == 0, out
        # Then the function was asked, and did it all
        assert service.calls == [
            (
                function,
                {"action": "forget_customer", "salon_id": str(DEMO_SALON_ID), "phone": PHONE},
            )
        ]
        report = json.loads(out)
        assert report["dynamodb"]["throttle_windows"] == 1
        assert report["postgresql"]["ai_conversations"] == 1
        assert_forgotten(db, stores)
        # and a salon it does not know is refused as not found (exit 3)
        code = main(["forget", "--salon", str(DEMO_SALON_ID).replace("1", "9"), "--phone",
                     PHONE, "--function", function])  # fmt: skip
        assert code == 3
        assert "no salon" in capsys.readouterr().err
    finally:
        get_settings.cache_clear()
        reset_connection()


def test_bad_input_is_refused_before_anything_runs(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["forget", "--salon", "nope", "--phone", PHONE]) == 2
    assert "--salon" in capsys.readouterr().err
    assert main(["forget", "--salon", str(DEMO_SALON_ID), "--phone", "12"]) == 2
    assert "phone" in capsys.readouterr().err


def test_the_admin_sample_event_forgets_the_demo_customer(
    db: Connection, database_url: str, no_table_settings: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    # `sam local invoke AdminFunction -e events/admin-forget-customer.json`, in-process
    import_demo_salon(db)
    db.execute(
        "INSERT INTO ai_conversations (id, salon_id, phone_number) VALUES (%s, %s, %s)",
        (conversation_id(DEMO_SALON_ID, PHONE), DEMO_SALON_ID, PHONE),
    )
    db.commit()
    monkeypatch.setenv("DATABASE_URL", database_url)
    get_settings.cache_clear()
    try:
        answer = invoke(event("admin-forget-customer.json"))
    finally:
        get_settings.cache_clear()
    assert answer["ok"] is True, answer
    assert (answer["salon_id"], answer["phone"]) == (str(DEMO_SALON_ID), "***4567")
    assert answer["postgresql"]["ai_conversations"] == 1
    assert answer["not_configured"] == [
        "throttle_windows",
        "seen_message_ids",
        "latest_messages",
        "cost_reservations",
        "cost_customer_counters",
    ]
