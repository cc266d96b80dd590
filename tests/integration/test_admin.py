"""AdminFunction with the sample events: the migrations custom resource answers
CloudFormation on its response URL (SUCCESS with what it applied, FAILED with a reason,
never silence), Delete leaves the data alone, and the direct actions import a salon or
refuse bad input by field without writing."""

from __future__ import annotations

import io
import json
import threading
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from salonbot.config import get_settings
from salonbot.db.connection import connect, reset_connection
from salonbot.db.migrate import available_migrations
from tests.conftest import DEMO_SALON_ID
from tests.integration.test_scheduled_handlers import FakeContext, event, load_handler

pytestmark = pytest.mark.integration


class CloudFormation:
    """Stands in for the pre-signed S3 URL: keeps every response PUT."""

    def __init__(self) -> None:
        self.responses: list[dict[str, Any]] = []
        self.content_types: list[str | None] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_PUT(self) -> None:
                length = int(self.headers["Content-Length"])
                outer.responses.append(json.loads(self.rfile.read(length)))
                outer.content_types.append(self.headers.get("Content-Type"))
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/response?X-Amz-Signature=x"

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def cloudformation() -> Iterator[CloudFormation]:
    fake = CloudFormation()
    yield fake
    fake.stop()


@pytest.fixture
def empty_database(database_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A database with no schema yet, as after `sam deploy` creates the stack."""
    name = f"salonbot_admin_{uuid.uuid4().hex[:8]}"
    with connect(database_url) as admin:
        admin.autocommit = True
        admin.execute(f'CREATE DATABASE "{name}"')
    params = conninfo_to_dict(database_url)
    params["dbname"] = name
    url = make_conninfo(**params)
    monkeypatch.setenv("DATABASE_URL", url)
    monkeypatch.setenv("POWERTOOLS_TRACE_DISABLED", "true")
    get_settings.cache_clear()
    reset_connection()
    yield url
    get_settings.cache_clear()
    reset_connection()
    with connect(database_url) as admin:
        admin.autocommit = True
        admin.execute("SET statement_timeout = 0")
        admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')


def custom_resource_event(kind: str, url: str) -> dict[str, Any]:
    sample = event("admin-migrations-create.json")
    sample["RequestType"] = kind
    sample["ResponseURL"] = url
    if kind != "Create":
        sample["PhysicalResourceId"] = "salonbot-database-migrations"
    return sample


def invoke(payload: dict[str, Any]) -> dict[str, Any]:
    result: dict[str, Any] = load_handler("admin").lambda_handler(payload, FakeContext())
    return result


def tables(url: str) -> set[str]:
    with connect(url) as conn:
        rows = conn.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public'"
        ).fetchall()
    return {row["tablename"] for row in rows}


def test_a_deploy_migrates_once_and_tells_cloudformation(
    empty_database: str, cloudformation: CloudFormation
) -> None:
    everything = [f"{m.version:04d}_{m.name}" for m in available_migrations()]

    # When the stack is created
    invoke(custom_resource_event("Create", cloudformation.url))
    # Then the schema is there and CloudFormation heard SUCCESS, for the same request
    assert {"salons", "bookings", "ai_conversations", "ai_messages"} <= tables(empty_database)
    (created,) = cloudformation.responses
    assert created["Status"] == "SUCCESS"
    assert created["Data"] == {"Applied": len(everything), "Migrations": ",".join(everything)}
    assert created["RequestId"] == "5c6d7e8f-9a0b-4c1d-8e2f-3a4b5c6d7e8f"
    assert created["LogicalResourceId"] == "DatabaseMigrations"
    assert created["PhysicalResourceId"] == "salonbot-database-migrations"
    # The pre-signed URL's signature covers no content type
    assert cloudformation.content_types == [""]

    # When a later deploy sends an Update, nothing is applied twice
    invoke(custom_resource_event("Update", cloudformation.url))
    assert cloudformation.responses[-1]["Status"] == "SUCCESS"
    assert cloudformation.responses[-1]["Data"]["Applied"] == 0

    # When the stack is deleted, the data stays
    invoke(custom_resource_event("Delete", cloudformation.url))
    assert cloudformation.responses[-1]["Status"] == "SUCCESS"
    assert "bookings" in tables(empty_database)


def test_a_failed_migration_fails_the_deploy_with_a_reason(
    empty_database: str, cloudformation: CloudFormation, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgresql://salonbot@127.0.0.1:9/none?connect_timeout=1")
    get_settings.cache_clear()

    invoke(custom_resource_event("Create", cloudformation.url))

    (answer,) = cloudformation.responses
    assert answer["Status"] == "FAILED"
    assert answer["Reason"].startswith("migrations failed: OperationalError")
    assert "log stream 2026/11/26/[$LATEST]" in answer["Reason"]


def test_an_operator_imports_a_salon_through_the_function(empty_database: str) -> None:
    assert invoke({"action": "migrate"})["ok"] is True

    result = invoke(event("admin-import-salon.json"))

    assert result["ok"] is True and result["salon_id"] == str(DEMO_SALON_ID)
    assert result["created"] is True and result["services"] >= 6 and result["masters"] >= 3
    # and the same file again updates it in place
    again = invoke(event("admin-import-salon.json"))
    assert (again["created"], again["revision"]) == (False, result["revision"] + 1)


def test_bad_input_is_refused_by_field_and_writes_nothing(empty_database: str) -> None:
    invoke({"action": "migrate"})
    salon = event("admin-import-salon.json")["salon"]
    salon["masters"][0]["services"] = ["no-such-service"]

    refused = invoke({"action": "import_salon", "salon": salon})

    assert refused["ok"] is False
    assert refused["field"].startswith("masters[0].services")
    with connect(empty_database) as conn:
        assert conn.execute("SELECT count(*) AS n FROM salons").fetchone() == {"n": 0}
    assert invoke({"action": "drop_everything"}) == {
        "ok": False,
        "error": "expected 'migrate', 'import_salon' or 'forget_customer'",
        "field": "action",
    }


class InProcessLambda:
    """The Lambda Invoke API answered by the AdminFunction handler in this process."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, dict[str, Any]]] = []

    def invoke(self, FunctionName: str, InvocationType: str, Payload: bytes) -> dict[str, Any]:
        payload = json.loads(Payload)
        self.calls.append((FunctionName, payload))
        try:
            body = invoke(payload)
        except Exception as exc:
            error = {"errorMessage": str(exc), "errorType": type(exc).__name__}
            return {"StatusCode": 200, "FunctionError": "Unhandled", "Payload": _body(error)}
        return {"StatusCode": 200, "Payload": _body(body)}


def _body(data: Any) -> io.BytesIO:
    return io.BytesIO(json.dumps(data).encode())


def test_the_cli_migrates_and_imports_through_the_deployed_function(
    empty_database: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import boto3

    from salonbot_dev.cli import main
    from tests.conftest import DEMO_SALON_FILE

    service = InProcessLambda()
    monkeypatch.setattr(boto3, "client", lambda name, **_: service)
    function = "salonbot-prod-AdminFunction-Abc123"

    assert main(["migrate", "--function", function]) == 0
    assert main(["salon", "import", str(DEMO_SALON_FILE), "--function", function]) == 0

    out = capsys.readouterr().out
    assert f"created salon {DEMO_SALON_ID}" in out and "applied 0001_" in out
    assert [(name, call["action"]) for name, call in service.calls] == [
        (function, "migrate"),
        (function, "import_salon"),
    ]
    # the file travels as written (days off as dates in YAML become ISO strings)
    assert service.calls[1][1]["salon"]["id"] == str(DEMO_SALON_ID)


def test_the_cli_reports_what_the_function_refused(
    empty_database: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Any,
) -> None:
    import boto3

    from salonbot_dev.cli import main

    monkeypatch.setattr(boto3, "client", lambda name, **_: InProcessLambda())
    # The schema is missing: the function fails, the CLI says so and exits 1
    demo = tmp_path / "salon.json"
    demo.write_text(json.dumps(event("admin-import-salon.json")["salon"], ensure_ascii=False))

    assert main(["salon", "import", str(demo), "--function", "admin"]) == 1
    assert "admin failed:" in capsys.readouterr().err
