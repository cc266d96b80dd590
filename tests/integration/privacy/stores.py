"""Where a phone is stored: the template's DynamoDB tables in moto, and searches of
every text-like PostgreSQL column and every DynamoDB item for a phone's forms."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from moto import mock_aws
from psycopg import sql

from salonbot.conversation.store import conversation_id
from salonbot.db.connection import Connection
from salonbot.privacy.customer_items import CustomerItems
from salonbot_dev.local.aws_resources import AwsClients, ResourceBuilder
from salonbot_dev.local.template import Resolver, Template
from tests.conftest import REPO_ROOT

REGION = "eu-west-1"
TEMPLATE = Template.load(REPO_ROOT / "template.yaml")
# The template's tables by the setting that names each in a function's environment.
TABLE_SETTINGS = {
    "rate_limit_table": "RateLimitTable",
    "idempotency_table": "IdempotencyTable",
    "cost_table": "CostTable",
}


def forms(salon_id: object, phone: str) -> list[str]:
    """Every form salonbot writes a phone in: E.164, WhatsApp's digits, the conversation id."""
    return [phone, phone.lstrip("+"), conversation_id(str(salon_id), phone)]


@dataclass
class Stores:
    """The template's DynamoDB tables in moto, by the setting that names each."""

    client: Any
    tables: dict[str, str]

    def items(self) -> CustomerItems:
        return CustomerItems(self.tables, client=self.client)

    def dump(self) -> dict[str, list[str]]:
        """Every item of every table, as JSON text."""
        found: dict[str, list[str]] = {}
        for name in self.client.list_tables()["TableNames"]:
            pages = self.client.get_paginator("scan").paginate(TableName=name)
            found[name] = [json.dumps(i, sort_keys=True) for p in pages for i in p["Items"]]
        return found


def template_tables(monkeypatch: pytest.MonkeyPatch) -> Iterator[Stores]:
    """Every DynamoDB table of template.yaml, from its own properties, in moto."""
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    for name in ("AWS_ENDPOINT_URL", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    tables = {
        logical_id: copy.deepcopy(resource)
        for logical_id, resource in TEMPLATE.resources_of_type("AWS::DynamoDB::Table").items()
    }
    with mock_aws():
        resolver = Resolver(Template({"Resources": tables}), region=REGION, stack_name="erasure")
        clients = AwsClients.for_endpoint(None, REGION)
        ResourceBuilder(resolver, clients).create_all()
        names = {setting: resolver.ref(lid) for setting, lid in TABLE_SETTINGS.items()}
        yield Stores(clients.dynamodb, names)


def pg_occurrences(conn: Connection, needles: list[str]) -> dict[str, int]:
    """Rows holding any of `needles`, per `table.column`, over every text-like column."""
    columns = conn.execute(
        """
        SELECT table_name, column_name FROM information_schema.columns
        WHERE table_schema = 'public'
          AND data_type IN ('text', 'character varying', 'character', 'json', 'jsonb', 'ARRAY')
        ORDER BY table_name, column_name
        """
    ).fetchall()
    assert {c["table_name"] for c in columns} >= {"clients", "inbound_messages", "ai_messages"}
    patterns = [f"%{n}%" for n in needles]
    found: dict[str, int] = {}
    for c in columns:
        query = sql.SQL("SELECT count(*) AS n FROM {} WHERE {}::text LIKE ANY(%s)").format(
            sql.Identifier(c["table_name"]), sql.Identifier(c["column_name"])
        )
        row = conn.execute(query, (patterns,)).fetchone()
        if row and row["n"]:
            found[f"{c['table_name']}.{c['column_name']}"] = int(row["n"])
    conn.commit()
    return found


def dynamo_occurrences(stores: Stores, needles: list[str]) -> dict[str, int]:
    found: dict[str, int] = {}
    for table, items in stores.dump().items():
        hits = sum(any(n in item for n in needles) for item in items)
        if hits:
            found[table] = hits
    return found
