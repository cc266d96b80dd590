"""`salonbot doctor --local` on the stack `make dev` runs: it passes, the sandbox test
message leaves nothing behind, and removing a piece (an AI table, a migration, the
queue, a table, the gateway, the stack itself; a model key the API rejects) fails the
item it breaks, naming the fix. With the kill switch off, a configured model is never
called."""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import shutil
import subprocess
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import boto3
import psycopg
import pytest

from salonbot.conversation.sandbox import SANDBOX_PHONE, SANDBOX_WA_ID
from salonbot_dev.doctor import Report, run_checks
from salonbot_dev.doctor.local import LocalDoctor
from salonbot_dev.fakes.conversation import Outbox
from salonbot_dev.local.state import StackAddresses
from tests.e2e.stack_process import REPO_ROOT, SALONBOT, StackProcess, free_port
from tests.fakes.openai_server import FakeOpenAI

pytestmark = pytest.mark.e2e

# The stack and the CLI run this checkout's code (a worktree's, too).
CODE_PATH = {"PYTHONPATH": os.pathsep.join(str(REPO_ROOT / p) for p in ("layers/common", "dev"))}
NOT_LOCAL = ("alarms", "logging", "backups")


@contextlib.contextmanager
def state_folder() -> Iterator[Path]:
    """Outside pytest's temporary root: another pytest session on this machine resets that
    root's mode to 0700, which locks the embedded PostgreSQL's own user out of its data."""
    folder = Path(tempfile.mkdtemp(prefix="salonbot-doctor-"))
    yield folder / "state"
    shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(scope="module")
def stack() -> Iterator[StackProcess]:
    with state_folder() as state_dir:
        process = StackProcess(state_dir, extra_env=CODE_PATH)
        process.start()
        yield process
        if process.process is not None and process.process.poll() is None:
            process.stop()


@pytest.fixture(scope="module")
def addresses(stack: StackProcess) -> StackAddresses:
    assert stack.addresses is not None
    return stack.addresses


def salonbot(state_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, **CODE_PATH, "SALONBOT_LOCAL_DIR": str(state_dir)}
    return subprocess.run(
        [str(SALONBOT), *args], env=env, cwd=REPO_ROOT, capture_output=True, text=True, timeout=120
    )


def doctor(addresses: StackAddresses, state_dir: Path, **kwargs: Any) -> Report:
    target = LocalDoctor(addresses, state_dir=state_dir, **kwargs)
    return run_checks(target, target.description)


def by_check(report: Report) -> dict[str, list[tuple[str, str, str | None]]]:
    found: dict[str, list[tuple[str, str, str | None]]] = {}
    for f in report.findings:
        found.setdefault(f.check, []).append((f.status, f.detail, f.fix))
    return found


def sandbox_rows(database_url: str) -> dict[str, int]:
    with psycopg.connect(database_url) as conn:
        return {
            table: conn.execute(
                f"SELECT count(*) FROM {table} WHERE {column} = %s", (value,)
            ).fetchone()[0]
            for table, column, value in (
                ("clients", "phone", SANDBOX_PHONE),
                ("ai_conversations", "phone_number", SANDBOX_PHONE),
                ("inbound_messages", "phone_number", SANDBOX_PHONE),
                ("message_statuses", "recipient", SANDBOX_WA_ID),
            )
        }


def sql(addresses: StackAddresses, *statements: str) -> None:
    with psycopg.connect(addresses.database_url) as conn:
        for statement in statements:
            conn.execute(statement)


def aws(addresses: StackAddresses, service: str) -> Any:
    return boto3.client(
        service,
        endpoint_url=addresses.aws_endpoint_url,
        region_name=addresses.region,
        aws_access_key_id="local",
        aws_secret_access_key="local",
    )


