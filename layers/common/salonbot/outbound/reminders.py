"""The reminder run (`ReminderFunction`, every 5 minutes; `salonbot run reminders`).

One run, over every salon with reminders:
1. finds the live bookings whose reminder is due (the visit is at most `before_minutes`
   ahead and that reminder was not claimed for the booking's current start), in one
   query; a booking moved since gets its reminders again for its new time, a cancelled
   one none;
2. per booking, only the nearest due reminder goes out (a booking made two hours ahead
   gets the two-hour reminder, not the day-before one too: that one is claimed `skipped`);
3. leaves out salons in their quiet hours (they are reminded on the first run after);
4. picks how: the approved reminder template in the customer's language, else, inside
   the customer's 24-hour window, free-form text with confirm / cancel / move buttons;
   with neither, nothing goes out (counted `no_channel`, tried again on the next run);
5. claims every message in the database (committed) before its send request, and records
   each outcome (see `claims`): however runs overlap or crash, a reminder goes out at most
   once, and an unknown outcome is never repeated."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

if TYPE_CHECKING:
    from decimal import Decimal

from salonbot import texts
from salonbot.booking.store import Booking
from salonbot.cost import message_costs, whatsapp_rates
from salonbot.observability import count_error, logger
from salonbot.outbound import claims, opt_out, templates, window
from salonbot.outbound.quiet_hours import is_quiet
from salonbot.outbound.settings import OutboundSettings
from salonbot.whatsapp.client import SendOutcomeUnknown, SendRejected, SendRetryable
from salonbot.whatsapp.outgoing import ButtonsMessage, Option, to_payload

if TYPE_CHECKING:
    import uuid
    from collections.abc import Callable

    from salonbot.db.connection import Connection
    from salonbot.whatsapp.client import WhatsAppClient

REMINDER = "reminder"
# WhatsApp: the customer stopped the business's marketing messages.
MARKETING_STOPPED = 131050
# Outcomes are recorded in batches of this many sends (one round trip each).
RECORD_EVERY = 100
BATCH = 5000
_BEGINNING = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


def kind(before_minutes: int) -> str:
    return f"{REMINDER}:{before_minutes}"


@dataclass(frozen=True)
class SalonCard:
    id: uuid.UUID
    name: str
    address: str | None
    language: str
    timezone: str
    phone_number_id: str | None
    outbound: OutboundSettings

    @cached_property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)


@dataclass
class RunResult:
    due: int = 0
    sent: int = 0
    template: int = 0
    free_form: int = 0
    failed: int = 0
    unknown: int = 0
    released: int = 0  # not sent, to be tried again
    taken: int = 0  # claimed by another run first
    quiet: int = 0
    opted_out: int = 0  # the customer wrote STOP
    no_channel: int = 0
    skipped: int = 0
    stopped_early: bool = False
    salons: set[str] = field(default_factory=set)
    # Customers WhatsApp refused with 131050 (they stopped marketing messages).
    marketing_stopped: set[str] = field(default_factory=set)

    def as_dict(self) -> dict[str, Any]:
        data = {k: v for k, v in self.__dict__.items() if k not in ("salons", "marketing_stopped")}
        data["salons"] = len(self.salons)
        return data


_DUE_SQL = """
SELECT b.id, b.code, b.salon_id, b.status, b.starts_at, b.ends_at, b.price,
       b.customer_confirmed_at, b.needs_confirmation,
       s.code AS service_code, s.names AS service_names,
       m.code AS master_code, m.name AS master_name, c.phone,
       r.minutes, sa.name AS salon_name, sa.address, sa.language AS salon_language,
       sa.timezone, sa.whatsapp_phone_number_id, sa.outbound,
       coalesce(conv.language, c.language) AS customer_language, conv.last_inbound_at,
       oo.scope AS opted_out
  FROM salons sa
 CROSS JOIN LATERAL (SELECT value::int AS minutes
                       FROM jsonb_array_elements_text(sa.outbound -> 'reminders')) r
  JOIN bookings b ON b.salon_id = sa.id AND b.status = 'confirmed'
                 AND b.starts_at > %(now)s
                 AND b.starts_at <= %(now)s + r.minutes * interval '1 minute'
  JOIN services s ON s.id = b.service_id
  JOIN masters m ON m.id = b.master_id
  JOIN clients c ON c.id = b.client_id AND c.phone <> ''
  LEFT JOIN ai_conversations conv
         ON conv.id = 'conv_' || sa.id::text || '_' || ltrim(c.phone, '+')
  LEFT JOIN opt_outs oo ON oo.salon_id = sa.id AND oo.phone = c.phone
 WHERE sa.outbound -> 'reminders' <> '[]'::jsonb
   AND (b.starts_at, b.id) > (%(after_start)s, %(after_id)s)
   AND NOT EXISTS (SELECT 1 FROM outbound_messages o
                    WHERE o.booking_id = b.id AND o.kind = 'reminder:' || r.minutes
                      AND o.for_starts_at = b.starts_at)
 ORDER BY b.starts_at, b.id, r.minutes
 LIMIT %(limit)s
