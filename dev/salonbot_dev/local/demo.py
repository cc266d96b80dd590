"""`salonbot demo`: a scripted Russian booking conversation through the running stack.

The script opens with a request for a manicure and then answers each interactive message
the way a decided customer would (confirm when asked, else the manicure, else the first
offered option), until the booking exists in PostgreSQL."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import datetime as dt
    from collections.abc import Callable

    from salonbot_dev.fakes.conversation import Conversation
    from salonbot_dev.fakes.customer import Choice, Reply

OPENING = "Здравствуйте! Хочу записаться на маникюр"
# Titles a decided customer taps first, in order of preference (lower case prefixes).
PREFERRED = ("подтверд", "да", "записат", "верно", "маникюр")
AVOIDED = ("отмен", "нет", "назад", "другое", "перенес", "cancel", "no", "back")
MAX_TURNS = 12


def demo_phone() -> str:
    """A fresh customer number per run, so each demo starts a new conversation."""
    return f"+7999{random.randint(0, 9_999_999):07d}"


def pick(choices: list[Choice]) -> Choice:
    def title(choice: Choice) -> str:
        return choice.title.lower()

    for word in PREFERRED:
        for choice in choices:
            if title(choice).startswith(word) or f" {word}" in title(choice):
                return choice
    acceptable = [c for c in choices if not any(title(c).startswith(w) for w in AVOIDED)]
    return (acceptable or choices)[0]


@dataclass
class DemoResult:
    transcript: list[tuple[str, str]] = field(default_factory=list)  # (who, text)
    booking: dict[str, Any] | None = None


def find_booking(database_url: str, salon_id: str, phone: str) -> dict[str, Any] | None:
    """The customer's latest live booking at the salon, with what the salon calls things."""
    import psycopg
    from psycopg.rows import dict_row

    with psycopg.connect(database_url, row_factory=dict_row) as conn:
        return conn.execute(
            """
            SELECT b.code, b.starts_at AT TIME ZONE s.timezone AS starts_local, s.timezone,
                   sv.names ->> s.language AS service, m.name AS master, b.price, s.currency,
                   b.status, c.phone
              FROM bookings b
              JOIN clients c ON c.id = b.client_id
              JOIN salons s ON s.id = b.salon_id
              JOIN services sv ON sv.id = b.service_id
              JOIN masters m ON m.id = b.master_id
             WHERE b.salon_id::text = %s AND c.phone = %s AND b.status = 'confirmed'
             ORDER BY b.created_at DESC
             LIMIT 1
            """,
            (salon_id, phone),
        ).fetchone()


def play(
    conversation: Conversation,
    booking_lookup: Callable[[], dict[str, Any] | None],
    show: Callable[[str, str], None] = lambda who, text: None,
) -> DemoResult:
    """Play the script; `show(who, text)` sees each line as it happens."""
    result = DemoResult()

    def record(who: str, text: str) -> None:
        result.transcript.append((who, text))
        show(who, text)

    def salon_says(replies: list[Reply]) -> None:
        for reply in replies:
            record("salon", reply.render())

    record("customer", OPENING)
    salon_says(conversation.say(OPENING))
    for _ in range(MAX_TURNS):
        result.booking = booking_lookup()
        if result.booking is not None or not conversation.choices:
            break
        choice = pick(conversation.choices)
        record("customer", f"[{choice.title}]")
        salon_says(conversation.choose(choice))
    result.booking = booking_lookup()
    return result


def describe_booking(booking: dict[str, Any]) -> str:
    starts: dt.datetime = booking["starts_local"]
    return (
        f"booking {booking['code']}: {booking['service']} with {booking['master']} on "
        f"{starts:%Y-%m-%d %H:%M} ({booking['timezone']}), {booking['price']} "
        f"{booking['currency']}, {booking['status']}, customer {booking['phone']}"
    )
