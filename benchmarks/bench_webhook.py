"""WebhookFunction figures.

- cold import of each `functions/*/app.py` in a fresh interpreter (wall time of the
  import, median of several runs, interleaved) beside a bare `import boto3` measured in
  the same run: boto3 is the floor of the webhook's cold start;
- the webhook's import closure: no openai, no psycopg, no X-Ray SDK, no pydantic;
- a fresh interpreter's import plus its first signed POST (AWS clients are created on
  the first request, so this is the cold start Meta waits on, less Lambda's own), and
  that the first request does not import pydantic either;
- warm handler latency for a signed text message, the real handler with its Powertools
  decorators, SQS FIFO and DynamoDB on a moto server over loopback HTTP."""

from __future__ import annotations

import contextlib
import io
import json
import logging
import os
import socket
import statistics
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

from benchmarks.harness import Row

AREA = "webhook"
ROOT = Path(__file__).resolve().parent.parent
LAYER = ROOT / "layers" / "common"
FUNCTIONS = ROOT / "functions"
RUNS = 9
HEAVY = ("openai", "psycopg", "aws_xray_sdk", "pydantic")

_IMPORT = """
import json, sys, time
sys.path[:0] = [{layer!r}, {folder!r}]
started = time.perf_counter()
{statement}
elapsed = time.perf_counter() - started
print(json.dumps({{"ms": elapsed * 1000, "heavy": [m for m in {heavy!r} if m in sys.modules]}}))
"""

_FIRST_REQUEST = """
import json, sys, time
started = time.perf_counter()
sys.path[:0] = [{layer!r}, {folder!r}]
import app
from salonbot_dev.local.handlers import LambdaContext
event = json.loads(sys.stdin.read())
context = LambdaContext("WebhookFunction", 256, 10, "arn:aws:lambda:eu-west-1:1:function:w")
status = app.lambda_handler(event, context)["statusCode"]
elapsed = time.perf_counter() - started
print(json.dumps({{"ms": elapsed * 1000, "status": status, "pydantic": "pydantic" in sys.modules}}))
"""


def _python(code: str, *, env: dict[str, str] | None = None, stdin: str = "") -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env=env,
        input=stdin,
        timeout=120,
    )
    if done.returncode != 0:
        raise RuntimeError(done.stderr.strip().splitlines()[-1] if done.stderr else "failed")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def _import_rows() -> list[Row]:
    folders = sorted(p.parent for p in FUNCTIONS.glob("*/app.py"))
    statements = {"boto3": ("import boto3", FUNCTIONS)}
    statements.update({f.name: ("import app", f) for f in folders})
    samples: dict[str, list[float]] = {name: [] for name in statements}
    heavy: dict[str, list[str]] = {}
    failed: dict[str, str] = {}
    for _ in range(RUNS):  # interleaved: machine load hits every module alike
        for name, (statement, folder) in statements.items():
            if name in failed:
                continue
            code = _IMPORT.format(
                layer=str(LAYER), folder=str(folder), statement=statement, heavy=HEAVY
            )
            try:
                result = _python(code)
            except RuntimeError as exc:
                failed[name] = str(exc)
                continue
            samples[name].append(result["ms"])
            heavy[name] = result["heavy"]
    floor = statistics.median(samples["boto3"])
    rows = [
        Row(AREA, "cold import: import boto3 (floor)", f"{floor:.0f} ms", "", f"median of {RUNS}")
    ]
    for name in sorted(n for n in statements if n != "boto3"):
        if name in failed:
            rows.append(
                Row(
                    AREA,
                    f"cold import: functions/{name}/app.py",
                    "import failed",
                    "",
                    failed[name][:120],
                )
            )
            continue
        median = statistics.median(samples[name])
        target = "<= 1.25x boto3" if name == "webhook" else ""
        loaded = ", ".join(heavy[name]) or "none"
        rows.append(
            Row(
                AREA,
                f"cold import: functions/{name}/app.py",
                f"{median:.0f} ms ({median / floor:.2f}x boto3)",
                target,
                f"median of {RUNS}; loads {loaded} of {'/'.join(HEAVY)}",
            )
        )
    if "webhook" in heavy:
        clean = not (set(heavy["webhook"]) & {"openai", "psycopg", "pydantic"})
        rows.append(
            Row(
                AREA,
                "webhook import closure without openai, psycopg and pydantic",
                "yes" if clean else f"NO: {heavy['webhook']}",
                "yes",
            )
        )
    return rows


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _signed_text_event(app_secret: str) -> dict[str, Any]:
    from salonbot.whatsapp.signature import sign
    from salonbot_dev.fakes.customer import CustomerPhone
    from salonbot_dev.local.functions import HttpRoute
    from salonbot_dev.local.http_api import Request, RouteMatch, build_event

    # The body `salonbot chat` posts: a fresh message id each time, so none is a repeat.
    phone = CustomerPhone("", app_secret, "100000000000001", name="Ольга")
    data = phone.text_payload("Привет! Хочу записаться на маникюр")
    body = json.dumps(data, ensure_ascii=False).encode()
    headers = [
        ("Content-Type", "application/json"),
        ("X-Hub-Signature-256", sign(body, app_secret)),
    ]
    route = RouteMatch(HttpRoute("POST", "/webhook"), {})
    return build_event(Request("POST", "/webhook", headers, body), route)


