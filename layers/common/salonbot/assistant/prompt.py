"""The system prompt: the salon in a few dense lines, the rules, and the current time.

Every token here is paid on every model call, so the catalogue is one line per service
and per master, in the salon's own language plus English, and the rules are short. The
part that changes (the clock) comes last, so the stable prefix stays cacheable."""

from __future__ import annotations

from typing import TYPE_CHECKING

from salonbot.texts import ENGLISH, amount, phrases

if TYPE_CHECKING:
    import datetime as dt

    from salonbot.booking.catalog import Master, Salon, Service
    from salonbot.booking.store import Booking

# The model reads English day names, as an English-speaking customer does.
WEEKDAYS = phrases(ENGLISH).weekdays

RULES = (
    "Rules: reply in the customer's language, briefly and warmly, as WhatsApp messages. "
    "Only offer times the slots tool returned; never invent times or prices. "
    "Before booking, know service, date and time (master optional). "
    "Say booked/moved/cancelled only after the tool returned ok, and give the booking code. "
    "If a time is taken, offer the alternatives returned. "
    "Times are the salon's local time; tool dates are YYYY-MM-DD, times HH:MM. "
    "Hand off to staff when asked for a human or for what you cannot do."
)


def _service_line(service: Service, language: str) -> str:
    names = [service.name(language)]
    english = service.names.get("en")
    if english and english not in names:
        names.append(english)
    return (
        f"{service.code}: {'/'.join(names)}, {service.duration_minutes}m, {amount(service.price)}"
    )


def _clock(value: dt.time) -> str:
    return f"{value.hour}" if value.minute == 0 else f"{value.hour}:{value.minute:02d}"


def _hours(master: Master) -> str:
    """'Mon-Wed,Fri 10-14,15-20; Sat 11-18': weekdays with equal shifts grouped."""
    groups: list[tuple[str, list[int]]] = []
    for weekday in range(1, 8):
        shifts = master.shifts.get(weekday)
        if not shifts:
            continue
        key = ",".join(f"{_clock(s.start)}-{_clock(s.end)}" for s in shifts)
        if groups and groups[-1][0] == key:
            groups[-1][1].append(weekday)
        else:
            groups.append((key, [weekday]))
    parts = []
    for key, days in groups:
        runs: list[str] = []
        start = previous = days[0]
        for day in [*days[1:], None]:
            if day is not None and day == previous + 1:
                previous = day
                continue
            first, last = WEEKDAYS[start - 1], WEEKDAYS[previous - 1]
            runs.append(first if start == previous else f"{first}-{last}")
            if day is not None:
                start = previous = day
        parts.append(f"{','.join(runs)} {key}")
    return "; ".join(parts)


def _master_line(salon: Salon, master: Master) -> str:
    codes = [s.code for s in salon.services.values() if master.does(s)]
    return f"{master.code}: {master.name} ({','.join(codes)}) {_hours(master)}"


def last_visit_line(salon: Salon, booking: Booking | None) -> str | None:
    """The customer's last visit in one short line ("same as last time" needs it)."""
    if booking is None:
        return None
    items = booking.items or ()
    services = "+".join(i.service_code for i in items) if items else booking.service_code
    masters = ",".join(dict.fromkeys(i.master_code for i in items)) or booking.master_code
    day = booking.starts_at.astimezone(salon.tz)
    return f"Customer's last visit: {day:%Y-%m-%d} {services} {masters}."


def build_system_prompt(salon: Salon, now: dt.datetime) -> str:
    local = now.astimezone(salon.tz)
    where = f", {salon.address}" if salon.address else ""
    lines = [
        f"You are the WhatsApp booking assistant of the salon {salon.name}{where}.",
        f"Prices in {salon.currency}. Services (code: name, minutes, price):",
        *(_service_line(s, salon.language) for s in salon.services.values()),
        "Masters (code: name (services) hours):",
        *(_master_line(salon, m) for m in salon.masters.values()),
        RULES,
        f"Now: {WEEKDAYS[local.weekday()]} {local:%Y-%m-%d %H:%M} ({salon.timezone}).",
    ]
    return "\n".join(lines)
