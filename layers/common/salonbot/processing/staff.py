"""Telling the salon's staff that a customer's messages wait for a human: AI is off for
the salon, or the conversation was handed off.

The messages themselves are stored in `ai_messages` for the staff whatever happens here;
a notification is a nudge to go and read them. So notifications are collapsed per
conversation (`due`): at most one every `STAFF_NOTIFY_INTERVAL_MINUTES`, counting the
messages since the previous one ("3 new messages from …4567"), and one at once when the
assistant hands a conversation off. The turn keeps that state on the conversation's row,
in the message's transaction (migration 0008).

Every notification goes to the one staff topic with the salon's id as the SNS message
attribute `salon_id`; a salon's staff subscribe with the filter policy
`{"salon_id": ["<salon id>"]}` and see only their salon's customers (docs/operations.md).
A notification never carries the customer's phone number (its last 4 digits at most) nor
their whole message: a preview of its first `PREVIEW_CHARS` characters (a number typed
into it cut to its last 4 digits too); the conversation itself is in the database for the
staff console.

Published before the message's transaction commits (a crash after publishing may notify
twice). Publishing is best effort: the turn logs and counts a failed publish
(`staff_notify`), keeps the message and counts it for the next notification."""

from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING, Any

from salonbot.observability import logger, mask_phone

if TYPE_CHECKING:
    import datetime as dt

    from mypy_boto3_sns import SNSClient

    from salonbot.booking.catalog import Salon

SUBJECT_PREFIX = "salonbot: "
PREVIEW_CHARS = 100
NAME_CHARS = 60
ELLIPSIS = "…"
# A phone number a customer typed into their message: 7 or more digits, maybe spaced.
_TYPED_NUMBER = re.compile(r"\+?\d(?:[\s()-]*\d){6,}")


def phone_tail(phone: str) -> str:
    """+79001234567 -> …4567: the customer, without a number anyone could call."""
    digits = phone.strip().lstrip("+")
    return ELLIPSIS + digits[-4:] if len(digits) > 4 else ELLIPSIS


def preview(text: str, limit: int = PREVIEW_CHARS) -> str:
    """The message's first `limit` characters, on one line, with any phone number typed
    into it cut to its last 4 digits."""
    flat = _TYPED_NUMBER.sub(lambda m: phone_tail(re.sub(r"\D", "", m[0])), " ".join(text.split()))
    return flat if len(flat) <= limit else flat[: limit - 1].rstrip() + ELLIPSIS


def summary(count: int, phone: str) -> str:
    what = "a new message" if count == 1 else f"{count} new messages"
    return f"{what} from {phone_tail(phone)}"


def console_link(console_url: str) -> str:
    """Where the conversation waits in the staff console: its inbox. Not the thread's own
    page: a conversation id holds the customer's number, which a notification never does."""
    return f"{console_url.rstrip('/')}/#inbox"


def due(
    last_notified_at: dt.datetime | None,
    now: dt.datetime,
    interval: dt.timedelta,
) -> bool:
    """Whether a conversation last notified at `last_notified_at` may be notified now. A
    notification stamped in the future (a clock set back) does not hold the next one."""
    if last_notified_at is None or now < last_notified_at:
        return True
    return now - last_notified_at >= interval


class StaffNotifier:
    def __init__(
        self,
        topic_arn: str | None,
        client: SNSClient | None = None,
        *,
        console_url: str | None = None,
    ) -> None:
        self.topic_arn = topic_arn
        self._client = client
        self.console_url = console_url

    def _sns(self) -> SNSClient:
        if self._client is None:
            import boto3

            self._client = boto3.client("sns")
        return self._client

    def notify(
        self,
        salon: Salon,
        *,
        phone: str,
        text: str,
        reason: str,
        count: int = 1,
        customer_name: str | None = None,
    ) -> None:
        """One notification for `count` messages of this customer, `text` the latest.
        `reason`: `ai_disabled`, `handoff` (the assistant passed it on) or `with_staff`.
        With the console's address, `console` links to its inbox, where the conversation
        waits (the console is the source of truth for what waits; it needs a sign-in)."""
        if not self.topic_arn:
            logger.info(
                "no staff topic: message kept for staff",
                extra={"reason": reason, "phone": mask_phone(phone)},
            )
            return
        line = summary(count, phone)
        body: dict[str, Any] = {
            "kind": "customer_message_for_staff",
            "reason": reason,
            "salon_id": str(salon.id),
            "salon": salon.name,
            "customer": phone_tail(phone),
            "customer_name": (customer_name or "")[:NAME_CHARS] or None,
            "count": count,
            "summary": line,
            "preview": preview(text),
        }
        if self.console_url:
            body["console"] = console_link(self.console_url)
        self._sns().publish(
            TopicArn=self.topic_arn,
            # SNS subjects are ASCII: the tail as "...4567".
            Subject=(SUBJECT_PREFIX + line).replace(ELLIPSIS, "..."),
            Message=json.dumps(body, ensure_ascii=False),
            MessageAttributes={
                "salon_id": {"DataType": "String", "StringValue": str(salon.id)},
                "reason": {"DataType": "String", "StringValue": reason},
            },
        )
        logger.info(
            "staff notified", extra={"reason": reason, "count": count, "phone": mask_phone(phone)}
        )
