"""Domain exceptions. Stores translate driver and SDK errors into these at their edge;
HTTP handlers map them to status codes by type, never by message text."""

from __future__ import annotations


class SalonbotError(Exception):
    """Base of every domain error."""


class InvalidInput(SalonbotError):
    """Input that fails validation. `field` names the offending field when known."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(f"{field}: {message}" if field else message)
        self.field = field
        self.detail = message


class NotFound(SalonbotError):
    """A referenced entity does not exist (or is not visible to the caller)."""


class UnknownSalon(NotFound):
    """No salon with this id or WhatsApp phone number id."""


class UnknownService(NotFound):
    """The salon offers no service with this code."""


class UnknownMaster(NotFound):
    """The salon has no master with this code."""


class BookingNotFound(NotFound):
    """No live booking with this code for this customer of this salon."""


class SlotTaken(SalonbotError):
    """The requested time is not free: it overlaps another live booking of the same
    master (or, as `ClientBusy`, one of the same customer's)."""


class ClientBusy(SlotTaken):
    """The customer already has a live booking overlapping the requested time. A
    `SlotTaken`, so code that offers other times for a taken one does so here too;
    `booking_code` is the booking in the way, when known."""

    def __init__(self, message: str, booking_code: str | None = None) -> None:
        super().__init__(message)
        self.booking_code = booking_code


class BookingLimitReached(SalonbotError):
    """The customer already has as many live, not yet over bookings as the salon allows
    (`max_live_bookings_per_client`). Not a `SlotTaken`: no other time would help, only
    moving or cancelling one of them."""

    def __init__(self, message: str, limit: int) -> None:
        super().__init__(message)
        self.limit = limit


class ChangeTooLate(SalonbotError):
    """A customer asked to cancel or move a visit inside the salon's cut-off
    (`cancel_notice_minutes` / `move_notice_minutes`). Staff can still change it: the
    customer is offered staff instead."""

    def __init__(self, message: str, notice_minutes: int) -> None:
        super().__init__(message)
        self.notice_minutes = notice_minutes


class SlotUnavailable(SalonbotError):
    """The requested time is not bookable: outside working hours, a day off, in the past,
    inside the minimum notice or beyond the booking horizon."""


class BudgetExceeded(SalonbotError):
    """A daily spending cap refused the reservation."""


class ErasureFailed(SalonbotError):
    """A store refused part of a customer's erasure; running it again finishes it."""


class ConfigurationError(SalonbotError):
    """A required setting is missing or invalid."""


class Unauthenticated(SalonbotError):
    """The request carries no verified token (HTTP 401)."""


class Forbidden(SalonbotError):
    """The caller's token does not allow this: a scope it lacks, or a salon it is not
    for (HTTP 403). The message names nothing about other tenants."""


class RequestInProgress(SalonbotError):
    """An earlier request with the same idempotency key is still being answered (HTTP 409):
    retry shortly for its answer."""
