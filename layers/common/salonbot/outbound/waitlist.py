"""The waitlist: a customer whose wanted day was full waits for a time to free up.

`join` puts the customer on the waitlist for a service on a day (with a master, or any).
When a live booking's time frees up (cancelled, a no-show, moved: the `bookings` trigger
of migration 0019 records it in `freed_slots` in the booking's own transaction, whatever
path changed it), the outbound run (`WaitlistRun`, after the reminders) offers the slot to
every customer waiting for that service, day and master: inside the customer's 24-hour
window as text with a "Book it" button, else through the salon's approved
`waitlist_offer` template, else not at all. Each offer is claimed in `waitlist_offers`
before it is sent, so it goes out at most once. `take` books the slot for the first
customer who taps: the slot's row is locked and marked taken in the same transaction as
the booking (made through the normal store), so of any number of taps at once exactly one
books; the others, and taps after `waitlist_offer_minutes`, are told it is gone."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from salonbot import texts
from salonbot.booking import store
from salonbot.errors import InvalidInput, SalonbotError
from salonbot.observability import count_error, logger
from salonbot.outbound import opt_out, templates, window
from salonbot.outbound.settings import OutboundSettings
from salonbot.whatsapp.client import SendOutcomeUnknown, SendRejected, SendRetryable
from salonbot.whatsapp.outgoing import ButtonsMessage, Option, to_payload

if TYPE_CHECKING:
    from collections.abc import Callable

    from salonbot.booking.catalog import Salon
    from salonbot.db.connection import Connection
    from salonbot.whatsapp.client import WhatsAppClient

PURPOSE = "waitlist_offer"
PREFIX = "waitlist:"


def join_id(service_code: str, day: dt.date, master_code: str | None) -> str:
    """The id of the "join the waitlist" button for a full day."""
    return f"{PREFIX}join:{service_code}|{day.isoformat()}|{master_code or ''}"


def take_id(offer_id: int) -> str:
    return f"{PREFIX}take:{offer_id}"


def parse(option_id: str) -> tuple[str, str] | None:
    """("join", "service|day|master") or ("take", offer id) of one of our ids, else None."""
    if not option_id.startswith(PREFIX):
        return None
    action, _, value = option_id.removeprefix(PREFIX).partition(":")
    if action not in ("join", "take") or not value:
        return None
    return action, value


def join(
    conn: Connection,
    salon: Salon,
    *,
    phone: str,
    service_code: str,
    day: dt.date,
    master_code: str | None = None,
    language: str | None = None,
    now: dt.datetime | None = None,
) -> None:
    """Put the customer on the waitlist; joining twice is the same as once. A service or
    master the salon does not have, or a day already past, is refused (`InvalidInput`)."""
    service = salon.services.get(service_code)
    if service is None:
        raise InvalidInput(f"unknown service {service_code!r}", field="service")
    master = None
    if master_code:
        master = salon.masters.get(master_code)
        if master is None:
            raise InvalidInput(f"unknown master {master_code!r}", field="master")
    today = (now or dt.datetime.now(dt.UTC)).astimezone(salon.tz).date()
    if day < today:
        raise InvalidInput(f"{day.isoformat()} has passed", field="day")
    with conn.transaction():
        conn.execute(
            """
            INSERT INTO waitlist (salon_id, phone, service_id, master_id, day, language)
            VALUES (%s, %s, %s, %s, %s, %s)
            ON CONFLICT (salon_id, phone, service_id, day, coalesce(master_id, 0))
            DO UPDATE SET state = 'waiting', language = EXCLUDED.language
            """,
            (
                salon.id,
                store.normalize_phone(phone),
                service.id,
                master and master.id,
                day,
                language,
            ),
        )


class OfferGone(SalonbotError):
    """The offered time was taken by someone else, or the offer expired."""


def take(
    conn: Connection, salon: Salon, *, phone: str, offer_id: int, now: dt.datetime | None = None
) -> store.Booking:
    """Book the offered slot for the customer the offer went to. `OfferGone` when another
    customer took it first, it expired, or the offer is not this customer's."""
    current = now or dt.datetime.now(dt.UTC)
    phone = store.normalize_phone(phone)
    with conn.transaction():
        row = conn.execute(
            """
            SELECT f.id AS slot_id, f.starts_at, s.code AS service_code, m.code AS master_code,
                   w.id AS waitlist_id
              FROM waitlist_offers o
              JOIN waitlist w ON w.id = o.waitlist_id
              JOIN freed_slots f ON f.id = o.slot_id
              JOIN services s ON s.id = f.service_id
              JOIN masters m ON m.id = f.master_id
             WHERE o.id = %s AND w.salon_id = %s AND w.phone = %s
               AND f.taken_booking_id IS NULL AND f.expires_at > %s AND f.starts_at > %s
               FOR UPDATE OF f
            """,
            (offer_id, salon.id, phone, current, current),
        ).fetchone()
        # Locked: a concurrent taker waits here, then finds the slot taken.
        if row is None:
            raise OfferGone("the offer is no longer open")
        try:
            booking = store.create_booking(
                conn,
                salon,
                phone=phone,
                service_code=row["service_code"],
                starts_at=row["starts_at"],
                master_code=row["master_code"],
                now=current,
            )
        except SalonbotError as exc:
            raise OfferGone(str(exc)) from exc
        conn.execute(
            "UPDATE freed_slots SET taken_booking_id = %s WHERE id = %s",
            (booking.id, row["slot_id"]),
        )
        conn.execute("UPDATE waitlist SET state = 'booked' WHERE id = %s", (row["waitlist_id"],))
    return booking


