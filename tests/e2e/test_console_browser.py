"""The staff console in a real headless Chromium (Debian's `chromium`, driven by
Playwright for Python), on the local stack as `make dev` starts it: sign in with the
printed demo login, see a handed-off customer appear without a reload, answer them (the
fake WhatsApp API receives it), return them to the bot (their next message gets a bot
answer), book a walk-in on the calendar (the slot leaves `salonbot slots`), upload an
invalid salon file (the field is named), and the inbox on a phone-sized screen.
Screenshots of each page go to test-artifacts/console/ (not committed)."""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright import sync_api as playwright

from salonbot_dev.fakes.conversation import Conversation, Outbox
from salonbot_dev.fakes.customer import CustomerPhone
from salonbot_dev.local.state import StackAddresses
from salonbot_dev.staff_users import DEMO_STAFF_EMAIL, DEMO_STAFF_PASSWORD
from tests.conftest import DEMO_SALON_ID
from tests.e2e.stack_process import REPO_ROOT, SALONBOT, StackProcess

pytestmark = pytest.mark.e2e

CHROMIUM = Path("/usr/bin/chromium")
SHOTS = REPO_ROOT / "test-artifacts" / "console"
CUSTOMER = "+79005550177"
WALK_IN = "+79005550188"
WAIT_MS = 15_000


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[StackAddresses]:
    process = StackProcess(tmp_path_factory.mktemp("console") / "state")
    addresses = process.start()
    assert f"sign in as    {DEMO_STAFF_EMAIL}" in process.output()
    yield addresses
    process.stop()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    assert CHROMIUM.exists(), "make test installs Debian's chromium"
    SHOTS.mkdir(parents=True, exist_ok=True)
    with playwright.sync_playwright() as driver:
        launched = driver.chromium.launch(executable_path=str(CHROMIUM), headless=True)
        yield launched
        launched.close()


