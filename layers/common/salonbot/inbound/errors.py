"""Why a webhook request could not be durably accepted (answered 503: Meta retries)."""

from __future__ import annotations

from salonbot.errors import SalonbotError


class IntakeUnavailable(SalonbotError):
    """A store the webhook needs failed; nothing the request carried is lost if Meta
    delivers it again."""


class DedupeUnavailable(IntakeUnavailable):
    """The table of seen message ids could not be read or written (throttled, down)."""


class QueueUnavailable(IntakeUnavailable):
    """The queue refused or never got some of the events."""


class MessageInProgress(IntakeUnavailable):
    """Another request holds this message id and has not finished enqueueing it."""