_OFFERS_SQL = """
SELECT f.id AS slot_id, f.starts_at, f.salon_id, w.id AS waitlist_id, w.phone,
       coalesce(w.language, conv.language, sa.language) AS language,
       s.names AS service_names, m.name AS master_name, m.code AS master_code,
       sa.name AS salon_name, sa.address, sa.language AS salon_language, sa.timezone,
       sa.whatsapp_phone_number_id, sa.outbound, conv.last_inbound_at, oo.scope AS opted_out
  FROM freed_slots f
  JOIN salons sa ON sa.id = f.salon_id
  JOIN services s ON s.id = f.service_id
  JOIN masters m ON m.id = f.master_id
  JOIN waitlist w ON w.salon_id = f.salon_id AND w.service_id = f.service_id
                 AND w.state = 'waiting'
                 AND w.day = (f.starts_at AT TIME ZONE sa.timezone)::date
                 AND (w.master_id IS NULL OR w.master_id = f.master_id)
  LEFT JOIN ai_conversations conv
         ON conv.id = 'conv_' || sa.id::text || '_' || ltrim(w.phone, '+')
  LEFT JOIN opt_outs oo ON oo.salon_id = sa.id AND oo.phone = w.phone
 WHERE f.offered_at IS NULL AND f.taken_booking_id IS NULL AND f.starts_at > %(now)s
   -- Still free: no live visit of the master overlaps it now (rebooked meanwhile).
   AND NOT EXISTS (
       SELECT 1 FROM booking_items i
        WHERE i.master_id = f.master_id AND i.status = 'confirmed'
          AND i.starts_at < f.starts_at + s.duration_minutes * interval '1 minute'
          AND i.blocked_until > f.starts_at)
 ORDER BY f.id, w.created_at
"""


@dataclass
class WaitlistResult:
    slots: int = 0
    offered: int = 0
    no_channel: int = 0
    failed: int = 0
    unknown: int = 0
    taken: int = 0  # claimed by another run first
    opted_out: int = 0
    expired: list[int] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        data = {k: v for k, v in self.__dict__.items() if k != "expired"}
        data["expired"] = len(self.expired)
        return data


@dataclass(frozen=True)
class _Facts:
    name: str
    address: str | None
    language: str
    tz: ZoneInfo


