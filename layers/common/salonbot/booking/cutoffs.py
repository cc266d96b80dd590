"""The salon's change cut-offs: inside `cancel_notice_minutes` (or `move_notice_minutes`)
before a visit starts, its customer can no longer cancel (or move) it on their own; staff
(the console, the CLI) still can. The customer's desk checks this, the store's staff paths
do not."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Literal

from salonbot.errors import ChangeTooLate

if TYPE_CHECKING:
    from salonbot.booking.catalog import Salon

Change = Literal["cancel", "move"]


def notice_for(salon: Salon, change: Change) -> int | None:
    return salon.cancel_notice_minutes if change == "cancel" else salon.move_notice_minutes


def too_late(salon: Salon, change: Change, starts_at: dt.datetime, now: dt.datetime) -> bool:
    """The visit starting at `starts_at` is inside the cut-off for `change` at `now`."""
    notice = notice_for(salon, change)
    return notice is not None and starts_at - now < dt.timedelta(minutes=notice)


def refuse_late_change(
    salon: Salon, change: Change, code: str, starts_at: dt.datetime, now: dt.datetime
) -> None:
    if too_late(salon, change, starts_at, now):
        notice = notice_for(salon, change)
        assert notice is not None
        raise ChangeTooLate(
            f"booking {code} starts in less than {notice} minutes: the salon's staff can "
            f"{change} it, the customer cannot on their own",
            notice_minutes=notice,
        )
