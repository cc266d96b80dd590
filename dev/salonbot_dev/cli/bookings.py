"""`salonbot slots` (free times) and `salonbot bookings` (list, create, cancel, move).

Times on the command line are the salon's local time ("2026-03-02 11:00" or
"2026-03-02T11:00"); give an offset ("2026-10-25T02:00+01:00") to pick one of the two
02:00s of a night the clocks go back."""

from __future__ import annotations

import argparse
import datetime as dt
import sys
from typing import TYPE_CHECKING, Any

from salonbot.errors import InvalidInput
from salonbot_dev.cli.common import add_json_flag, open_connection, print_json, print_table

if TYPE_CHECKING:
    from salonbot.booking.availability import Slot
    from salonbot.booking.catalog import Salon
    from salonbot.booking.store import Booking


def register(subparsers: Any) -> None:
    slots: argparse.ArgumentParser = subparsers.add_parser(
        "slots", help="free start times for a service or a visit (a day, or the earliest ones)"
    )
    slots.add_argument("--salon", required=True, help="salon id")
    slots.add_argument(
        "--service",
        required=True,
        action="append",
        help="service code; once per service of a visit, in order (back to back)",
    )
    slots.add_argument("--master", help="master code (default: any master)")
    when = slots.add_mutually_exclusive_group(required=True)
    when.add_argument("--date", type=_date, help="local day, YYYY-MM-DD")
    when.add_argument("--earliest", action="store_true", help="the first free slots from now")
    slots.add_argument("--limit", type=int, default=5, help="with --earliest (default 5)")
    slots.add_argument("--days", type=int, help="with --earliest (default: booking horizon)")
    add_json_flag(slots)
    slots.set_defaults(handler=run_slots)

    bookings: argparse.ArgumentParser = subparsers.add_parser(
        "bookings", help="list bookings; create, cancel or move one"
    )
    _list_options(bookings)
    actions = bookings.add_subparsers(dest="bookings_command", metavar="ACTION")

    listing = actions.add_parser("list", help="list bookings (the default action)")
    _list_options(listing)

    create = actions.add_parser("create", help="book a service, or a visit of several")
    _customer_options(create)
    create.add_argument(
        "--service",
        required=True,
        action="append",
        help="service code; once per service of a visit, in order (back to back)",
    )
    create.add_argument("--at", required=True, help="local start time, e.g. 2026-03-02T11:00")
    create.add_argument(
        "--master", help="master code for every item (default: the first free one per item)"
    )
    create.add_argument("--name", help="the client's name")
    add_json_flag(create)
    create.set_defaults(handler=run_create)

    cancel = actions.add_parser("cancel", help="cancel a booking")
    _customer_options(cancel)
    cancel.add_argument("--code", required=True, help="booking code")
    add_json_flag(cancel)
    cancel.set_defaults(handler=run_cancel)

    move = actions.add_parser("move", help="move a booking to another time")
    _customer_options(move)
    move.add_argument("--code", required=True, help="booking code")
    move.add_argument("--at", required=True, help="new local start time")
    move.add_argument("--master", help="master code (default: keep, else the first free one)")
    add_json_flag(move)
    move.set_defaults(handler=run_move)

    mark = actions.add_parser("mark", help="mark the customer arrived or not come")
    mark.add_argument("code", help="booking code")
    came = mark.add_mutually_exclusive_group(required=True)
    came.add_argument("--arrived", action="store_true", help="the customer is here")
    came.add_argument("--no-show", action="store_true", help="the customer did not come")
    add_json_flag(mark)
    mark.set_defaults(handler=run_mark)


def _list_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--salon", help="salon id")
    parser.add_argument(
        "--phone", help="only this client's bookings (E.164, or a WhatsApp user id)"
    )
    parser.add_argument("--all", action="store_true", help="include past and cancelled bookings")
    add_json_flag(parser)
    parser.set_defaults(handler=run_list)


def _customer_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--salon", required=True, help="salon id")
    parser.add_argument(
        "--phone", required=True, help="the client's phone number (E.164, or a WhatsApp user id)"
    )


