"""A visit of several services in the guided flow, kept in the state as one code: the
services' codes joined by "+" ("manicure+pedicure"). The steps show it as one service
(names joined, durations and prices summed) and ask the desk for the whole visit."""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING

from salonbot.booking.catalog import Service

if TYPE_CHECKING:
    from collections.abc import Sequence

    from salonbot.booking.catalog import Master, Salon

JOIN = "+"


def visit_code(codes: Sequence[str]) -> str:
    return JOIN.join(codes)


def desk_codes(code: str) -> str | list[str]:
    """What the desk is asked for: one service code, or the visit's codes in order."""
    return code.split(JOIN) if JOIN in code else code


def service_of(salon: Salon, code: str | None) -> Service | None:
    """The service (or the visit shown as one) a state's code names; None if unknown."""
    if not code:
        return None
    if JOIN not in code:
        return salon.services.get(code)
    parts = [salon.services.get(part) for part in code.split(JOIN)]
    if any(part is None for part in parts):
        return None
    services = [part for part in parts if part is not None]
    languages = dict.fromkeys(lang for s in services for lang in s.names)
    return Service(
        id=services[0].id,
        code=code,
        names={lang: " + ".join(s.name(lang) for s in services) for lang in languages},
        duration_minutes=sum(s.duration_minutes for s in services),
        buffer_after_minutes=services[-1].buffer_after_minutes,
        price=sum((s.price for s in services), Decimal(0)),
    )


def masters_for(salon: Salon, code: str) -> list[Master]:
    """Masters who do every service of the visit (who may take it alone)."""
    services = [salon.services[part] for part in code.split(JOIN) if part in salon.services]
    return [m for m in salon.masters.values() if all(m.does(s) for s in services)]
