"""What the assistant needs from a spend guard: reserve before a model call, reconcile
with the real cost after it, release when the call failed.

`salonbot.cost.guard.DynamoCostGuard` is the production implementation (caps per
customer, per salon and overall, in DynamoDB); `UnlimitedSpend` is used when no cost
table is configured."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol, TypeVar

if TYPE_CHECKING:
    from decimal import Decimal

ReservationT = TypeVar("ReservationT")


class SpendGuard(Protocol[ReservationT]):
    def reserve(
        self,
        *,
        salon_id: str,
        timezone: str,
        daily_budget_usd: Decimal,
        amount_usd: Decimal,
        reservation_id: str,
        customer_phone: str | None = None,
        customer_daily_budget_usd: Decimal | None = None,
    ) -> ReservationT:
        """Hold `amount_usd` of the salon's day (and of the customer's, under
        `customer_daily_budget_usd` or a default share of the salon's, when
        `customer_phone` is given), or raise `salonbot.errors.BudgetExceeded`."""
        ...

    def reconcile(self, reservation: ReservationT, actual_usd: Decimal) -> None:
        """Replace the held amount by the real cost. Idempotent."""
        ...

    def release(self, reservation: ReservationT) -> None:
        """Give the held amount back (the call failed). Idempotent."""
        ...


@dataclass(frozen=True)
class UnlimitedReservation:
    reservation_id: str
    amount_usd: Decimal


class UnlimitedSpend:
    """No cap: every reservation is granted. Used when `COST_TABLE` is not set."""

    def reserve(
        self,
        *,
        salon_id: str,
        timezone: str,
        daily_budget_usd: Decimal,
        amount_usd: Decimal,
        reservation_id: str,
        customer_phone: str | None = None,
        customer_daily_budget_usd: Decimal | None = None,
    ) -> UnlimitedReservation:
        return UnlimitedReservation(reservation_id, amount_usd)

    def reconcile(self, reservation: UnlimitedReservation, actual_usd: Decimal) -> None:
        return None

    def release(self, reservation: UnlimitedReservation) -> None:
        return None