def signed_in(browser: Any, stack: StackAddresses, **context: Any) -> Any:
    page = browser.new_context(**context).new_page()
    page.set_default_timeout(WAIT_MS)
    page.goto(f"{stack.gateway_url}/console/?lang=en")
    page.get_by_label("E-mail").fill(DEMO_STAFF_EMAIL)
    page.get_by_label("Password").fill(DEMO_STAFF_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("heading", name="Inbox").wait_for()
    return page


def shot(page: Any, name: str) -> None:
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def salonbot_json(stack: StackAddresses, *args: str) -> Any:
    done = subprocess.run(
        [str(SALONBOT), "--database-url", stack.database_url, *args, "--json"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return json.loads(done.stdout)


def customer(stack: StackAddresses, phone: str) -> Conversation:
    assert stack.demo_phone_number_id is not None
    return Conversation(
        CustomerPhone(stack.gateway_url, stack.app_secret, stack.demo_phone_number_id, phone),
        Outbox(stack.whatsapp_url),
    )


def test_staff_answer_a_handed_off_customer_and_return_them_to_the_bot(
    stack: StackAddresses, browser: Any
) -> None:
    # Given staff signed in, looking at the inbox
    page = signed_in(browser, stack)
    shot(page, "inbox-empty")
    # When a customer asks for a person (the bot hands them off)
    chat = customer(stack, CUSTOMER)
    chat.say("Позовите администратора, пожалуйста")
    # Then they appear in the inbox without a reload
    item = page.locator("li[data-conversation]").filter(has_text="0177")
    item.wait_for()
    assert "waiting" in (item.get_attribute("class") or "")
    shot(page, "inbox-waiting")
    # When staff open the thread and answer
    item.get_by_role("link").click()
    page.get_by_label("Your answer to the customer").fill("Здравствуйте! Это Анна, чем помочь?")
    page.get_by_role("button", name="Send").click()
    page.locator(".msg.staff").filter(has_text="Это Анна").wait_for()
    shot(page, "thread-answered")
    # Then the customer's WhatsApp received it
    deadline = time.monotonic() + 10
    while "Здравствуйте! Это Анна, чем помочь?" not in _texts(chat):
        assert time.monotonic() < deadline, _texts(chat)
        time.sleep(0.1)
    # When staff return the conversation to the bot, the customer's next message gets
    # the bot's answer
    page.get_by_role("button", name="Return to bot").click()
    page.get_by_role("heading", name="Inbox").wait_for()
    assert page.locator("li[data-conversation]").filter(has_text="0177").count() == 0
    answer = chat.say("Хочу записаться на маникюр")
    assert answer, "the bot answered"


def _texts(chat: Conversation) -> list[str]:
    return [
        (payload.get("text") or {}).get("body", "")
        for _, payload in chat.outbox.sent_to(chat.phone.wa_id)
    ]


def test_a_walk_in_booked_on_the_calendar_takes_its_slot(
    stack: StackAddresses, browser: Any
) -> None:
    salon = str(DEMO_SALON_ID)
    (first, *_) = salonbot_json(
        stack, "slots", "--salon", salon, "--service", "manicure", "--master", "anna", "--earliest"
    )
    start = first["starts_at"]  # the salon's local time, with its offset
    day, at = start[:10], start[11:16]
    before = salonbot_json(
        stack,
        "slots",
        "--salon",
        salon,
        "--service",
        "manicure",
        "--master",
        "anna",
        "--date",
        day,
    )
    assert start in [s["starts_at"] for s in before]
    page = signed_in(browser, stack)
    page.goto(f"{stack.gateway_url}/console/?lang=en#calendar/{day}")
    form = page.get_by_role("form", name="Book a walk-in or phone customer")
    form.get_by_label("Service").select_option("manicure")
    form.get_by_label("Master", exact=True).select_option("anna")
    form.get_by_label("Start (YYYY-MM-DD HH:MM)").fill(f"{day} {at}")
    form.get_by_label("Phone (+7…)").fill(WALK_IN)
    form.get_by_label("Name").fill("Ольга")
    form.get_by_role("button", name="Book", exact=True).click()
    block = page.locator(".block").filter(has_text="Ольга")
    block.wait_for()
    shot(page, "calendar-walk-in")
    after = salonbot_json(
        stack,
        "slots",
        "--salon",
        salon,
        "--service",
        "manicure",
        "--master",
        "anna",
        "--date",
        day,
    )
    assert start not in [s["starts_at"] for s in after]
    # and cancelled from the calendar, the time is free again
    block.get_by_role("button").click()
    page.get_by_role("button", name="Cancel booking").click()
    block.wait_for(state="detached")
    again = salonbot_json(
        stack,
        "slots",
        "--salon",
        salon,
        "--service",
        "manicure",
        "--master",
        "anna",
        "--date",
        day,
    )
    assert start in [s["starts_at"] for s in again]


def test_an_invalid_salon_file_upload_names_the_field(
    stack: StackAddresses, browser: Any, tmp_path: Path
) -> None:
    bad = (
        (REPO_ROOT / "demo" / "salon.yaml")
        .read_text(encoding="utf-8")
        .replace("duration_minutes: 60", "duration_minutes: -60", 1)
    )
    upload = tmp_path / "salon.yaml"
    upload.write_text(bad, encoding="utf-8")
    page = signed_in(browser, stack)
    page.get_by_role("link", name="Salon").click()
    page.get_by_label("Salon file", exact=True).set_input_files(str(upload))
    page.get_by_role("button", name="Check and import").click()
    alert = page.locator("#alert-upload")
    alert.filter(has_text="services[0].duration_minutes").wait_for()
    shot(page, "settings-invalid-file")


def test_the_console_fits_a_phone(stack: StackAddresses, browser: Any) -> None:
    page = signed_in(browser, stack, viewport={"width": 390, "height": 844}, is_mobile=True)
    assert page.get_by_role("navigation").is_visible()
    shot(page, "phone-inbox")
    page.get_by_role("link", name="Calendar").click()
    page.locator(".calendar").wait_for()
    shot(page, "phone-calendar")
    page.get_by_role("link", name="Figures").click()
    page.locator("figure.chart svg").first.wait_for()
    shot(page, "phone-dashboard")
    overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 0, f"the page is {overflow}px wider than the phone"
