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
    """The requested time overlaps another live booking of the same master."""


class SlotUnavailable(SalonbotError):
    """The requested time is not bookable: outside working hours, a day off, in the past,
    inside the minimum notice or beyond the booking horizon."""


class BudgetExceeded(SalonbotError):
    """A daily spending cap refused the reservation."""


class ErasureFailed(SalonbotError):
    """A store refused part of a customer's erasure; running it again finishes it."""


class ConfigurationError(SalonbotError):
    """A required setting is missing or invalid."""
