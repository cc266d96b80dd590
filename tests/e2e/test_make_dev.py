"""The first ten minutes, as a newcomer meets them: `make dev PORT=...` from the checkout
(on the `.venv` already installed), its first screen (the banner, the keyless mode said
once as a fact, no ERROR, no metric JSON, no warning), the README's curl lines printing
the reply in readable Russian, and `salonbot chat` answering the first message with
nothing alarming in the stack's output."""

from __future__ import annotations

import os
import re
import subprocess
from collections.abc import Iterator

import pytest

from salonbot.assistant.router import NO_KEY_NOTICE
from tests.e2e.stack_process import REPO_ROOT, SALONBOT, StackProcess, free_port

pytestmark = pytest.mark.e2e

# What must never be on a newcomer's screen in normal operation.
ALARMING = (
    "ERROR",
    "Traceback",
    '"_aws"',  # an EMF metric line
    "No application metrics",
    "XDG_RUNTIME_DIR",
    "Warning",
)


def worktree_environment() -> dict[str, str]:
    """This checkout's code first, whatever `.venv`'s editable install points at; and no
    XDG_RUNTIME_DIR (empty reads as unset), as on a server or in a container."""
    code = [REPO_ROOT / "layers" / "common", REPO_ROOT / "dev", REPO_ROOT]
    return {
        "PYTHONPATH": os.pathsep.join(str(path) for path in code),
        "XDG_RUNTIME_DIR": "",
    }


@pytest.fixture(scope="module")
def make_dev(tmp_path_factory: pytest.TempPathFactory) -> Iterator[StackProcess]:
    port = free_port()
    # -o: the installed .venv is used as it is (make would reinstall it when a
    # requirements file is newer than its stamp, and re-point its editable install here).
    command = ("make", "--no-print-directory", "-o", ".venv/.installed", "dev", f"PORT={port}",
               "ARGS=--no-schedules")  # fmt: skip
    dry_run = subprocess.run(
        [*command[:1], "-n", *command[1:]], cwd=REPO_ROOT, capture_output=True, text=True
    )
    assert "pip install" not in dry_run.stdout, dry_run.stdout
    assert f"salonbot local --port {port} --no-schedules" in dry_run.stdout, dry_run.stdout
    stack = StackProcess(
        tmp_path_factory.mktemp("make-dev") / "state",
        port=port,
        extra_env=worktree_environment(),
        command=command,
    )
    stack.start()
    yield stack
    if stack.process is not None and stack.process.poll() is None:
        stack.stop()


def test_the_first_screen_is_the_banner_and_nothing_alarming(make_dev: StackProcess) -> None:
    screen = make_dev.output()
    assert make_dev.addresses is not None
    assert "salonbot local stack is ready" in screen, screen
    assert f"HTTP API        http://127.0.0.1:{make_dev.port}" in screen
    # ARGS reached `salonbot local`: the schedules are off
    assert "cleanup: cron(0 2 * * ? *) (off" in screen, screen
    # the keyless mode is said once, as a fact
    assert screen.count(NO_KEY_NOTICE) == 1, screen
    for word in ALARMING:
        assert word not in screen, screen


def readme_curl_lines(gateway_url: str) -> str:
    """The README's curl lines (from the first one to the end of their block), aimed at
    this stack."""
    readme = (REPO_ROOT / "README.md").read_text()
    blocks = re.findall(r"```sh\n(.*?)```", readme, re.S)
    (block,) = [b for b in blocks if "/api/v1/ai/process-message" in b]
    curl = block[block.index("curl ") :]
    return curl.replace("http://localhost:3000", gateway_url)


def test_the_readmes_curl_lines_print_the_reply_in_russian(make_dev: StackProcess) -> None:
    assert make_dev.addresses is not None
    script = readme_curl_lines(make_dev.addresses.gateway_url)
    assert script.count('-H "Authorization: Bearer $(.venv/bin/salonbot token --salon ') == 2

    result = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", script],
        cwd=REPO_ROOT,
        env=make_dev.environment(),
        capture_output=True,
        timeout=120,
    )

    printed = result.stdout.decode()  # UTF-8, or this raises
    assert result.returncode == 0, result.stderr.decode(errors="replace")
    assert '"response":"Маникюр' in printed, printed
    assert "\\u04" not in printed
    assert '"status":"ok"' in printed and '"messages_received"' in printed


def test_chat_answers_the_first_message_and_the_stack_stays_calm(
    make_dev: StackProcess,
) -> None:
    before = len(make_dev.output())

    chat = subprocess.run(
        [str(SALONBOT), "chat", "--phone", "+79005550199"],
        input="Привет\n".encode(),
        cwd=REPO_ROOT,
        env=make_dev.environment(),
        capture_output=True,
        timeout=60,
    )

    shown = chat.stdout.decode()
    assert chat.returncode == 0, chat.stderr.decode(errors="replace")
    assert "salon> Здравствуйте!" in shown, shown
    assert "is the processor running" not in shown
    after = make_dev.output()[before:]
    assert "[whatsapp → +79005550199] Здравствуйте!" in after, after
    for word in ALARMING:
        assert word not in after, after


def test_stopping_make_dev_stops_the_stack(make_dev: StackProcess) -> None:
    assert make_dev.stop() == 0, make_dev.output()
    assert make_dev.output().rstrip().endswith("stopped")
    assert make_dev.leftovers() == [], make_dev.output()