def test_doctor_local_passes_on_the_running_stack(
    stack: StackProcess, addresses: StackAddresses
) -> None:
    # When `salonbot doctor --local --json` runs against `make dev`'s stack
    done = salonbot(stack.state_dir, "doctor", "--local", "--json")

    # Then it passes: every item checkable locally is ok, the rest say why not
    assert done.returncode == 0, done.stdout + done.stderr + stack.output()
    report = json.loads(done.stdout)
    assert report["ok"] is True
    statuses = {}
    for f in report["findings"]:
        statuses.setdefault(f["check"], []).append(f["status"])
        if f["status"] == "skip":
            assert "not checkable locally" in f["detail"]
    assert statuses == {
        "database": ["ok"],
        "openai": ["warn"],  # no key: guided flow only
        "settings": ["ok"],
        "health": ["ok"],
        "test_message": ["ok", "ok"],  # through the webhook, and process-message
        "webhook": ["ok", "skip"],
        "cost_monitoring": ["ok", "skip"],
        "alarms": ["skip"],
        "logging": ["skip"],
        "backups": ["skip"],
        "throttling": ["ok", "skip"],
        "error_handling": ["ok"],
        "ai_switch": ["ok"],
    }
    openai = next(f for f in report["findings"] if f["check"] == "openai")
    assert openai["detail"].startswith("not configured: guided flow only")
    # And the test message went all the way to the (fake) WhatsApp send API ...
    assert Outbox(addresses.whatsapp_url).sent_to(SANDBOX_WA_ID)
    # ... leaving no conversation, ledger row, client or booking behind
    assert sandbox_rows(addresses.database_url) == {
        "clients": 0,
        "ai_conversations": 0,
        "inbound_messages": 0,
        "message_statuses": 0,
    }
    with psycopg.connect(addresses.database_url) as conn:
        assert conn.execute(
            "SELECT count(*) FROM bookings b JOIN clients c ON c.id = b.client_id "
            "WHERE c.phone = %s",
            (SANDBOX_PHONE,),
        ).fetchone() == (0,)


def _recreate_queue(addresses: StackAddresses) -> Callable[[], None]:
    sqs = aws(addresses, "sqs")
    url = addresses.settings["QUEUE_URL"]
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    kept = {
        k: v
        for k, v in attributes.items()
        if k
        in (
            "FifoQueue",
            "ContentBasedDeduplication",
            "DeduplicationScope",
            "FifoThroughputLimit",
            "VisibilityTimeout",
            "MessageRetentionPeriod",
            "RedrivePolicy",
        )
    }
    sqs.delete_queue(QueueUrl=url)

    def restore() -> None:
        sqs.create_queue(QueueName=url.rsplit("/", 1)[-1], Attributes=kept)

    return restore


def _recreate_table(addresses: StackAddresses, setting: str) -> Callable[[], None]:
    dynamodb = aws(addresses, "dynamodb")
    name = addresses.settings[setting]
    table = dynamodb.describe_table(TableName=name)["Table"]
    dynamodb.delete_table(TableName=name)

    def restore() -> None:
        dynamodb.create_table(
            TableName=name,
            KeySchema=table["KeySchema"],
            AttributeDefinitions=table["AttributeDefinitions"],
            BillingMode="PAY_PER_REQUEST",
        )

    return restore


def _rename_table(addresses: StackAddresses) -> Callable[[], None]:
    sql(addresses, "ALTER TABLE ai_messages RENAME TO ai_messages_away")
    return lambda: sql(addresses, "ALTER TABLE ai_messages_away RENAME TO ai_messages")


# (what is removed, how, the checks it must fail, a phrase of the fix)
PIECES: list[tuple[str, Callable[[StackAddresses], Callable[[], None]], set[str], str]] = [
    ("an AI table", _rename_table, {"database", "test_message"}, "delete .local/pgdata"),
    (
        "the inbound queue",
        _recreate_queue,
        {"settings", "test_message", "error_handling"},
        "make dev",
    ),
    (
        "the cost table",
        lambda a: _recreate_table(a, "COST_TABLE"),
        {"settings", "cost_monitoring"},
        "make dev",
    ),
    (
        "the throttle table",
        lambda a: _recreate_table(a, "RATE_LIMIT_TABLE"),
        {"settings", "throttling"},
        "make dev",
    ),
]


@pytest.mark.parametrize(("piece", "remove", "broken", "fix"), PIECES, ids=[p[0] for p in PIECES])
def test_a_missing_piece_fails_naming_its_fix(
    stack: StackProcess,
    addresses: StackAddresses,
    piece: str,
    remove: Callable[[StackAddresses], Callable[[], None]],
    broken: set[str],
    fix: str,
) -> None:
    # Given the stack with one piece removed
    restore = remove(addresses)
    try:
        # When the doctor runs
        report = doctor(addresses, stack.state_dir, reply_timeout_s=5)
    finally:
        restore()

    # Then exactly the items that piece serves fail, each with a fix naming what to do
    failed = {f.check for f in report.failed}
    assert failed == broken, report.lines()
    assert all(f.fix for f in report.failed)
    assert any(fix in (f.fix or "") for f in report.failed), report.lines()
    # and once the piece is back, the doctor passes again
    again = doctor(addresses, stack.state_dir)
    assert again.failed == [], again.lines()


