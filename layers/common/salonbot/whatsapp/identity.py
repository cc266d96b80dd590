"""Who a customer is on WhatsApp: their phone number, or their business-scoped user id.

A WhatsApp user with a username may keep their number from businesses; WhatsApp then
names them by a business-scoped user id (BSUID): a two-letter country code, a period and
up to 128 letters and digits (`US.13491208655302741918`), or a parent BSUID shared by
linked business portfolios (`US.ENT.11815799212886844830`). salonbot keys such a customer
by that id wherever it would use the number: `clients.phone`, the conversation
`conv_<salon>_<user id>`, the `--phone` options and `phone` fields. Replies to them go
out with `recipient` (the id) instead of `to` (a number).

Plain Python: the webhook imports it."""

import re

_USER_ID = re.compile(r"^[A-Z]{2}\.(?:ENT\.)?[A-Za-z0-9]{1,128}$")


def is_user_id(value: str) -> bool:
    """True for a business-scoped user id (or a parent one), as WhatsApp writes it."""
    return bool(_USER_ID.match(value))


def customer_key(wa_id: str) -> str:
    """How salonbot stores the customer: E.164 for a number (`+79001234567`), the user
    id as WhatsApp wrote it otherwise."""
    if is_user_id(wa_id) or wa_id.startswith("+"):
        return wa_id
    return f"+{wa_id}"


def send_address(customer: str) -> dict[str, str]:
    """The Cloud API send body's recipient field: `to` for a number, `recipient` for a
    business-scoped user id."""
    if is_user_id(customer):
        return {"recipient": customer}
    return {"to": customer.lstrip("+")}
