"""Customer events that are not requests: stored, or applied to what is stored, and never
answered (no engine runs, no model is paid for).

- `reaction` (an emoji on a message, or its removal): stored as the customer's message.
- `edit`: the edited message's stored text becomes the correction; no second reply.
- `revoke`: the customer deleted a message: its stored text is cleared, marked deleted.
- `system` `user_changed_number`: the client (and so their bookings) and the conversation
  move to the new number; nobody at the old number is answered.
- `system` `customer_identity_changed` (and any other system notice): noted in the
  conversation for the staff.

Runs inside the message's transaction, beside its ledger claim."""

from __future__ import annotations

from typing import TYPE_CHECKING

from aws_lambda_powertools.metrics import MetricUnit

from salonbot.booking.client_calendar import change_client_phone
from salonbot.conversation import store as conversations
from salonbot.observability import MetricName, logger, mask_phone, metrics
from salonbot.whatsapp.identity import customer_key
from salonbot.whatsapp.webhook import NOT_REQUESTS

if TYPE_CHECKING:
    import datetime as dt

    from salonbot.booking.catalog import Salon
    from salonbot.db.connection import Connection
    from salonbot.whatsapp.events import CustomerMessage

USER_CHANGED_NUMBER = "user_changed_number"


def is_request(message: CustomerMessage) -> bool:
    """False for the events this module records instead of answering."""
    return message.type not in NOT_REQUESTS


def record(
    conn: Connection, salon: Salon, message: CustomerMessage, now: dt.datetime
) -> str | None:
    """Apply one event; the id of the conversation it touched, if any."""
    content = message.payload
    if message.type == "reaction":
        _count(MetricName.REACTIONS)
        target = content.get("message_id")
        return _store(
            conn,
            salon,
            message,
            now,
            role="user",
            reply_to=target if isinstance(target, str) else None,
        )
    original = content.get("original_message_id")
    if message.type == "edit":
        _count(MetricName.MESSAGES_EDITED)
        if (
            isinstance(original, str)
            and message.text
            and conversations.correct_message(conn, salon.id, original, message.text)
        ):
            return None
        # The edited message never reached us: the correction is kept as it is.
        return _store(conn, salon, message, now, role="user", reply_to=None)
    if message.type == "revoke":
        _count(MetricName.MESSAGES_REVOKED)
        if isinstance(original, str):
            conversations.delete_message(conn, salon.id, original)
        return None
    return _system(conn, salon, message, now)


def _system(
    conn: Connection, salon: Salon, message: CustomerMessage, now: dt.datetime
) -> str | None:
    notice = message.payload
    body = str(notice.get("body") or "")
    if notice.get("type") == USER_CHANGED_NUMBER:
        _count(MetricName.NUMBERS_CHANGED)
        new = notice.get("new_wa_id") or notice.get("wa_id")
        if not isinstance(new, str) or not new:
            logger.warning("number change without the new number: noted only")
            return _store(conn, salon, message, now, role="system", content=body)
        old, new_key = message.phone, customer_key(new)
        moved_client = change_client_phone(conn, salon.id, old, new_key)
        moved = conversations.move_conversation(conn, salon.id, old, new_key)
        logger.info(
            "customer changed number",
            extra={"from": mask_phone(old), "to": mask_phone(new_key), "client": moved_client},
        )
        if moved is None:
            return None
        conversation = conversations.open_conversation(conn, salon.id, new_key, now=now)
        conversations.append_messages(
            conn,
            conversation,
            [
                conversations.NewMessage(
                    role="system",
                    content=body,
                    message_type="system",
                    external_id=message.message_id,
                )
            ],
        )
        return conversation.id
    _count(MetricName.IDENTITY_CHANGES)
    return _store(conn, salon, message, now, role="system", content=body)


def _store(
    conn: Connection,
    salon: Salon,
    message: CustomerMessage,
    now: dt.datetime,
    *,
    role: str,
    reply_to: str | None = None,
    content: str | None = None,
) -> str:
    conversation = conversations.open_conversation(conn, salon.id, message.phone, now=now)
    conversations.append_messages(
        conn,
        conversation,
        [
            conversations.NewMessage(
                role=role,
                content=message.said if content is None else content,
                message_type=message.type,
                external_id=message.message_id,
                reply_to_message_id=reply_to,
            )
        ],
    )
    return conversation.id


def _count(name: str) -> None:
    metrics.add_metric(name=name, unit=MetricUnit.Count, value=1)
