"""The database address in AWS: from the RDS secret, with the stack's host or RDS Proxy
endpoint where the secret has none (RDS-managed master secrets hold only credentials)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws
from psycopg.conninfo import conninfo_to_dict

from salonbot.config import Settings
from salonbot.db.connection import pooled, resolve_dsn
from salonbot.errors import ConfigurationError


@pytest.fixture
def secrets(monkeypatch: pytest.MonkeyPatch) -> Iterator[object]:
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    with mock_aws():
        from aws_lambda_powertools.utilities import parameters

        parameters.clear_caches()
        yield boto3.client("secretsmanager")
        parameters.clear_caches()


def secret(client: Any, name: str, value: dict[str, object]) -> str:
    arn: str = client.create_secret(Name=name, SecretString=json.dumps(value))["ARN"]
    return arn


def test_an_rds_managed_secret_takes_its_host_from_the_stack(secrets: object) -> None:
    arn = secret(secrets, "rds-managed", {"username": "salonbot", "password": "p@ss word"})
    dsn = resolve_dsn(Settings(db_secret_arn=arn, db_host="db.internal", db_name="salonbot"))
    params = conninfo_to_dict(dsn)
    assert (params["host"], params["user"], params["dbname"]) == (
        "db.internal",
        "salonbot",
        "salonbot",
    )
    assert params["password"] == "p@ss word" and params["sslmode"] == "require"


def test_the_proxy_endpoint_wins_over_every_host(secrets: object) -> None:
    arn = secret(
        secrets, "full", {"username": "u", "password": "p", "host": "db.direct", "port": 5433}
    )
    settings = Settings(db_secret_arn=arn, db_host="db.other", db_proxy_endpoint="proxy.rds")
    params = conninfo_to_dict(resolve_dsn(settings))
    assert (params["host"], params["port"]) == ("proxy.rds", "5433")
    assert conninfo_to_dict(resolve_dsn(Settings(db_secret_arn=arn)))["host"] == "db.direct"


def test_no_host_anywhere_names_the_setting(secrets: object) -> None:
    arn = secret(secrets, "bare", {"username": "u", "password": "p"})
    with pytest.raises(ConfigurationError, match="DB_HOST"):
        resolve_dsn(Settings(db_secret_arn=arn))


def test_connections_through_rds_proxy_are_pooled_unless_told_otherwise() -> None:
    assert pooled(Settings(db_proxy_endpoint="proxy.rds"))
    assert not pooled(Settings(db_host="db.internal"))
    assert pooled(Settings(database_url="postgresql://pgbouncer/salonbot", db_pooled=True))
    assert not pooled(Settings(db_proxy_endpoint="proxy.rds", db_pooled=False))