"""


def _card(row: dict[str, Any]) -> SalonCard:
    return SalonCard(
        id=row["salon_id"],
        name=row["salon_name"],
        address=row["address"],
        language=row["salon_language"],
        timezone=row["timezone"],
        phone_number_id=row["whatsapp_phone_number_id"],
        outbound=OutboundSettings.from_json(row["outbound"]),
    )


def _booking(card: SalonCard, row: dict[str, Any]) -> Booking:
    return Booking(
        id=row["id"],
        code=row["code"],
        salon_id=row["salon_id"],
        status=row["status"],
        service_code=row["service_code"],
        service_names=dict(row["service_names"]),
        master_code=row["master_code"],
        master_name=row["master_name"],
        phone=row["phone"],
        starts_at=row["starts_at"].astimezone(card.tz),
        ends_at=row["ends_at"].astimezone(card.tz),
        price=row["price"],
        customer_confirmed_at=row["customer_confirmed_at"],
    )


def reminder_buttons(
    salon: templates.SalonFacts, booking: Booking, language: str, *, ask_confirm: bool = False
) -> ButtonsMessage:
    """The free-form reminder, inside the window: text and confirm / cancel / move.
    `ask_confirm`: the booking needs the customer's confirmation (their no-shows)."""
    t = texts.phrases(language, salon.language)
    values = templates.booking_values(salon, booking, t.language)
    body = t["reminder_needs_confirmation" if ask_confirm else "reminder"].format(
        service=values["service"],
        master=values["master"],
        day=values["start_date"],
        time=values["start_time"],
        salon=values["salon"],
        code=booking.code,
    )
    return ButtonsMessage(
        body=body,
        options=[
            Option(id=templates.button_payload(action, booking.code), title=t[f"reminder_{action}"])
            for action in ("confirm", "cancel", "move")
        ],
    )


@dataclass(frozen=True)
class Planned:
    """A message to send once claimed."""

    claim: claims.Claim
    phone_number_id: str
    payload: dict[str, Any]
    price_usd: Decimal


class ReminderRun:
    def __init__(
        self,
        whatsapp: WhatsAppClient,
        *,
        clock: Callable[[], dt.datetime] | None = None,
        deadline: Callable[[], bool] | None = None,
        batch: int = BATCH,
    ) -> None:
        self._whatsapp = whatsapp
        self._clock = clock or (lambda: dt.datetime.now(dt.UTC))
        self._deadline = deadline or (lambda: False)
        self._batch = batch

    def run(self, conn: Connection) -> RunResult:
        """Expects an autocommit connection: claims and outcomes commit on their own.
        Due bookings are taken in pages of `batch` rows, by start time; a page ends on a
        whole booking (its reminders are decided together)."""
        now = self._clock()
        result = RunResult()
        after: tuple[dt.datetime, int] = (_BEGINNING, 0)
        while not result.stopped_early:
            params = {"now": now, "limit": self._batch, "after_start": after[0]}
            rows = conn.execute(_DUE_SQL, {**params, "after_id": after[1]}).fetchall()
            full = len(rows) == self._batch
            if full and rows[0]["id"] != rows[-1]["id"]:
                last = rows[-1]["id"]
                rows = [r for r in rows if r["id"] != last]
            if not rows:
                break
            self._page(conn, now, rows, result)
            after = (rows[-1]["starts_at"], rows[-1]["id"])
            if not full:
                break
        logger.info("reminder run", extra=result.as_dict())
        return result

    def _page(
        self, conn: Connection, now: dt.datetime, rows: list[dict[str, Any]], result: RunResult
    ) -> None:
        cards: dict[uuid.UUID, SalonCard] = {}
        by_booking: dict[int, list[dict[str, Any]]] = {}
        for row in rows:
            cards.setdefault(row["salon_id"], _card(row))
            by_booking.setdefault(row["id"], []).append(row)
        approved = templates.approved_templates(conn, list(cards))
        planned, skipped = self._plan(now, cards, by_booking, approved, result)
        claimed = claims.claim(conn, [p.claim for p in planned] + skipped)
        result.skipped += sum(1 for s in skipped if (s.booking_id, s.kind) in claimed)
        send_claimed(conn, self._whatsapp, planned, claimed, self._deadline, result)

    def _plan(
        self,
        now: dt.datetime,
        cards: dict[uuid.UUID, SalonCard],
        by_booking: dict[int, list[dict[str, Any]]],
        approved: list[templates.Template],
        result: RunResult,
    ) -> tuple[list[Planned], list[claims.Claim]]:
        per_salon: dict[uuid.UUID, list[templates.Template]] = {}
        for approved_one in approved:
            per_salon.setdefault(approved_one.salon_id, []).append(approved_one)
        planned: list[Planned] = []
        skipped: list[claims.Claim] = []
        for due in by_booking.values():
            row = min(due, key=lambda r: r["minutes"])
            card = cards[row["salon_id"]]
            result.due += 1
            if row["opted_out"] == opt_out.ALL:
                result.opted_out += 1
                continue
            if is_quiet(card.outbound.quiet_hours, now, card.tz):
                result.quiet += 1
                continue
            if not card.phone_number_id:
                result.no_channel += 1
                continue
            booking = _booking(card, row)
            language = row["customer_language"] or card.language
            template = templates.choose(
                per_salon.get(card.id, []), REMINDER, language, card.language
            )
            base = {
                "salon_id": card.id,
                "booking_id": booking.id,
                "for_starts_at": row["starts_at"],
                "phone": booking.phone,
            }
            inside = window.is_open(row["last_inbound_at"], now)
            if template is not None:
                price = whatsapp_rates.template_price(
                    template.category, booking.phone, inside_window=inside
                )
                values = templates.booking_values(card, booking, template.language[:2])
                payload = templates.template_payload(
                    template, booking.phone, values, code=booking.code
                )
                claim = claims.Claim(
                    kind=kind(row["minutes"]),
                    form="template",
                    template_name=template.name,
                    category=template.category,
                    **base,
                )
            elif inside:
                price = whatsapp_rates.price(whatsapp_rates.SERVICE, booking.phone)
                message = reminder_buttons(
                    card, booking, language, ask_confirm=row["needs_confirmation"]
                )
                payload = to_payload(message, booking.phone)
                claim = claims.Claim(
                    kind=kind(row["minutes"]), form="free_form", category="service", **base
                )
            else:
                result.no_channel += 1
                continue
            result.salons.add(str(card.id))
            planned.append(Planned(claim, card.phone_number_id, payload, price))
            skipped.extend(
                claims.Claim(kind=kind(r["minutes"]), state=claims.SKIPPED, **base)
                for r in due
                if r is not row
            )
        return planned, skipped


