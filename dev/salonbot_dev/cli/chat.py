"""`salonbot chat`'s terminal: the customer types while the salon's replies are shown as
they arrive. A reader thread watches the fake WhatsApp send API; the input loop never
waits for a reply, so a slow model, a conversation with staff or a stopped processor
never holds the keyboard. When a message has had no reply for a few seconds, the chat
says why in words ("with staff", "waiting for the assistant").

Besides text (and a number for an offered option), the customer can send what a phone
sends: `/voice` (a voice note), `/sticker`, `/location`, `/tap N` (tap option N of the
latest list or buttons), as Meta posts them to the webhook; `/help` lists them."""

from __future__ import annotations

import sys
import threading
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import TextIO

    from salonbot_dev.fakes.customer import Choice, Reply

PROMPT = "you> "
PATIENCE_S = 5.0  # a message unanswered this long gets a word on why
LINGER_S = 10.0  # after piped input ends: replies still on their way
QUIET_S = 0.5  # a burst of replies is over after this long without another
POLL_S = 0.2


class Phone(Protocol):
    def send_text(self, text: str) -> int: ...

    def choose(self, choice: Choice) -> int: ...

    def send_media(self, kind: str) -> int: ...


# `/command` -> the kind of message it sends, as Meta names it.
MEDIA_COMMANDS = {"/voice": "audio", "/sticker": "sticker", "/location": "location"}
HELP = (
    "(type a message, or a number to pick an option; /voice, /sticker, /location send one; "
    "/tap N taps option N)"
)


class Inbox(Protocol):
    """What `salonbot_dev.fakes.conversation.Conversation` offers the chat."""

    @property
    def phone(self) -> Phone: ...

    def new_replies(self) -> list[Reply]: ...


