"""`salonbot chat`'s terminal never waits for a reply: the customer keeps typing while an
answer is on its way, replies are shown as they arrive, a numbered choice answers the
latest list, and an unanswered message gets a word on why ("waiting for the
assistant", "with staff"), never "is the processor running?"."""

from __future__ import annotations

import io
import json
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from salonbot_dev.cli.chat import TerminalChat
from salonbot_dev.fakes.customer import Choice, Reply

WAIT_S = 10.0  # a bound on each step, so a broken chat fails instead of hanging


@dataclass
class FakePhone:
    sent: list[str] = field(default_factory=list)
    changed: threading.Condition = field(default_factory=threading.Condition)

    def send_text(self, text: str) -> int:
        with self.changed:
            self.sent.append(text)
            self.changed.notify_all()
        return 200

    def choose(self, choice: Choice) -> int:
        with self.changed:
            self.sent.append(f"choice:{choice.id}")
            self.changed.notify_all()
        return 200

    def send_media(self, kind: str) -> int:
        with self.changed:
            self.sent.append(f"media:{kind}")
            self.changed.notify_all()
        return 200


@dataclass
class FakeInbox:
    """The salon's side: replies are released by the test, when it decides."""

    phone: FakePhone = field(default_factory=FakePhone)
    pending: list[Reply] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def release(self, *replies: Reply) -> None:
        with self.lock:
            self.pending.extend(replies)

    def new_replies(self) -> list[Reply]:
        with self.lock:
            fresh, self.pending = self.pending, []
        return fresh


class Screen(io.StringIO):
    """What the terminal shows, with a way to wait until something is on it."""

    def __init__(self) -> None:
        super().__init__()
        self.changed = threading.Condition()

    def write(self, text: str) -> int:
        with self.changed:
            written = super().write(text)
            self.changed.notify_all()
        return written

    def wait_for(self, text: str) -> None:
        with self.changed:
            assert self.changed.wait_for(lambda: text in self.getvalue(), WAIT_S), (
                f"{text!r} never shown:\n{self.getvalue()}"
            )


def typed(*steps: str | Callable[[], None]) -> Callable[[], str]:
    """`input()` as a customer types: each string is a line; each callable runs (and may
    wait) before the next line; then Ctrl-D."""
    queue: Iterator[str | Callable[[], None]] = iter(steps)

    def read_line() -> str:
        for step in queue:
            if isinstance(step, str):
                return step
            step()
        raise EOFError

    return read_line


def chat(
    inbox: FakeInbox, screen: Screen, why: str = "waiting for the assistant", linger_s: float = 0
) -> TerminalChat:
    return TerminalChat(
        inbox, lambda: why, out=screen, patience_s=0, poll_s=0.01, linger_s=linger_s
    )


MENU = Reply(
    "How can we help?",
    (Choice("book", "Book"), Choice("prices", "Prices")),
)


def test_the_customer_keeps_typing_while_a_reply_is_on_its_way() -> None:
    inbox, screen = FakeInbox(), Screen()

    def sent(count: int) -> Callable[[], None]:
        def wait() -> None:
            with inbox.phone.changed:
                assert inbox.phone.changed.wait_for(lambda: len(inbox.phone.sent) >= count, WAIT_S)

        return wait

    code = chat(inbox, screen, linger_s=WAIT_S).run(
        typed(
            "Hello",
            lambda: screen.wait_for("(waiting for the assistant)"),
            # Given no reply yet, the next line is read and sent all the same
            "Anyone there?",
            sent(2),
            lambda: inbox.release(Reply("Hello! One moment."), MENU),
            lambda: screen.wait_for("salon> How can we help?"),
            # And a number answers the latest list
            "2",
            sent(3),
            lambda: inbox.release(Reply("A manicure is 40 EUR.")),
        )
    )

    assert code == 0
    assert inbox.phone.sent == ["Hello", "Anyone there?", "choice:prices"]
    shown = screen.getvalue()
    # the reply that came while waiting was shown, then the next one before leaving
    assert shown.index("(waiting for the assistant)") < shown.index("salon> Hello! One moment.")
    assert "     [Prices]" in shown
    assert shown.rstrip().endswith("salon> A manicure is 40 EUR.")
    assert "is the processor running" not in shown


def test_a_conversation_with_staff_says_so_and_the_chat_goes_on() -> None:
    inbox, screen = FakeInbox(), Screen()
    why = "with staff: this salon's assistant is off, so its staff answer here"

    code = chat(inbox, screen, why).run(
        typed("Hello", lambda: screen.wait_for("(with staff"), "Are you open on Sunday?")
    )

    assert code == 0
    assert inbox.phone.sent == ["Hello", "Are you open on Sunday?"]
    assert screen.getvalue().count(f"({why})") == 1  # once per wait, not once per poll


def test_a_number_without_a_list_is_sent_as_text() -> None:
    inbox, screen = FakeInbox(), Screen()

    chat(inbox, screen).run(typed("2", lambda: screen.wait_for("(waiting")))

    assert inbox.phone.sent == ["2"]


def test_a_voice_note_a_sticker_a_location_and_a_tap_are_sent_as_a_phone_sends_them() -> None:
    inbox, screen = FakeInbox(), Screen()
    inbox.release(MENU)

    chat(inbox, screen).run(
        typed(
            lambda: screen.wait_for("salon> How can we help?"),
            "/voice",
            "/sticker",
            "/location",
            "/tap 2",
            "/tap 7",
        )
    )

    assert inbox.phone.sent == ["media:audio", "media:sticker", "media:location", "choice:prices"]
    shown = screen.getvalue()
    assert "     [voice]" in shown and "     [Prices]" in shown
    assert "(nothing to tap: pick 1 to 2)" in shown


def test_the_media_payloads_are_the_webhooks_own_shapes() -> None:
    from salonbot.whatsapp.webhook import parse_webhook
    from salonbot_dev.fakes.customer import CustomerPhone

    phone = CustomerPhone("http://127.0.0.1:1", "secret", "100000000000001")

    kinds = [
        parse_webhook(json.dumps(phone.media_payload(kind))).events[0].type
        for kind in ("audio", "sticker", "location")
    ]

    assert kinds == ["audio", "sticker", "location"]
