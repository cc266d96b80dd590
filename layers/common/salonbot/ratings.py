"""Where a customer's rating of a visit (1 to 5) is kept, for the figures that read it.

Visit feedback stores the customer's answer on the booking. The experiment figures and
the conversation review report ratings as soon as `bookings` has one of `COLUMNS`, and
say nothing of ratings (None) while it has none: the hook is this module, not a guess
in each query."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from salonbot.db.connection import Connection

# Looked for in this order; the first present is read.
COLUMNS = ("feedback_rating", "rating")
# A rating at or below this is worth a look in the review.
LOW_RATING = 2


def rating_column(conn: Connection) -> str | None:
    """The column of `bookings` holding the visit's rating, or None."""
    row = conn.execute(
        """
        SELECT column_name FROM information_schema.columns
         WHERE table_schema = current_schema() AND table_name = 'bookings'
           AND column_name = ANY(%s)
         ORDER BY array_position(%s, column_name::text)
         LIMIT 1
        """,
        (list(COLUMNS), list(COLUMNS)),
    ).fetchone()
    return str(row["column_name"]) if row else None