def _date(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date like 2026-03-02") from None


def local_time(salon: Salon, text: str) -> dt.datetime:
    """A start time typed at the command line: the salon's local time unless it carries
    an offset."""
    try:
        value = dt.datetime.fromisoformat(text.strip())
    except ValueError:
        raise InvalidInput(f"{text!r} is not a time like 2026-03-02T11:00", field="at") from None
    if value.tzinfo is None:
        value = value.replace(tzinfo=salon.tz)
    return value


def slot_json(slot: Slot) -> dict[str, Any]:
    return {
        "starts_at": slot.starts_at.isoformat(),
        "ends_at": slot.ends_at.isoformat(),
        "master_code": slot.master_code,
        "master_name": slot.master_name,
        "items": [
            {
                "service_code": item.service_code,
                "master_code": item.master_code,
                "starts_at": item.starts_at.isoformat(),
                "ends_at": item.ends_at.isoformat(),
            }
            for item in slot.items
        ],
    }


def booking_json(booking: Booking) -> dict[str, Any]:
    return {
        "code": booking.code,
        "status": booking.status,
        "salon_id": str(booking.salon_id),
        "service_code": booking.service_code,
        "service_names": booking.service_names,
        "master_code": booking.master_code,
        "master_name": booking.master_name,
        "phone": booking.phone,
        "starts_at": booking.starts_at.isoformat(),
        "ends_at": booking.ends_at.isoformat(),
        "price": str(booking.price),
        "customer_confirmed_at": (
            booking.customer_confirmed_at.isoformat() if booking.customer_confirmed_at else None
        ),
        "items": [
            {
                "service_code": item.service_code,
                "master_code": item.master_code,
                "master_name": item.master_name,
                "starts_at": item.starts_at.isoformat(),
                "ends_at": item.ends_at.isoformat(),
                "price": str(item.price),
            }
            for item in booking.items
        ],
    }


def _services_text(salon: Salon, booking: Booking) -> str:
    items = booking.items or ()
    if len(items) <= 1:
        return booking.service_names.get(salon.language) or booking.service_code
    return " + ".join(i.service_names.get(salon.language) or i.service_code for i in items)


def _masters_text(booking: Booking) -> str:
    names = list(dict.fromkeys(item.master_name for item in booking.items))
    return ", ".join(names) if len(names) > 1 else booking.master_name


def _booking_row(salon: Salon, booking: Booking) -> dict[str, str]:
    return {
        "code": booking.code,
        "status": booking.status,
        "starts": f"{booking.starts_at:%Y-%m-%d %H:%M}",
        "ends": f"{booking.ends_at:%H:%M}",
        "service": _services_text(salon, booking),
        "master": _masters_text(booking),
        "phone": booking.phone,
        "price": f"{booking.price} {salon.currency}",
    }


BOOKING_COLUMNS = ["code", "status", "starts", "ends", "service", "master", "phone", "price"]


def run_slots(args: argparse.Namespace) -> int:
    from salonbot.booking.availability import earliest_slots, free_slots
    from salonbot.booking.catalog import load_salon

    with open_connection(args) as conn:
        salon = load_salon(conn, args.salon)
        if args.earliest:
            slots = earliest_slots(
                conn, salon, args.service, args.master, limit=args.limit, days=args.days
            )
        else:
            slots = free_slots(conn, salon, args.service, args.date, args.master)
    if not slots:
        # Why, in words, on stderr: `--json` still prints a list ([]), and it is no error.
        day = None if args.earliest else args.date
        why = no_slots_reason(salon, args.service, args.master, day)
        print(f"no free times: {why}", file=sys.stderr)
    if args.json:
        print_json([slot_json(s) for s in slots])
        return 0
    if not slots:
        return 0
    # An offset is shown so the two 02:00s of a night the clocks go back stay apart.
    rows = [
        {
            "starts": f"{s.starts_at:%Y-%m-%d %H:%M %z}",
            "ends": f"{s.ends_at:%H:%M}",
            "master": ", ".join(
                dict.fromkeys(f"{i.master_name} ({i.master_code})" for i in s.items)
            )
            or f"{s.master_name} ({s.master_code})",
        }
        for s in slots
    ]
    print_table(rows, ["starts", "ends", "master"])
    return 0


def no_slots_reason(
    salon: Salon,
    service_code: str | list[str],
    master_code: str | None,
    day: dt.date | None,
    now: dt.datetime | None = None,
) -> str:
    """Why a day (None: the earliest search) has no free start time: past, beyond the
    booking horizon, closed (for the salon, the service's masters, or the one asked
    for), or booked up."""
    from salonbot.booking.availability import in_horizon, masters_for, shift_windows

    current = (now or salon.now()).astimezone(salon.tz)
    today = current.date()
    horizon = salon.booking_horizon_days
    if day is None:
        return f"none within the booking horizon ({horizon} days from today)"
    named = f"{day:%A} {day.isoformat()}"
    if day < today:
        return f"{named} is in the past (today is {today.isoformat()} in {salon.timezone})"
    if not in_horizon(salon, day, current):
        last = today + dt.timedelta(days=horizon - 1)
        return (
            f"{named} is beyond the booking horizon: bookings open {horizon} days ahead, "
            f"until {last.isoformat()}"
        )
    from salonbot.booking.visits import visit_services

    service = visit_services(salon, service_code)[0]  # the visit starts with it
    masters = masters_for(salon, service, master_code)
    if not any(shift_windows(salon, m, day) for m in masters):
        if master_code is not None:
            (master,) = masters
            off = "has a day off" if day in master.days_off else "does not work"
            return f"{master.name} {off} on {named}"
        if not any(shift_windows(salon, m, day) for m in salon.masters.values()):
            return f"the salon is closed on {named}"
        return f"no master who does {service.code!r} works on {named}"
    if day == today:
        return (
            f"nothing left today ({named}): booked up, or the rest of the day is within "
            f"the {salon.min_notice_minutes} minutes' notice"
        )
    return f"{named} is booked up"


def run_list(args: argparse.Namespace) -> int:
    from salonbot.booking.catalog import load_salon
    from salonbot.booking.store import list_bookings

    if not args.salon:
        raise InvalidInput("is required", field="--salon")
    with open_connection(args) as conn:
        salon = load_salon(conn, args.salon)
        bookings = list_bookings(conn, salon, phone=args.phone, upcoming_only=not args.all)
    if args.json:
        print_json([booking_json(b) for b in bookings])
    else:
        print_table([_booking_row(salon, b) for b in bookings], BOOKING_COLUMNS)
    return 0


def _show(args: argparse.Namespace, salon: Salon, booking: Booking, verb: str) -> int:
    if args.json:
        print_json(booking_json(booking))
    else:
        row = _booking_row(salon, booking)
        print(
            f"{verb} {row['code']}: {row['service']} with {row['master']}, "
            f"{row['starts']}-{row['ends']} ({salon.timezone}), {row['price']}"
        )
    return 0


def run_create(args: argparse.Namespace) -> int:
    from salonbot.booking.catalog import load_salon
    from salonbot.booking.store import create_booking

    with open_connection(args) as conn:
        salon = load_salon(conn, args.salon)
        booking = create_booking(
            conn,
            salon,
            phone=args.phone,
            service_code=args.service,
            starts_at=local_time(salon, args.at),
            master_code=args.master,
            client_name=args.name,
            source="admin",
        )
    return _show(args, salon, booking, "booked")


def run_cancel(args: argparse.Namespace) -> int:
    from salonbot.booking.catalog import load_salon
    from salonbot.booking.store import cancel_booking

    with open_connection(args) as conn:
        salon = load_salon(conn, args.salon)
        booking = cancel_booking(conn, salon, phone=args.phone, code=args.code)
    return _show(args, salon, booking, "cancelled")


def run_move(args: argparse.Namespace) -> int:
    from salonbot.booking.catalog import load_salon
    from salonbot.booking.store import move_booking

    with open_connection(args) as conn:
        salon = load_salon(conn, args.salon)
        booking = move_booking(
            conn,
            salon,
            phone=args.phone,
            code=args.code,
            starts_at=local_time(salon, args.at),
            master_code=args.master,
        )
    return _show(args, salon, booking, "moved")


def run_mark(args: argparse.Namespace) -> int:
    """As the console's calendar marks it (`salonbot.staff.calendar.mark`)."""
    from salonbot.booking.catalog import load_salon
    from salonbot.booking.codes import normalize_booking_code
    from salonbot.errors import BookingNotFound
    from salonbot.staff.calendar import ARRIVED, NO_SHOW, mark

    code = normalize_booking_code(args.code)
    with open_connection(args) as conn:
        found = conn.execute("SELECT salon_id FROM bookings WHERE code = %s", (code,)).fetchone()
        if found is None:
            raise BookingNotFound(f"no booking {code!r}")
        salon = load_salon(conn, found["salon_id"])
        with conn.transaction():
            booking = mark(
                conn,
                salon,
                code,
                ARRIVED if args.arrived else NO_SHOW,
                now=dt.datetime.now(dt.UTC),
            )
    if args.json:
        print_json(booking.as_dict())
    else:
        print(f"{booking.code}: {booking.status} ({booking.starts_at:%Y-%m-%d %H:%M})")
    return 0
