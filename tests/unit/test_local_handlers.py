"""Local invocations: one at a time per function, and the functions that reach the
database one at a time among themselves (they share this process's connection), so a
webhook is acknowledged while the processor works."""

from __future__ import annotations

import textwrap
import threading
from pathlib import Path

from salonbot_dev.local.functions import FunctionSpec
from salonbot_dev.local.handlers import LocalFunction

HANDLER = """
import threading

entered = threading.Event()
release = threading.Event()


def lambda_handler(event, context):
    entered.set()
    if event.get("hold"):
        assert release.wait(10)
    return event["name"]
"""


def function(tmp_path: Path, name: str, environment: dict[str, str]) -> LocalFunction:
    code_dir = tmp_path / name
    code_dir.mkdir()
    (code_dir / "app.py").write_text(textwrap.dedent(HANDLER))
    spec = FunctionSpec(
        logical_id=name,
        code_dir=code_dir,
        handler="app.lambda_handler",
        timeout_s=10,
        memory_mb=128,
        environment=environment,
    )
    return LocalFunction(spec)


def hold(fn: LocalFunction) -> threading.Thread:
    module = fn.handler().__globals__  # loaded before the invocation starts
    thread = threading.Thread(target=fn.invoke, args=({"name": fn.name, "hold": True},))
    thread.start()
    assert module["entered"].wait(5)
    return thread


def test_a_function_without_a_database_runs_beside_a_busy_database_function(
    tmp_path: Path,
) -> None:
    processor = function(tmp_path, "ProcessorFn", {"DB_SECRET_ARN": ""})
    webhook = function(tmp_path, "WebhookFn", {"QUEUE_URL": "q"})
    busy = hold(processor)
    try:
        # While the processor holds its invocation, the webhook answers at once
        done = threading.Thread(target=webhook.invoke, args=({"name": "w"},))
        done.start()
        done.join(2)
        assert not done.is_alive()
    finally:
        processor.handler().__globals__["release"].set()
        busy.join(5)


def test_database_functions_run_one_at_a_time(tmp_path: Path) -> None:
    processor = function(tmp_path, "ProcessorFn2", {"DB_SECRET_ARN": ""})
    api = function(tmp_path, "ApiFn", {"DATABASE_URL": "postgresql://x"})
    api.handler()
    busy = hold(processor)
    try:
        waiting = threading.Thread(target=api.invoke, args=({"name": "a"},))
        waiting.start()
        waiting.join(0.5)
        # The API waits for the processor's invocation to end
        assert waiting.is_alive()
        assert not api.handler().__globals__["entered"].is_set()
    finally:
        processor.handler().__globals__["release"].set()
        busy.join(5)
    waiting.join(5)
    assert api.handler().__globals__["entered"].is_set()