def _aws_environment(url: str) -> dict[str, str]:
    import boto3

    from salonbot_dev.local.environment import LOCAL_APP_SECRET, LOCAL_VERIFY_TOKEN
    from salonbot_dev.local.moto_server import FAKE_CREDENTIALS

    region = "eu-west-1"
    sqs = boto3.client("sqs", endpoint_url=url, region_name=region, **_keys(FAKE_CREDENTIALS))
    dynamodb = boto3.client(
        "dynamodb", endpoint_url=url, region_name=region, **_keys(FAKE_CREDENTIALS)
    )
    name = uuid.uuid4().hex[:10]
    queue_url = sqs.create_queue(QueueName=f"bench-{name}.fifo", Attributes={"FifoQueue": "true"})[
        "QueueUrl"
    ]
    table = f"bench-idempotency-{name}"
    dynamodb.create_table(
        TableName=table,
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        BillingMode="PAY_PER_REQUEST",
    )
    return {
        **FAKE_CREDENTIALS,
        "AWS_DEFAULT_REGION": region,
        "AWS_REGION": region,
        "AWS_ENDPOINT_URL": url,
        "QUEUE_URL": queue_url,
        "IDEMPOTENCY_TABLE": table,
        "WHATSAPP_APP_SECRET": LOCAL_APP_SECRET,
        "WHATSAPP_VERIFY_TOKEN": LOCAL_VERIFY_TOKEN,
        "POWERTOOLS_METRICS_NAMESPACE": "Salonbot",
        "POWERTOOLS_LOG_LEVEL": "WARNING",
        "LOG_LEVEL": "WARNING",
    }


def _keys(credentials: dict[str, str]) -> dict[str, str]:
    return {
        "aws_access_key_id": credentials["AWS_ACCESS_KEY_ID"],
        "aws_secret_access_key": credentials["AWS_SECRET_ACCESS_KEY"],
    }


def _client(service: str, env: dict[str, str]) -> Any:
    import boto3

    return boto3.client(
        service,
        endpoint_url=env["AWS_ENDPOINT_URL"],
        region_name=env["AWS_REGION"],
        aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"],
    )


def _consume(sqs: Any, queue_url: str) -> None:
    for message in sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10).get(
        "Messages", []
    ):
        sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])


def _first_request_row(env: dict[str, str]) -> Row:
    from salonbot_dev.local.environment import LOCAL_APP_SECRET

    code = _FIRST_REQUEST.format(layer=str(LAYER), folder=str(FUNCTIONS / "webhook"))
    samples = []
    pydantic = False
    for _ in range(5):
        event = _signed_text_event(LOCAL_APP_SECRET)
        result = _python(code, env={**os.environ, **env}, stdin=json.dumps(event))
        if result["status"] != 200:
            raise RuntimeError(f"first request answered {result['status']}")
        samples.append(result["ms"])
        pydantic = pydantic or result["pydantic"]
    return Row(
        AREA,
        "cold import + first signed POST (fresh interpreter)",
        f"{statistics.median(samples):.0f} ms",
        "",
        "median of 5; includes creating the SQS and DynamoDB clients; moto over loopback; "
        f"pydantic {'loaded' if pydantic else 'not loaded'}",
    )


def _warm_rows(env: dict[str, str]) -> list[Row]:
    from salonbot.inbound.wiring import default_endpoint, default_intake
    from salonbot.observability import logger
    from salonbot_dev.local.environment import LOCAL_APP_SECRET
    from salonbot_dev.local.handlers import LambdaContext, load_handler

    previous = {name: os.environ.get(name) for name in env}
    os.environ.update(env)
    level = logger.log_level
    logger.setLevel("WARNING")
    default_endpoint.cache_clear()
    default_intake.cache_clear()
    try:
        handler = load_handler(FUNCTIONS / "webhook", "app.lambda_handler", module_prefix="bench")
        context = LambdaContext("WebhookFunction", 256, 10, "arn:aws:lambda:eu-west-1:1:function:w")
        events = [_signed_text_event(LOCAL_APP_SECRET) for _ in range(330)]
        sqs = _client("sqs", env)
        samples: list[float] = []
        sink = io.StringIO()
        with contextlib.redirect_stdout(sink):  # the EMF lines Lambda would ship to CloudWatch
            for n, event in enumerate(events):
                started = time.perf_counter()
                status = handler(event, context)["statusCode"]
                elapsed = (time.perf_counter() - started) * 1000
                if status != 200:
                    raise RuntimeError(f"webhook answered {status}")
                if n >= 30:  # warm-up
                    samples.append(elapsed)
                sink.seek(0)
                sink.truncate()
                # Untimed: the processor keeps the queue short; moto scans every queued
                # message on each FIFO send, so a growing queue would measure moto.
                _consume(sqs, env["QUEUE_URL"])
            repeat = events[-1]
            duplicate = []
            for _ in range(100):
                started = time.perf_counter()
                handler(repeat, context)
                duplicate.append((time.perf_counter() - started) * 1000)
    finally:
        logger.setLevel(level)
        for name, value in previous.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        default_endpoint.cache_clear()
        default_intake.cache_clear()
    ordered = sorted(samples)
    p99 = ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))]
    note = (
        "real handler (Powertools logger and metrics), new message id per request: "
        "1 conditional PutItem, 1 SendMessageBatch, 1 PutItem to moto over loopback HTTP; "
        "the queue is consumed between requests (untimed)"
    )
    return [
        Row(
            AREA,
            "warm signed text message, median",
            f"{statistics.median(samples):.1f} ms",
            "< 10 ms",
            note,
        ),
        Row(AREA, "warm signed text message, p99", f"{p99:.1f} ms", "", f"{len(samples)} requests"),
        Row(
            AREA,
            "warm repeat of an accepted message, median",
            f"{statistics.median(duplicate):.1f} ms",
            "",
            "Meta's retry: one conditional PutItem, nothing enqueued",
        ),
    ]


def run() -> list[Row]:
    rows = _import_rows()
    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    port = _free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        env = _aws_environment(f"http://127.0.0.1:{port}")
        rows.append(_first_request_row(env))
        rows.extend(_warm_rows(env))
    finally:
        server.stop()
    return rows
