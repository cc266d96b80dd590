"""Create or update a salon from a validated salon file, in one transaction.

Services and masters are matched by code: a re-import updates them in place, and ones
no longer in the file are deactivated rather than deleted, so past bookings keep their
references. Schedules and days off are replaced wholesale."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING

from psycopg.types.json import Jsonb

from salonbot.booking.salon_file import in_language, per_language
from salonbot.outbound.settings import outbound_settings
from salonbot.outbound.templates import import_templates

if TYPE_CHECKING:
    from salonbot.booking.salon_file import SalonFile
    from salonbot.db.connection import Connection


@dataclass(frozen=True)
class ImportResult:
    salon_id: uuid.UUID
    created: bool
    revision: int
    services: int
    masters: int


def _resolve_id(conn: Connection, salon: SalonFile) -> uuid.UUID:
    if salon.id is not None:
        return salon.id
    if salon.whatsapp_phone_number_id:
        row = conn.execute(
            "SELECT id FROM salons WHERE whatsapp_phone_number_id = %s",
            (salon.whatsapp_phone_number_id,),
        ).fetchone()
        if row:
            found: uuid.UUID = row["id"]
            return found
    return uuid.uuid4()


def _experiment_json(salon: SalonFile) -> Jsonb | None:
    if salon.model_experiment is None:
        return None
    return Jsonb(salon.model_experiment.model_dump(mode="json"))


def import_salon(conn: Connection, salon: SalonFile) -> ImportResult:
    with conn.transaction():
        salon_id = _resolve_id(conn, salon)
        row = conn.execute(
            """
            INSERT INTO salons (id, name, timezone, language, currency, address,
                                whatsapp_phone_number_id, ai_enabled, daily_budget_usd,
                                slot_step_minutes, min_notice_minutes, booking_horizon_days,
                                max_live_bookings_per_client,
                                customer_daily_budget_usd, cancel_notice_minutes,
                                move_notice_minutes, model_experiment, addresses,
                                whatsapp_business_account_id, outbound)
            VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s,
                    %s, %s::jsonb)
            ON CONFLICT (id) DO UPDATE SET
                name = EXCLUDED.name, timezone = EXCLUDED.timezone,
                language = EXCLUDED.language, currency = EXCLUDED.currency,
                address = EXCLUDED.address,
                whatsapp_phone_number_id = EXCLUDED.whatsapp_phone_number_id,
                ai_enabled = EXCLUDED.ai_enabled, daily_budget_usd = EXCLUDED.daily_budget_usd,
                slot_step_minutes = EXCLUDED.slot_step_minutes,
                min_notice_minutes = EXCLUDED.min_notice_minutes,
                booking_horizon_days = EXCLUDED.booking_horizon_days,
                max_live_bookings_per_client = EXCLUDED.max_live_bookings_per_client,
                customer_daily_budget_usd = EXCLUDED.customer_daily_budget_usd,
                cancel_notice_minutes = EXCLUDED.cancel_notice_minutes,
                move_notice_minutes = EXCLUDED.move_notice_minutes,
                model_experiment = EXCLUDED.model_experiment,
                whatsapp_business_account_id = EXCLUDED.whatsapp_business_account_id,
                outbound = EXCLUDED.outbound,
                addresses = EXCLUDED.addresses,
                revision = salons.revision + 1, updated_at = now()
            RETURNING revision, (xmax = 0) AS created
            """,
            (
                salon_id,
                salon.name,
                salon.timezone,
                salon.language,
                salon.currency,
                None if salon.address is None else in_language(salon.address, salon.language),
                salon.whatsapp_phone_number_id,
                salon.ai_enabled,
                salon.daily_budget_usd,
                salon.slot_step_minutes,
                salon.min_notice_minutes,
                salon.booking_horizon_days,
                salon.max_live_bookings_per_client,
                salon.customer_daily_budget_usd,
                salon.cancel_notice_minutes,
                salon.move_notice_minutes,
                _experiment_json(salon),
                Jsonb(per_language(salon.address)),
                salon.whatsapp_business_account_id,
                json.dumps(outbound_settings(salon)),
            ),
        ).fetchone()
        assert row is not None
        import_templates(conn, salon_id, salon.whatsapp_templates)

        # Resources by code, like services: those no longer in the file are deactivated.
        resource_ids: dict[str, int] = {}
        for resource in salon.resources:
            resource_row = conn.execute(
                """
                INSERT INTO resources (salon_id, code, capacity, active)
                VALUES (%s, %s, %s, true)
                ON CONFLICT (salon_id, code) DO UPDATE SET
                    capacity = EXCLUDED.capacity, active = true
                RETURNING id
                """,
                (salon_id, resource.code, resource.capacity),
            ).fetchone()
            assert resource_row is not None
            resource_ids[resource.code] = resource_row["id"]
        conn.execute(
            "UPDATE resources SET active = false WHERE salon_id = %s AND NOT (code = ANY(%s))",
            (salon_id, list(resource_ids)),
        )

        service_ids: dict[str, int] = {}
        for position, service in enumerate(salon.services):
            service_row = conn.execute(
                """
                INSERT INTO services (salon_id, code, names, duration_minutes,
                                      buffer_after_minutes, price, position, active,
                                      processing_minutes, finishing_minutes, resource_id,
                                      aliases)
                VALUES (%s, %s, %s, %s, %s, %s, %s, true, %s, %s, %s, %s)
                ON CONFLICT (salon_id, code) DO UPDATE SET
                    names = EXCLUDED.names, aliases = EXCLUDED.aliases,
                    duration_minutes = EXCLUDED.duration_minutes,
                    buffer_after_minutes = EXCLUDED.buffer_after_minutes,
                    price = EXCLUDED.price, position = EXCLUDED.position, active = true,
                    processing_minutes = EXCLUDED.processing_minutes,
                    finishing_minutes = EXCLUDED.finishing_minutes,
                    resource_id = EXCLUDED.resource_id
                RETURNING id
                """,
                (
                    salon_id,
                    service.code,
                    Jsonb(service.name),
                    service.duration_minutes,
                    service.buffer_after_minutes,
                    service.price,
                    position,
                    service.processing_minutes,
                    service.finishing_minutes,
                    resource_ids[service.resource] if service.resource else None,
                    Jsonb(service.aliases),
                ),
            ).fetchone()
            assert service_row is not None
            service_ids[service.code] = service_row["id"]
        conn.execute(
            "UPDATE services SET active = false WHERE salon_id = %s AND NOT (code = ANY(%s))",
            (salon_id, list(service_ids)),
        )

        master_ids: list[int] = []
        for position, master in enumerate(salon.masters):
            master_row = conn.execute(
                """
                INSERT INTO masters (salon_id, code, name, names, position, active)
                VALUES (%s, %s, %s, %s, %s, true)
                ON CONFLICT (salon_id, code) DO UPDATE SET
                    name = EXCLUDED.name, names = EXCLUDED.names,
                    position = EXCLUDED.position, active = true
                RETURNING id
                """,
                (
                    salon_id,
                    master.code,
                    in_language(master.name, salon.language),
                    Jsonb(per_language(master.name)),
                    position,
                ),
            ).fetchone()
            assert master_row is not None
            master_id = master_row["id"]
            master_ids.append(master_id)
            conn.execute("DELETE FROM master_services WHERE master_id = %s", (master_id,))
            conn.execute("DELETE FROM working_hours WHERE master_id = %s", (master_id,))
            conn.execute("DELETE FROM days_off WHERE master_id = %s", (master_id,))
            with conn.cursor() as cur:
                cur.executemany(
                    "INSERT INTO master_services (master_id, service_id) VALUES (%s, %s)",
                    [(master_id, service_ids[code]) for code in dict.fromkeys(master.services)],
                )
                cur.executemany(
                    "INSERT INTO working_hours (master_id, weekday, start_time, end_time)"
                    " VALUES (%s, %s, %s, %s)",
                    [
                        (master_id, weekday, shift.start, shift.end)
                        for weekday, shifts in master.shifts().items()
                        for shift in shifts
                    ],
                )
                cur.executemany(
                    "INSERT INTO days_off (master_id, day) VALUES (%s, %s)",
                    [(master_id, day) for day in sorted(set(master.days_off))],
                )
        conn.execute(
            "UPDATE masters SET active = false WHERE salon_id = %s AND NOT (id = ANY(%s))",
            (salon_id, master_ids),
        )
    return ImportResult(
        salon_id=salon_id,
        created=bool(row["created"]),
        revision=row["revision"],
        services=len(salon.services),
        masters=len(salon.masters),
    )
