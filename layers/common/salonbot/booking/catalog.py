"""Read model of a salon: its services, masters, schedules and days off.

`load_salon` reads everything in one round trip (JSON aggregation in SQL), so the cost
of loading does not grow in round trips with the number of masters or services."""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass, field
from decimal import Decimal
from functools import cached_property
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from salonbot.errors import UnknownMaster, UnknownSalon, UnknownService
from salonbot.experiment import ModelExperiment
from salonbot.outbound.settings import OutboundSettings

if TYPE_CHECKING:
    from salonbot.db.connection import Connection


@dataclass(frozen=True)
class Shift:
    start: dt.time
    end: dt.time


@dataclass(frozen=True)
class Service:
    id: int
    code: str
    names: dict[str, str]
    duration_minutes: int
    buffer_after_minutes: int
    price: Decimal
    # Other words customers use for it, per language (the salon file's `aliases`).
    aliases: dict[str, tuple[str, ...]] = field(default_factory=dict)
    # Of the duration: the master is free for `processing_minutes` before the last
    # `finishing_minutes` (a colour developing); the client stays.
    processing_minutes: int = 0
    finishing_minutes: int = 0
    resource_id: int | None = None  # the resource (a chair, a room) one item holds

    def name(self, language: str) -> str:
        return self.names.get(language) or self.names.get("en") or next(iter(self.names.values()))


@dataclass(frozen=True)
class Resource:
    """Something several masters share, `capacity` of them at once (two pedicure chairs)."""

    id: int
    code: str
    capacity: int


@dataclass(frozen=True)
class Master:
    id: int
    code: str
    name: str
    service_ids: frozenset[int]
    # ISO weekday (1 = Monday) -> shifts sorted by start.
    shifts: dict[int, tuple[Shift, ...]]
    days_off: frozenset[dt.date]
    # The name written for other languages ({"en": "Anna"}); `name` is the salon's own.
    names: dict[str, str] = field(default_factory=dict)

    def does(self, service: Service) -> bool:
        return service.id in self.service_ids

    def display_name(self, language: str) -> str:
        """The name for a customer writing in `language` (the salon's own without one)."""
        return self.names.get(language) or self.name


@dataclass(frozen=True)
class Salon:
    id: uuid.UUID
    name: str
    timezone: str
    language: str
    currency: str
    address: str | None
    whatsapp_phone_number_id: str | None
    ai_enabled: bool
    daily_budget_usd: Decimal
    slot_step_minutes: int
    min_notice_minutes: int
    booking_horizon_days: int
    revision: int
    services: dict[str, Service] = field(default_factory=dict)
    masters: dict[str, Master] = field(default_factory=dict)
    max_live_bookings_per_client: int = 3
    # What one customer's model calls may cost the salon a day; None: the cost guard's
    # default, 10% of the salon's cap (salonbot.cost.guard.DEFAULT_CUSTOMER_SHARE).
    customer_daily_budget_usd: Decimal | None = None
    whatsapp_business_account_id: str | None = None
    outbound: OutboundSettings = field(default_factory=OutboundSettings)
    # The address written for other languages ({"en": "1 Tverskaya St"}).
    addresses: dict[str, str] = field(default_factory=dict)

    def address_in(self, language: str) -> str | None:
        """The address for a customer writing in `language` (the salon's own without one)."""
        return self.addresses.get(language) or self.address

    resources: dict[str, Resource] = field(default_factory=dict)
    # Inside these many minutes before a visit the customer cannot cancel or move it
    # (staff can); None: no cut-off.
    cancel_notice_minutes: int | None = None
    move_notice_minutes: int | None = None
    # The salon file's `model_experiment`: arms splitting conversations between models.
    model_experiment: ModelExperiment | None = None

    @cached_property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def service(self, code: str) -> Service:
        try:
            return self.services[code]
        except KeyError:
            raise UnknownService(f"salon has no service {code!r}") from None

    def master(self, code: str) -> Master:
        try:
            return self.masters[code]
        except KeyError:
            raise UnknownMaster(f"salon has no master {code!r}") from None

    def master_by_id(self, master_id: int) -> Master:
        for master in self.masters.values():
            if master.id == master_id:
                return master
        raise UnknownMaster(f"salon has no master #{master_id}")

    def service_by_id(self, service_id: int) -> Service:
        for service in self.services.values():
            if service.id == service_id:
                return service
        raise UnknownService(f"salon has no service #{service_id}")

    def masters_for(self, service: Service) -> list[Master]:
        return [m for m in self.masters.values() if m.does(service)]

    def now(self) -> dt.datetime:
        return dt.datetime.now(self.tz)


