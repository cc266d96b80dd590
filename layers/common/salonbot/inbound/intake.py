"""From parsed webhook events to the queue: claim each message id once, enqueue (a
stale message marked so: the processor keeps it for the staff instead of answering it),
then mark the ids accepted (or release them if the queue failed).

Every event of a request is either on the queue or covered by an exception the HTTP
layer answers with a 5xx, so Meta delivers the request again. Nothing is half-done: a
claim that did not reach the queue is released, and a repeat of the request enqueues only
what is not on the queue yet."""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from aws_lambda_powertools.metrics import MetricUnit

from salonbot.inbound.dedupe import Claim, SeenMessages, dedupe_key
from salonbot.inbound.enqueue import MAX_BATCH_BYTES, EventQueue, QueueMessage
from salonbot.inbound.errors import DedupeUnavailable, MessageInProgress, QueueUnavailable
from salonbot.observability import MetricName, count_error, logger, metrics
from salonbot.whatsapp.webhook import (
    NOT_REQUESTS,
    DeliveryStatus,
    MessageEvent,
    StaffEcho,
    TemplateStatusEvent,
    queue_body,
)

if TYPE_CHECKING:
    from collections.abc import Callable

    from salonbot.whatsapp.webhook import ParsedWebhook, WebhookEvent

# Meta caps a text at 4096 characters; an envelope over SQS's limit keeps this much.
_TRIMMED_TEXT = 4096
_MAX_BODY_BYTES = MAX_BATCH_BYTES - 1024


@dataclass
class IntakeResult:
    enqueued: int = 0
    duplicates: int = 0
    stale: int = 0  # enqueued, marked stale: kept for staff, not answered
    invalid: int = 0
    ignored: int = 0


class WebhookIntake:
    def __init__(
        self,
        *,
        seen: SeenMessages,
        queue: EventQueue,
        max_message_age_s: int,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._seen = seen
        self._queue = queue
        self._max_age_s = max_message_age_s
        self._clock = clock

    def accept(self, parsed: ParsedWebhook) -> IntakeResult:
        """Raises `IntakeUnavailable` when some event is not durably on the queue."""
        now = self._clock()
        owner = secrets.token_hex(16)  # this request's claims
        result = IntakeResult(invalid=parsed.invalid, ignored=parsed.ignored)
        outgoing: list[QueueMessage] = []
        claims: list[str | None] = []  # per outgoing message: its claimed key, if any
        # Per outgoing message: the customer message a burst's last turn may answer
        # (a request, not stale), else None.
        answerable: list[MessageEvent | None] = []
        seen_here: set[str] = set()
        busy = False
        for event in parsed.events:
            if isinstance(event, DeliveryStatus | StaffEcho | TemplateStatusEvent):
                # The processor records statuses, staff echoes and template verdicts
                # idempotently (by their ids): no durable claim needed.
                outgoing.append(queue_message(event, now))
                claims.append(None)
                answerable.append(None)
                continue
            # Answering a day-old "are you open now?" does more harm than good, but the
            # salon should still see it: it is queued marked stale, to be kept for staff.
            stale = now - event.timestamp > self._max_age_s
            key = dedupe_key(event.message_id)
            if key in seen_here:
                result.duplicates += 1
                continue
            seen_here.add(key)
            try:
                claim = self._seen.claim(key, now, owner)
            except DedupeUnavailable:
                self._release(claims, owner)
                raise
            if claim is Claim.DUPLICATE:
                result.duplicates += 1
            elif claim is Claim.BUSY:
                busy = True
            else:
                outgoing.append(queue_message(event, now, stale=stale))
                claims.append(key)
                answerable.append(None if stale or event.type in NOT_REQUESTS else event)
                result.stale += stale
        failed = self._queue.send(outgoing) if outgoing else set()
        for position, claimed in enumerate(claims):
            if position in failed:
                if claimed is not None:
                    self._seen.release(claimed, owner)
            else:
                result.enqueued += 1
                if claimed is not None:
                    self._complete(claimed, now, owner)
        self._note_latest([e for p, e in enumerate(answerable) if p not in failed and e], now)
        self._count(result)
        if failed:
            count_error("webhook_enqueue_failed")
            raise QueueUnavailable(f"{len(failed)} of {len(outgoing)} events not enqueued")
        if busy:
            raise MessageInProgress("a message id is being enqueued by another request")
        return result

    def _note_latest(self, enqueued: list[MessageEvent | None], now: float) -> None:
        """Each customer's latest enqueued request, for the processor's burst check."""
        latest: dict[str, MessageEvent] = {}
        for event in enqueued:
            if event is not None:
                latest[event.group_id] = event  # Meta's order: the last one wins
        for event in latest.values():
            self._seen.note_latest(
                event.phone_number_id, event.wa_id, event.message_id, event.timestamp, now
            )

    def _release(self, claims: list[str | None], owner: str) -> None:
        for key in claims:
            if key is not None:
                self._seen.release(key, owner)

    def _complete(self, key: str, now: float, owner: str) -> None:
        try:
            self._seen.complete(key, now, owner)
        except DedupeUnavailable:
            # The event is on the queue: answering 5xx would only add a repeat. The claim's
            # lease lapses; a later repeat is caught by SQS (5 min) or the processor's ledger.
            count_error("webhook_dedupe_complete_failed")
            logger.warning("enqueued message not marked accepted", exc_info=True)

    @staticmethod
    def _count(result: IntakeResult) -> None:
        for name, value in (
            (MetricName.WEBHOOK_EVENTS_ENQUEUED, result.enqueued),
            (MetricName.WEBHOOK_DUPLICATES, result.duplicates),
            (MetricName.STALE_MESSAGES, result.stale),
        ):
            if value:
                metrics.add_metric(name=name, unit=MetricUnit.Count, value=value)
        if result.stale:
            logger.warning(
                "stale messages queued for the staff, not to be answered",
                extra={"stale": result.stale},
            )
        if result.invalid:
            count_error("webhook_invalid_event")
            logger.warning("invalid webhook items skipped", extra={"invalid": result.invalid})


def queue_message(event: WebhookEvent, now: float, *, stale: bool = False) -> QueueMessage:
    """The SQS message for one event (an envelope within SQS's size limit)."""
    body = queue_body(event, now, stale=stale)
    if len(body.encode()) > _MAX_BODY_BYTES and isinstance(event, MessageEvent):
        trimmed = event._replace(
            text=event.text[:_TRIMMED_TEXT] if event.text else event.text,
            payload={"trimmed": True},
            contact_name=(event.contact_name or "")[:256] or None,
        )
        body = queue_body(trimmed, now, stale=stale)
    return QueueMessage(body=body, group_id=event.group_id, deduplication_id=event.deduplication_id)
