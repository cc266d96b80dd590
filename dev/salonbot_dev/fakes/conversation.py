"""A conversation with the running local stack: send as the customer, then collect the
salon's replies from the fake WhatsApp send API. Used by `salonbot chat`, `salonbot demo`,
the end-to-end test and the benchmark."""

from __future__ import annotations

import json
import time
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from salonbot_dev.fakes.customer import Reply, reply_from_payload

if TYPE_CHECKING:
    from salonbot_dev.fakes.customer import Choice, CustomerPhone

# How long the salon has to answer, and how long a burst of replies may pause between
# its messages before the turn is taken as complete.
REPLY_TIMEOUT_S = 60.0
QUIET_AFTER_REPLY_S = 0.4
POLL_INTERVAL_S = 0.02


class NoReply(Exception):
    """The salon did not answer within the timeout."""


@dataclass
class Outbox:
    """The fake WhatsApp send API's record of what the salon sent."""

    whatsapp_url: str

    def sent_to(self, wa_id: str) -> list[tuple[str, dict[str, Any]]]:
        """(message id, Cloud API payload) of every message sent to `wa_id`, oldest first."""
        query = urllib.parse.urlencode({"to": wa_id})
        with urllib.request.urlopen(f"{self.whatsapp_url}/_messages?{query}", timeout=10) as r:
            data = json.load(r)
        return [(str(m["id"]), m["payload"]) for m in data["messages"]]


@dataclass
class Conversation:
    phone: CustomerPhone
    outbox: Outbox
    reply_timeout_s: float = REPLY_TIMEOUT_S
    quiet_after_reply_s: float = QUIET_AFTER_REPLY_S
    poll_interval_s: float = POLL_INTERVAL_S
    seen: int = 0
    last: list[Reply] = field(default_factory=list)

    def __post_init__(self) -> None:
        # Start after whatever this number received before (an earlier chat).
        self.seen = len(self.outbox.sent_to(self.phone.wa_id))

    @property
    def choices(self) -> list[Choice]:
        return [choice for reply in self.last for choice in reply.choices]

    def say(self, text: str) -> list[Reply]:
        self._check(self.phone.send_text(text))
        return self.wait_for_replies()

    def choose(self, choice: Choice) -> list[Reply]:
        self._check(self.phone.choose(choice))
        return self.wait_for_replies()

    def _check(self, status: int) -> None:
        if not 200 <= status < 300:
            raise RuntimeError(f"the webhook answered {status}")

    def new_replies(self) -> list[Reply]:
        sent = self.outbox.sent_to(self.phone.wa_id)
        fresh = [
            reply_from_payload(payload, message_id) for message_id, payload in sent[self.seen :]
        ]
        self.seen = len(sent)
        return fresh

    def wait_for_replies(self) -> list[Reply]:
        """The salon's next burst of messages; NoReply if nothing comes in time."""
        deadline = time.monotonic() + self.reply_timeout_s
        replies: list[Reply] = []
        while not replies:
            if time.monotonic() > deadline:
                raise NoReply(f"no reply within {self.reply_timeout_s:.0f} s")
            time.sleep(self.poll_interval_s)
            replies = self.new_replies()
        quiet_until = time.monotonic() + self.quiet_after_reply_s
        while time.monotonic() < quiet_until:
            time.sleep(self.poll_interval_s * 5)
            more = self.new_replies()
            if more:
                replies.extend(more)
                quiet_until = time.monotonic() + self.quiet_after_reply_s
        self.last = replies
        return replies