def send_claimed(
    conn: Connection,
    whatsapp: WhatsAppClient,
    planned: list[Planned],
    claimed: dict[tuple[int, str], int],
    deadline: Callable[[], bool],
    result: RunResult,
) -> None:
    """Send each planned message this run claimed, recording outcomes and prices every
    RECORD_EVERY sends; Meta's marketing opt-out (131050) is stored as it comes. Past the
    deadline the rest are released for the next run."""
    outcomes: list[claims.Outcome] = []
    priced: list[message_costs.SentMessage] = []
    for item in planned:
        claim_id = claimed.get((item.claim.booking_id, item.claim.kind))
        if claim_id is None:
            result.taken += 1
            continue
        if deadline():
            # Not sent: released for the next run.
            outcomes.append(claims.Outcome(claim_id, None))
            result.stopped_early = True
            continue
        outcome = send_planned(whatsapp, item, claim_id, result)
        outcomes.append(outcome)
        if outcome.state == claims.SENT and outcome.wamid:
            priced.append(
                message_costs.SentMessage(
                    outcome.wamid,
                    item.claim.salon_id,
                    item.claim.phone,
                    item.claim.category or whatsapp_rates.SERVICE,
                    item.price_usd,
                )
            )
        if result.marketing_stopped and item.claim.phone in result.marketing_stopped:
            opt_out.opt_out(
                conn,
                item.claim.salon_id,
                item.claim.phone,
                scope=opt_out.MARKETING,
                source="whatsapp",
            )
        if len(outcomes) >= RECORD_EVERY:
            claims.record(conn, outcomes)
            message_costs.record(conn, priced)
            outcomes, priced = [], []
    claims.record(conn, outcomes)
    message_costs.record(conn, priced)


def send_planned(
    whatsapp: WhatsAppClient, item: Planned, claim_id: int, result: RunResult
) -> claims.Outcome:
    """Send one claimed message; its outcome, counted in `result`."""
    try:
        wamid = whatsapp.send_payload(item.phone_number_id, item.payload)
    except SendRetryable as exc:
        result.released += 1
        count_error("reminder_send")
        return claims.Outcome(claim_id, None, error=str(exc))
    except SendRejected as exc:
        result.failed += 1
        if exc.code == MARKETING_STOPPED:
            result.marketing_stopped.add(item.claim.phone)
        count_error("reminder_rejected")
        return claims.Outcome(claim_id, claims.FAILED, error=str(exc))
    except SendOutcomeUnknown as exc:
        result.unknown += 1
        count_error("reminder_unknown")
        return claims.Outcome(claim_id, claims.UNKNOWN, error=str(exc))
    result.sent += 1
    if item.claim.form == "template":
        result.template += 1
    else:
        result.free_form += 1
    return claims.Outcome(claim_id, claims.SENT, wamid=wamid)