class WaitlistRun:
    def __init__(
        self,
        whatsapp: WhatsAppClient,
        *,
        clock: Callable[[], dt.datetime] | None = None,
        deadline: Callable[[], bool] | None = None,
    ) -> None:
        self._whatsapp = whatsapp
        self._clock = clock or (lambda: dt.datetime.now(dt.UTC))
        self._deadline = deadline or (lambda: False)

    def run(self, conn: Connection) -> WaitlistResult:
        """Expects an autocommit connection: each claim commits before its send. A slot
        is offered on one run only (`offered_at`); its offers expire after the salon's
        `waitlist_offer_minutes`."""
        now = self._clock()
        result = WaitlistResult()
        rows = conn.execute(_OFFERS_SQL, {"now": now}).fetchall()
        by_slot: dict[int, list[dict[str, Any]]] = {}
        for row in rows:
            by_slot.setdefault(row["slot_id"], []).append(row)
        approved = templates.approved_templates(conn, list({r["salon_id"] for r in rows}))
        for slot_id, waiting in by_slot.items():
            if self._deadline():
                break
            minutes = OutboundSettings.from_json(waiting[0]["outbound"]).waitlist_offer_minutes
            marked = conn.execute(
                "UPDATE freed_slots SET offered_at = %s, expires_at = %s "
                "WHERE id = %s AND offered_at IS NULL RETURNING id",
                (now, now + dt.timedelta(minutes=minutes), slot_id),
            ).fetchone()
            if marked is None:
                result.taken += 1
                continue
            result.slots += 1
            for row in waiting:
                self._offer(conn, now, row, approved, result)
        logger.info("waitlist run", extra=result.as_dict())
        return result

    def _offer(
        self,
        conn: Connection,
        now: dt.datetime,
        row: dict[str, Any],
        approved: list[templates.Template],
        result: WaitlistResult,
    ) -> None:
        if row["opted_out"] == opt_out.ALL:
            result.opted_out += 1
            return
        phone_number_id = row["whatsapp_phone_number_id"]
        language = row["language"]
        inside = window.is_open(row["last_inbound_at"], now)
        template = templates.choose(
            [a for a in approved if a.salon_id == row["salon_id"]],
            PURPOSE,
            language,
            row["salon_language"],
        )
        if not phone_number_id or (template is None and not inside):
            result.no_channel += 1
            return
        claimed = conn.execute(
            "INSERT INTO waitlist_offers (slot_id, waitlist_id) VALUES (%s, %s) "
            "ON CONFLICT DO NOTHING RETURNING id",
            (row["slot_id"], row["waitlist_id"]),
        ).fetchone()
        if claimed is None:
            result.taken += 1
            return
        offer_id = claimed["id"]
        payload = _payload(row, offer_id, language, None if inside else template)
        state, wamid, error = "sent", None, None
        try:
            wamid = self._whatsapp.send_payload(phone_number_id, payload)
            result.offered += 1
        except SendRetryable:
            conn.execute("DELETE FROM waitlist_offers WHERE id = %s", (offer_id,))
            count_error("waitlist_send")
            result.failed += 1
            return
        except SendRejected as exc:
            state, error = "failed", str(exc)
            result.failed += 1
        except SendOutcomeUnknown as exc:
            state, error = "unknown", str(exc)
            result.unknown += 1
        conn.execute(
            "UPDATE waitlist_offers SET state = %s, wamid = %s, error = %s WHERE id = %s",
            (state, wamid, error, offer_id),
        )


def _payload(
    row: dict[str, Any], offer_id: int, language: str, template: templates.Template | None
) -> dict[str, Any]:
    t = texts.phrases(language, row["salon_language"])
    tz = ZoneInfo(row["timezone"])
    local = row["starts_at"].astimezone(tz)
    names = dict(row["service_names"])
    service = (
        names.get(t.language) or names.get(row["salon_language"]) or next(iter(names.values()))
    )
    if template is None:
        body = t["waitlist_offer"].format(
            service=service,
            master=row["master_name"],
            day=t.day(local.date()),
            time=t.clock(local),
        )
        message = ButtonsMessage(
            body=body, options=[Option(id=take_id(offer_id), title=t["waitlist_take"])]
        )
        return to_payload(message, row["phone"])
    values = {
        "start_date": t.day(local.date()),
        "start_time": t.clock(local),
        "service": service,
        "master": row["master_name"],
        "code": str(offer_id),
        "salon": row["salon_name"],
        "address": row["address"] or row["salon_name"],
    }
    payload = templates.template_payload(template, row["phone"], values, code=str(offer_id))
    for component in payload["template"]["components"]:
        if component["type"] == "button":
            component["parameters"] = [{"type": "payload", "payload": take_id(offer_id)}]
    return payload
