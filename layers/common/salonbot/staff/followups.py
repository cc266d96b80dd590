"""Staff write first outside the 24-hour window: only an approved template may go out then,
so the console offers the salon's approved `staff_followup` templates (outbound's store,
`outbound.templates`) and sends the one chosen through the same Cloud API client, priced
from the same rate table into `message_costs`, stored as a `staff` message and starting the
hand-off like a reply, in the caller's transaction with the request's idempotency claim.

A template that is not approved (draft, pending, rejected, paused, disabled) is refused
with its status (`TemplateNotApproved`, 409); one whose body asks for a booking's details
(a follow-up is about the conversation, not a booking) or has booking buttons cannot be
filled here and is refused by field (422). A customer who opted out gets nothing (409)."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from salonbot.cost import message_costs, whatsapp_rates
from salonbot.errors import ConfigurationError, InvalidInput, SalonbotError
from salonbot.outbound import opt_out, templates, window
from salonbot.staff.replies import SentReply, locked_conversation, store_staff_message

if TYPE_CHECKING:
    import datetime as dt
    import uuid

    from salonbot.booking.catalog import Salon
    from salonbot.db.connection import Connection

PURPOSE = "staff_followup"
# Body parameters a follow-up can fill without a booking.
FILLABLE = frozenset({"salon", "address"})
_PLACEHOLDER = re.compile(r"\{\{\s*(\d+)\s*\}\}")

# Sends one Cloud API message body for a salon's number; returns WhatsApp's message id.
PayloadSender = Callable[[str, dict[str, Any]], str]


class TemplateNotApproved(SalonbotError):
    """The salon has this template, but Meta has not approved it (or no longer does)."""

    def __init__(self, template: templates.Template) -> None:
        why = f" ({template.status_reason})" if template.status_reason else ""
        self.reason = (
            f"template {template.name} ({template.language}) is {template.status}{why}: "
            "only an approved template may be sent"
        )
        super().__init__(self.reason)


class CustomerOptedOut(SalonbotError):
    """The customer asked the salon to stop writing to them."""

    reason = "the customer opted out of the salon's messages"


def offered(conn: Connection, salon_id: uuid.UUID) -> list[templates.Template]:
    """The approved follow-up templates the console offers."""
    return [
        t for t in templates.salon_templates(conn, salon_id) if t.purpose == PURPOSE and t.approved
    ]


def _find(conn: Connection, salon_id: uuid.UUID, name: str, language: str) -> templates.Template:
    for template in templates.salon_templates(conn, salon_id):
        if template.name == name and template.language == language:
            return template
    raise InvalidInput(f"the salon has no template {name} in {language}", field="name")


def rendered(template: templates.Template, values: dict[str, str]) -> str:
    """What the customer reads, as stored in the thread."""
    if template.body is None:
        return f"[{template.name}]"
    names = template.body_parameters
    return _PLACEHOLDER.sub(lambda m: values[names[int(m.group(1)) - 1]], template.body)


def send_followup(
    conn: Connection,
    salon: Salon,
    conversation_id: str,
    *,
    name: str,
    language: str,
    staff_user: str,
    handoff: dt.timedelta,
    send: PayloadSender,
    now: dt.datetime,
) -> SentReply:
    conversation = locked_conversation(conn, salon, conversation_id)
    template = _find(conn, salon.id, name, language)
    if template.purpose != PURPOSE:
        raise InvalidInput(f"is a {template.purpose} template, not a {PURPOSE} one", field="name")
    if not template.approved:
        raise TemplateNotApproved(template)
    unfillable = sorted(set(template.body_parameters) - FILLABLE)
    if unfillable or template.buttons:
        asks = ", ".join(unfillable + [f"button {b}" for b in template.buttons])
        raise InvalidInput(f"asks for a booking's details ({asks})", field="name")
    phone = "+" + conversation.phone_number.lstrip("+")
    scope = conn.execute(
        "SELECT scope FROM opt_outs WHERE salon_id = %s AND phone = ANY(%s) ORDER BY scope LIMIT 1",
        (salon.id, [phone, conversation.phone_number]),
    ).fetchone()
    if scope is not None and (
        scope["scope"] == opt_out.ALL or template.category == whatsapp_rates.MARKETING
    ):
        raise CustomerOptedOut(CustomerOptedOut.reason)
    if not salon.whatsapp_phone_number_id:
        raise ConfigurationError("the salon has no WhatsApp number to send from")
    values = {"salon": salon.name, "address": salon.address or salon.name}
    payload = templates.template_payload(template, conversation.phone_number, values, code="")
    wamid = send(salon.whatsapp_phone_number_id, payload)
    inside = window.is_open(conversation.last_inbound_at, now)
    price = whatsapp_rates.template_price(template.category, phone, inside_window=inside)
    message_costs.record(
        conn, [message_costs.SentMessage(wamid, salon.id, phone, template.category, price)]
    )
    return store_staff_message(
        conn,
        conversation,
        rendered(template, values),
        wamid,
        staff_user=staff_user,
        handoff=handoff,
        now=now,
    )