def test_a_migration_not_applied_fails_and_its_fix_works(
    stack: StackProcess, addresses: StackAddresses
) -> None:
    # Given the database without the latest migration
    sql(addresses, "DELETE FROM schema_migrations WHERE version = 4", "DROP TABLE ai_switch")

    # When the doctor runs, then it fails naming the migration and `salonbot migrate`
    first = salonbot(stack.state_dir, "doctor", "--local")
    assert first.returncode == 1, first.stdout
    assert "migrations not applied: 0004_ai_switch" in first.stdout
    assert "fix: apply them: `salonbot migrate`" in first.stdout

    # And running that fix makes it pass
    assert salonbot(stack.state_dir, "migrate").returncode == 0
    second = salonbot(stack.state_dir, "doctor", "--local")
    assert second.returncode == 0, second.stdout


def test_a_gateway_that_does_not_answer_fails_health_and_the_test_message(
    stack: StackProcess, addresses: StackAddresses
) -> None:
    # Given the stack's gateway address answering nothing (a port nobody listens on)
    gone = dataclasses.replace(addresses, gateway_url=f"http://127.0.0.1:{free_port()}")

    report = doctor(gone, stack.state_dir)

    checks = by_check(report)
    assert {f.check for f in report.failed} == {"health", "test_message", "webhook"}
    (health,) = checks["health"]
    assert health[0] == "fail" and "no answer" in health[1]
    assert "make dev" in (health[2] or "")
    assert checks["openai"][0][0] == "skip"  # health could not say
    assert checks["database"][0][0] == "ok"


def test_a_stopped_stack_fails_naming_make_dev(stack: StackProcess) -> None:
    # Runs last in this module: the stack stops as Ctrl-C stops it
    assert stack.stop() == 0
    done = salonbot(stack.state_dir, "doctor", "--local")
    assert done.returncode == 1
    assert "no local stack is running" in done.stderr and "make dev" in done.stderr


@pytest.fixture
def state_dir() -> Iterator[Path]:
    with state_folder() as folder:
        yield folder


def test_with_a_rejected_key_and_the_switch_off_the_model_is_never_called(
    state_dir: Path,
) -> None:
    # Given a stack with a model whose API rejects the key, and every salon switched off
    fake = FakeOpenAI().start()
    fake.models_status = 401
    process = StackProcess(
        state_dir,
        extra_env={
            **CODE_PATH,
            "OPENAI_API_KEY": "sk-rejected-000000",
            "OPENAI_BASE_URL": fake.url,
        },
    )
    try:
        addresses = process.start()
        off = salonbot(process.state_dir, "ai", "off", "--all")
        assert off.returncode == 0, off.stderr
        assert "OFF for every salon" in off.stdout

        # When the doctor runs
        done = salonbot(process.state_dir, "doctor", "--local", "--json")
    finally:
        if process.process is not None:
            process.stop()
        fake.stop()

    # Then the key's rejection fails the model item, naming where the key goes
    report = json.loads(done.stdout)
    assert done.returncode == 1
    assert {f["check"] for f in report["findings"] if f["status"] == "fail"} == {"openai"}
    (openai,) = [f for f in report["findings"] if f["check"] == "openai"]
    assert "401" in openai["detail"] and "OPENAI_API_KEY" in openai["fix"]
    # and the test message was answered by the guided flow: no chat completion was asked
    messages = [f for f in report["findings"] if f["check"] == "test_message"]
    assert [m["status"] for m in messages] == ["ok", "ok"]
    assert all("the guided flow" in m["detail"] for m in messages)
    assert fake.requests == []
    # the switch is reported, with how to turn it back on
    (switch,) = [f for f in report["findings"] if f["check"] == "ai_switch"]
    assert switch["status"] == "warn" and "salonbot ai on --all" in switch["fix"]
    assert addresses.settings["OPENAI_API_KEY"] == "***"
