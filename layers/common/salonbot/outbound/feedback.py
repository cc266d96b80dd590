"""Feedback after a visit: `feedback_after_minutes` after a visit ends, one request for a
1-5 rating, claimed like a reminder (kind `feedback`, exactly once per booking).

Asked of visits not cancelled nor marked a no-show (an arrived customer's booking stays
`confirmed`), ended within the last day (an old
visit is not chased), not yet rated, of customers who did not opt out; through the
salon's approved `feedback` template, else inside the customer's 24-hour window as a
list of ratings (`rate:CODE:N`). The answer (`buttons`) is stored on the booking; a low
rating (`buttons.LOW_RATING` or less) notifies the salon's staff."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

from salonbot import texts
from salonbot.cost import whatsapp_rates
from salonbot.observability import logger
from salonbot.outbound import claims, opt_out, templates, window
from salonbot.outbound.quiet_hours import is_quiet
from salonbot.outbound.reminders import (
    Planned,
    RunResult,
    SalonCard,
    _booking,
    _card,
    send_claimed,
)
from salonbot.whatsapp.outgoing import ListMessage, Option, to_payload

if TYPE_CHECKING:
    from collections.abc import Callable

    from salonbot.booking.store import Booking
    from salonbot.db.connection import Connection
    from salonbot.whatsapp.client import WhatsAppClient

FEEDBACK = "feedback"
STARS = "★"
# A visit that ended longer ago than this is not asked about any more.
TOO_OLD = dt.timedelta(days=1)

_DUE_SQL = """
SELECT b.id, b.code, b.salon_id, b.status, b.starts_at, b.ends_at, b.price,
       b.customer_confirmed_at,
       s.code AS service_code, s.names AS service_names,
       m.code AS master_code, m.name AS master_name, c.phone,
       sa.name AS salon_name, sa.address, sa.language AS salon_language,
       sa.timezone, sa.whatsapp_phone_number_id, sa.outbound,
       coalesce(conv.language, c.language) AS customer_language, conv.last_inbound_at,
       oo.scope AS opted_out
  FROM salons sa
  JOIN bookings b ON b.salon_id = sa.id AND b.status IN ('confirmed', 'arrived')
                 AND b.rating IS NULL
                 AND b.ends_at + (sa.outbound ->> 'feedback_after_minutes')::int
                                 * interval '1 minute' <= %(now)s
                 AND b.ends_at > %(now)s - %(too_old)s
  JOIN services s ON s.id = b.service_id
  JOIN masters m ON m.id = b.master_id
  JOIN clients c ON c.id = b.client_id AND c.phone <> ''
  LEFT JOIN ai_conversations conv
         ON conv.id = 'conv_' || sa.id::text || '_' || ltrim(c.phone, '+')
  LEFT JOIN opt_outs oo ON oo.salon_id = sa.id AND oo.phone = c.phone
 WHERE sa.outbound ->> 'feedback_after_minutes' IS NOT NULL
   AND NOT EXISTS (SELECT 1 FROM outbound_messages o
                    WHERE o.booking_id = b.id AND o.kind = 'feedback')
 ORDER BY b.ends_at, b.id
 LIMIT %(limit)s
"""


def rating_option(code: str, rating: int) -> str:
    return f"rate:{code}:{rating}"


def feedback_request(salon: SalonCard, booking: Booking, language: str) -> ListMessage:
    t = texts.phrases(language, salon.language)
    values = templates.booking_values(salon, booking, t.language)
    return ListMessage(
        body=t["feedback_request"].format(service=values["service"], master=values["master"]),
        button=t["feedback_button"],
        options=[
            Option(
                id=rating_option(booking.code, n),
                title=t["feedback_row"].format(stars=STARS * n, rating=n),
            )
            for n in range(5, 0, -1)
        ],
    )


class FeedbackRun:
    def __init__(
        self,
        whatsapp: WhatsAppClient,
        *,
        clock: Callable[[], dt.datetime] | None = None,
        deadline: Callable[[], bool] | None = None,
        batch: int = 2000,
    ) -> None:
        self._whatsapp = whatsapp
        self._clock = clock or (lambda: dt.datetime.now(dt.UTC))
        self._deadline = deadline or (lambda: False)
        self._batch = batch

    def run(self, conn: Connection) -> RunResult:
        """Expects an autocommit connection, like the reminder run."""
        now = self._clock()
        result = RunResult()
        rows = conn.execute(
            _DUE_SQL, {"now": now, "too_old": TOO_OLD, "limit": self._batch}
        ).fetchall()
        cards = {row["salon_id"]: _card(row) for row in rows}
        approved = templates.approved_templates(conn, list(cards)) if rows else []
        planned = [p for row in rows if (p := self._plan(now, cards, row, approved, result))]
        claimed = claims.claim(conn, [p.claim for p in planned])
        send_claimed(conn, self._whatsapp, planned, claimed, self._deadline, result)
        if rows:
            logger.info("feedback run", extra=result.as_dict())
        return result

    def _plan(
        self,
        now: dt.datetime,
        cards: dict[Any, SalonCard],
        row: dict[str, Any],
        approved: list[templates.Template],
        result: RunResult,
    ) -> Planned | None:
        card = cards[row["salon_id"]]
        result.due += 1
        if row["opted_out"] == opt_out.ALL:
            result.opted_out += 1
            return None
        if is_quiet(card.outbound.quiet_hours, now, card.tz):
            result.quiet += 1
            return None
        if not card.phone_number_id:
            result.no_channel += 1
            return None
        booking = _booking(card, row)
        language = row["customer_language"] or card.language
        ours = [t for t in approved if t.salon_id == card.id]
        template = templates.choose(ours, FEEDBACK, language, card.language)
        inside = window.is_open(row["last_inbound_at"], now)
        base: dict[str, Any] = {
            "salon_id": card.id,
            "booking_id": booking.id,
            "kind": FEEDBACK,
            "for_starts_at": row["starts_at"],
            "phone": booking.phone,
        }
        if template is not None:
            values = templates.booking_values(card, booking, template.language[:2])
            payload = templates.template_payload(template, booking.phone, values, code=booking.code)
            price = whatsapp_rates.template_price(
                template.category, booking.phone, inside_window=inside
            )
            claim = claims.Claim(
                form="template", template_name=template.name, category=template.category, **base
            )
        elif inside:
            payload = to_payload(feedback_request(card, booking, language), booking.phone)
            price = whatsapp_rates.price(whatsapp_rates.SERVICE, booking.phone)
            claim = claims.Claim(form="free_form", category=whatsapp_rates.SERVICE, **base)
        else:
            result.no_channel += 1
            return None
        result.salons.add(str(card.id))
        return Planned(claim, card.phone_number_id, payload, price)
