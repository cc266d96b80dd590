"""The local stack: from `salonbot local` start to ready (the command `make dev` runs, warm
venv), first run (initdb) and a restart on kept data; and one customer message through
it, webhook in to the reply at the fake send API (guided flow, no OpenAI key)."""

from __future__ import annotations

import statistics
import tempfile
import time
from pathlib import Path

from benchmarks.harness import Row
from salonbot_dev.fakes.conversation import Conversation, Outbox
from salonbot_dev.fakes.customer import CustomerPhone
from tests.e2e.stack_process import StackProcess

AREA = "local stack"
MESSAGES = 40


def _started(state_dir: Path) -> tuple[StackProcess, float]:
    process = StackProcess(state_dir)
    began = time.perf_counter()
    process.start()
    return process, time.perf_counter() - began


def _message_latencies(process: StackProcess) -> list[float]:
    addresses = process.addresses
    assert addresses is not None and addresses.demo_phone_number_id
    latencies = []
    for number in range(MESSAGES):
        phone = CustomerPhone(
            addresses.gateway_url,
            addresses.app_secret,
            addresses.demo_phone_number_id,
            f"+7990{number:07d}",
        )
        # Poll the send API often, so polling adds little to what is measured.
        chat = Conversation(
            phone, Outbox(addresses.whatsapp_url), quiet_after_reply_s=0.0, poll_interval_s=0.002
        )
        began = time.perf_counter()
        chat.say("Здравствуйте! Хочу записаться на маникюр")
        latencies.append(time.perf_counter() - began)
    return latencies


def run() -> list[Row]:
    state_dir = Path(tempfile.mkdtemp(prefix="salonbot-bench-local-")) / "state"
    first, first_s = _started(state_dir)
    first.stop()
    second, restart_s = _started(state_dir)
    try:
        latencies = _message_latencies(second)
    finally:
        second.stop()
    ms = sorted(x * 1000 for x in latencies)
    p95 = ms[max(0, round(0.95 * len(ms)) - 1)]
    return [
        Row(
            AREA, "start to ready, first run (initdb, migrations, demo import)", f"{first_s:.1f} s"
        ),
        Row(AREA, "start to ready, restart on kept data", f"{restart_s:.1f} s", "< 10 s"),
        Row(
            AREA,
            "customer message, webhook in to reply out (guided flow), median",
            f"{statistics.median(ms):.0f} ms",
            note=f"{MESSAGES} new customers, first message each",
        ),
        Row(AREA, "customer message, webhook in to reply out, p95", f"{p95:.0f} ms", "< 1000 ms"),
    ]