@dataclass
class TerminalChat:
    inbox: Inbox
    why_waiting: Callable[[], str]  # why the last message has no reply yet, in words
    out: TextIO = field(default_factory=lambda: sys.stdout)
    prompt: str = ""  # shown again after replies printed between two lines typed
    patience_s: float = PATIENCE_S
    linger_s: float = LINGER_S
    quiet_s: float = QUIET_S
    poll_s: float = POLL_S
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    _stop: threading.Event = field(default_factory=threading.Event, repr=False)
    _choices: tuple[Choice, ...] = ()
    _waiting_since: float | None = None  # the first unanswered message's send time
    _explained: bool = False
    _new_turn: bool = False  # the customer wrote since the last reply
    _last_reply_at: float = 0.0
    _unreachable: bool = False

    def run(self, read_line: Callable[[], str]) -> int:
        reader = threading.Thread(target=self._watch, name="chat-replies", daemon=True)
        reader.start()
        try:
            while True:
                try:
                    line = read_line().strip()
                except EOFError:  # Ctrl-D, or the end of piped input
                    self._write("\n")
                    break
                if line:
                    self._send(line)
            self._linger()
        except KeyboardInterrupt:  # Ctrl-C: leave now
            self._write("\n")
        finally:
            self._stop.set()
            reader.join(timeout=5)
        return 0

    # -- the input side ---------------------------------------------------------------
    def _send(self, line: str) -> None:
        with self._lock:
            choices = self._choices
        phone = self.inbox.phone
        command, _, argument = line.partition(" ")
        if command == "/help":
            self._say(HELP)
            return
        if command == "/tap":
            number = argument.strip()
            if not (number.isdigit() and 1 <= int(number) <= len(choices)):
                self._say(f"(nothing to tap: pick 1 to {len(choices)})" if choices else
                          "(nothing to tap: the last reply offered no options)")  # fmt: skip
                return
            line = number
        try:
            if command in MEDIA_COMMANDS:
                self._write(f"     [{command.lstrip('/')}]\n")
                status = phone.send_media(MEDIA_COMMANDS[command])
            elif line.isdigit() and 1 <= int(line) <= len(choices):
                choice = choices[int(line) - 1]
                self._write(f"     [{choice.title}]\n")
                status = phone.choose(choice)
            else:
                status = phone.send_text(line)
        except OSError as exc:
            self._say(f"(not sent: the local stack does not answer ({exc}); is `make dev` up?)")
            return
        if not 200 <= status < 300:
            self._say(f"(not sent: the webhook answered {status}; see the stack's output)")
            return
        with self._lock:
            self._new_turn = True
            if self._waiting_since is None:
                self._waiting_since = time.monotonic()
                self._explained = False

    def _linger(self) -> None:
        """Show what is still coming for the last messages, for up to `linger_s`."""
        deadline = time.monotonic() + self.linger_s
        while time.monotonic() < deadline:
            with self._lock:
                settled = (
                    self._waiting_since is None
                    and time.monotonic() - self._last_reply_at >= self.quiet_s
                )
            if settled:
                return
            time.sleep(self.poll_s)

    # -- the reader thread ------------------------------------------------------------
    def _watch(self) -> None:
        while not self._stop.wait(self.poll_s):
            self._poll_once()

    def _poll_once(self) -> None:
        try:
            fresh = self.inbox.new_replies()
        except OSError:
            if not self._unreachable:
                self._unreachable = True
                self._say("(the local stack does not answer: is `make dev` still running?)")
            return
        self._unreachable = False
        now = time.monotonic()
        if fresh:
            with self._lock:
                self._waiting_since = None
                self._last_reply_at = now
                # The numbers typed next answer the latest list; a turn answered without
                # one leaves nothing to pick.
                with_choices = [reply for reply in fresh if reply.choices]
                if with_choices:
                    self._choices = with_choices[-1].choices
                elif self._new_turn:
                    self._choices = ()
                self._new_turn = False
            text = "".join(
                "salon> " + reply.render().replace("\n", "\n       ") + "\n" for reply in fresh
            )
            self._show(text)
            return
        with self._lock:
            since, explained = self._waiting_since, self._explained
        if since is not None and not explained and now - since >= self.patience_s:
            with self._lock:
                self._explained = True
            self._say(f"({self.why_waiting()})")

    # -- output -----------------------------------------------------------------------
    def _say(self, text: str) -> None:
        self._show(text + "\n")

    def _show(self, text: str) -> None:
        # Printed between two lines the customer types: start on a fresh line, then put
        # the prompt back so the next line is visibly expected.
        self._write(("\r" if self.prompt else "") + text + self.prompt)

    def _write(self, text: str) -> None:
        self.out.write(text)
        self.out.flush()


def why_waiting(database_url: str, salon_id: str, phone: str) -> str:
    """Why no reply came yet: the conversation is with the salon's staff (the salon's
    assistant is off, or a hand-off is running), or the assistant has not answered."""
    import datetime as dt

    import psycopg

    from salonbot.conversation.store import HANDOFF, conversation_id

    try:
        with psycopg.connect(database_url, connect_timeout=3) as conn:
            row = conn.execute(
                """
                SELECT s.ai_enabled, c.status, c.handoff_until
                  FROM salons s LEFT JOIN ai_conversations c ON c.id = %s
                 WHERE s.id = %s
                """,
                (conversation_id(salon_id, phone), salon_id),
            ).fetchone()
    except psycopg.Error:
        row = None
    waiting = "waiting for the assistant; its reply shows here when it comes, keep typing"
    if row is None:
        return waiting
    ai_enabled, status, handoff_until = row
    if not ai_enabled:
        return (
            "with staff: this salon's assistant is off, so its staff answer here "
            "(no automatic reply)"
        )
    if status == HANDOFF and (handoff_until is None or handoff_until > dt.datetime.now(dt.UTC)):
        until = f" until {handoff_until:%Y-%m-%d %H:%M %Z}" if handoff_until else ""
        return (
            f"with staff: the conversation was handed to the salon's staff{until}; they "
            "answer here, and “меню” gives you the bot back"
        )
    return waiting