_LOAD_SQL = """
SELECT s.*,
  (SELECT coalesce(json_agg(json_build_object(
            'id', sv.id, 'code', sv.code, 'names', sv.names, 'aliases', sv.aliases,
            'duration_minutes', sv.duration_minutes,
            'buffer_after_minutes', sv.buffer_after_minutes, 'price', sv.price::text,
            'processing_minutes', sv.processing_minutes,
            'finishing_minutes', sv.finishing_minutes, 'resource_id', sv.resource_id)
          ORDER BY sv.position, sv.code), '[]')
     FROM services sv WHERE sv.salon_id = s.id AND sv.active) AS services,
  (SELECT coalesce(json_agg(json_build_object(
            'id', r.id, 'code', r.code, 'capacity', r.capacity) ORDER BY r.code), '[]')
     FROM resources r WHERE r.salon_id = s.id AND r.active) AS resources,
  (SELECT coalesce(json_agg(json_build_object(
            'id', m.id, 'code', m.code, 'name', m.name, 'names', m.names,
            'service_ids', (SELECT coalesce(json_agg(ms.service_id), '[]')
                              FROM master_services ms WHERE ms.master_id = m.id),
            'shifts', (SELECT coalesce(json_agg(json_build_array(
                                 wh.weekday, to_char(wh.start_time, 'HH24:MI:SS'),
                                 to_char(wh.end_time, 'HH24:MI:SS'))
                               ORDER BY wh.weekday, wh.start_time), '[]')
                         FROM working_hours wh WHERE wh.master_id = m.id),
            'days_off', (SELECT coalesce(json_agg(d.day ORDER BY d.day), '[]')
                           FROM days_off d WHERE d.master_id = m.id))
          ORDER BY m.position, m.code), '[]')
     FROM masters m WHERE m.salon_id = s.id AND m.active) AS masters
FROM salons s
"""


def _salon_from_row(row: dict[str, Any]) -> Salon:
    services = {
        item["code"]: Service(
            id=item["id"],
            code=item["code"],
            names=dict(item["names"]),
            duration_minutes=item["duration_minutes"],
            buffer_after_minutes=item["buffer_after_minutes"],
            price=Decimal(str(item["price"])),
            aliases={k: tuple(v) for k, v in (item.get("aliases") or {}).items()},
            processing_minutes=item["processing_minutes"],
            finishing_minutes=item["finishing_minutes"],
            resource_id=item["resource_id"],
        )
        for item in row["services"]
    }
    masters = {}
    for item in row["masters"]:
        shifts: dict[int, list[Shift]] = {}
        for weekday, start, end in item["shifts"]:
            shifts.setdefault(weekday, []).append(
                Shift(dt.time.fromisoformat(start), dt.time.fromisoformat(end))
            )
        masters[item["code"]] = Master(
            id=item["id"],
            code=item["code"],
            name=item["name"],
            service_ids=frozenset(item["service_ids"]),
            shifts={day: tuple(values) for day, values in shifts.items()},
            days_off=frozenset(dt.date.fromisoformat(d) for d in item["days_off"]),
            names=dict(item.get("names") or {}),
        )
    return Salon(
        id=row["id"],
        name=row["name"],
        timezone=row["timezone"],
        language=row["language"],
        currency=row["currency"].strip(),
        address=row["address"],
        whatsapp_phone_number_id=row["whatsapp_phone_number_id"],
        ai_enabled=row["ai_enabled"],
        daily_budget_usd=row["daily_budget_usd"],
        slot_step_minutes=row["slot_step_minutes"],
        min_notice_minutes=row["min_notice_minutes"],
        booking_horizon_days=row["booking_horizon_days"],
        max_live_bookings_per_client=row["max_live_bookings_per_client"],
        revision=row["revision"],
        services=services,
        masters=masters,
        customer_daily_budget_usd=row["customer_daily_budget_usd"],
        whatsapp_business_account_id=row.get("whatsapp_business_account_id"),
        outbound=OutboundSettings.from_json(row.get("outbound")),
        addresses=dict(row.get("addresses") or {}),
        resources={
            item["code"]: Resource(id=item["id"], code=item["code"], capacity=item["capacity"])
            for item in row["resources"]
        },
        cancel_notice_minutes=row["cancel_notice_minutes"],
        move_notice_minutes=row["move_notice_minutes"],
        model_experiment=ModelExperiment.from_json(row.get("model_experiment")),
    )


def load_salon(conn: Connection, salon_id: uuid.UUID | str) -> Salon:
    try:
        key = uuid.UUID(str(salon_id))
    except ValueError:
        raise UnknownSalon(f"{salon_id!r} is not a salon id") from None
    row = conn.execute(_LOAD_SQL + " WHERE s.id = %s", (key,)).fetchone()
    if row is None:
        raise UnknownSalon(f"no salon {key}")
    return _salon_from_row(row)


def load_salon_by_phone_number_id(conn: Connection, phone_number_id: str) -> Salon:
    row = conn.execute(
        _LOAD_SQL + " WHERE s.whatsapp_phone_number_id = %s", (phone_number_id,)
    ).fetchone()
    if row is None:
        raise UnknownSalon(f"no salon with WhatsApp phone number id {phone_number_id}")
    return _salon_from_row(row)


def list_salons(conn: Connection) -> list[dict[str, Any]]:
    return conn.execute(
        "SELECT id, name, timezone, whatsapp_phone_number_id, ai_enabled FROM salons ORDER BY name"
    ).fetchall()
