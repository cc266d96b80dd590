"""Retention of customer data: old conversations and messages are deleted, idle clients
anonymised, in small batches. docs/privacy.md lists every store and its period.

"Older than" means, for a conversation, its last activity (`last_message_at`): a
conversation a customer wrote in yesterday is kept however long ago it started. Deleting
a conversation deletes its messages (the foreign key cascades). A message is older than
its `created_at`; the message rule thins long-lived conversations that are still active.
The processing ledger (`inbound_messages`: phone numbers and full reply texts), the
delivery statuses (`message_statuses`) and the messages kept unanswered for the staff
(`kept_messages`) and the staff API's remembered keys (`staff_requests`) follow the
message retention, but never sooner
than `LEDGER_MIN_DAYS`. A ledger row still `pending` goes too: by then no queue can
redeliver its message (SQS keeps one 14 days at most, DLQ included) and WhatsApp would
refuse the reply (free-form replies are allowed 24 hours after the customer's message).

A client idle for `client_days` (no booking created or starting since, no conversation
message since) is anonymised: phone, name and language are cleared (`anonymised_at`
says when), and their bookings lose `source_message_id` (a WhatsApp message id, which
encodes the phone). The bookings stay, linked to the anonymous client, so the salon's
figures do not change. A client with a booking still to come is never idle. Salons are
never touched.

Each batch is its own short transaction: `DELETE ... WHERE id IN (SELECT ... LIMIT n
FOR UPDATE SKIP LOCKED)` locks at most n rows and skips rows another run holds, so two
runs at once share the work instead of waiting on each other or deleting twice."""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Callable

    from salonbot.config import Settings
    from salonbot.db.connection import Connection


# A ledger row (and a status) is kept at least this long whatever the message retention:
# a late SQS or Meta redelivery of a message must still find its ledger row, or it would
# be processed, and answered, a second time.
LEDGER_MIN_DAYS = 14


@dataclass(frozen=True)
class RetentionPolicy:
    conversation_days: int = 30
    message_days: int = 90
    client_days: int = 730
    batch_size: int = 2000

    @classmethod
    def from_settings(cls, settings: Settings) -> RetentionPolicy:
        return cls(
            conversation_days=settings.conversation_retention_days,
            message_days=settings.message_retention_days,
            client_days=settings.client_retention_days,
            batch_size=settings.cleanup_batch_size,
        )

    @property
    def ledger_days(self) -> int:
        return max(self.message_days, LEDGER_MIN_DAYS)


@dataclass
class CleanupResult:
    messages_deleted: int = 0
    conversations_deleted: int = 0  # their messages are in messages_cascaded
    messages_cascaded: int = 0
    ledger_deleted: int = 0  # inbound_messages rows
    statuses_deleted: int = 0  # message_statuses rows
    kept_deleted: int = 0  # kept_messages rows
    staff_requests_deleted: int = 0  # the staff API's remembered Idempotency-Keys
    clients_anonymised: int = 0
    bookings_anonymised: int = 0  # bookings of those clients that named a message id
    batches: int = 0
    complete: bool = True  # False when the deadline stopped the run early
    seconds: float = 0.0


# Old messages first, by id so the scan walks the primary key from the oldest rows.
_DELETE_MESSAGES = """
DELETE FROM ai_messages
WHERE id IN (
    SELECT id FROM ai_messages
    WHERE created_at < %(cutoff)s
    ORDER BY id
    LIMIT %(limit)s
    FOR UPDATE SKIP LOCKED
)
"""

# Conversations idle since the cutoff and not held by a staff hand-off still running.
# Their messages go in the same statement (rather than by the cascade) to be counted.
_DELETE_CONVERSATIONS = """
WITH doomed AS (
    SELECT id FROM ai_conversations
    WHERE last_message_at < %(cutoff)s
      AND (handoff_until IS NULL OR handoff_until < %(now)s)
    ORDER BY last_message_at
    LIMIT %(limit)s
    FOR UPDATE SKIP LOCKED
), messages AS (
    DELETE FROM ai_messages m USING doomed WHERE m.conversation_id = doomed.id RETURNING 1
), conversations AS (
    DELETE FROM ai_conversations c USING doomed WHERE c.id = doomed.id RETURNING 1
)
SELECT (SELECT count(*) FROM conversations) AS conversations,
       (SELECT count(*) FROM messages) AS messages
"""


_DELETE_LEDGER = """
DELETE FROM inbound_messages
WHERE message_id IN (
    SELECT message_id FROM inbound_messages
    WHERE processed_at < %(cutoff)s
    LIMIT %(limit)s
    FOR UPDATE SKIP LOCKED
)
"""

_DELETE_STATUSES = """
DELETE FROM message_statuses
WHERE (message_id, status) IN (
    SELECT message_id, status FROM message_statuses
    WHERE recorded_at < %(cutoff)s
    LIMIT %(limit)s
    FOR UPDATE SKIP LOCKED
)
"""


# The staff API's Idempotency-Keys (with the answers, which name customers) are kept as
# long as the ledger's rows.
_DELETE_STAFF_REQUESTS = """
DELETE FROM staff_requests
WHERE (salon_id, key) IN (
    SELECT salon_id, key FROM staff_requests
    WHERE created_at < %(cutoff)s
    LIMIT %(limit)s
    FOR UPDATE SKIP LOCKED
)
"""


_DELETE_KEPT = """
DELETE FROM kept_messages
WHERE message_id IN (
    SELECT message_id FROM kept_messages
    WHERE received_at < %(cutoff)s
    LIMIT %(limit)s
    FOR UPDATE SKIP LOCKED
)
"""


# Clients idle since the cutoff: nothing booked (made or due) and no message since then.
# Future bookings count through `starts_at`, so a client with one to come is kept.
_ANONYMISE_CLIENTS = """
WITH idle AS (
    SELECT c.id FROM clients c
    WHERE c.anonymised_at IS NULL
      AND c.created_at < %(cutoff)s
      AND NOT EXISTS (
          SELECT 1 FROM bookings b
          WHERE b.client_id = c.id
            AND (b.starts_at >= %(cutoff)s OR b.created_at >= %(cutoff)s)
      )
      AND NOT EXISTS (
          SELECT 1 FROM ai_conversations a
          WHERE a.salon_id = c.salon_id AND a.phone_number = c.phone
            AND a.last_message_at >= %(cutoff)s
      )
    ORDER BY c.id
    LIMIT %(limit)s
    FOR UPDATE OF c SKIP LOCKED
), bookings AS (
    UPDATE bookings b SET source_message_id = NULL
    FROM idle WHERE b.client_id = idle.id AND b.source_message_id IS NOT NULL
    RETURNING 1
), anonymised AS (
    UPDATE clients c SET phone = NULL, name = NULL, language = NULL, anonymised_at = %(now)s
    FROM idle WHERE c.id = idle.id
    RETURNING 1
)
SELECT (SELECT count(*) FROM anonymised) AS clients,
       (SELECT count(*) FROM bookings) AS bookings
"""


def _delete_in_batches(
    conn: Connection,
    sql: str,
    params: dict[str, object],
    result: CleanupResult,
    stop: Callable[[], bool],
) -> int:
    """Run a batched DELETE until it deletes nothing or `stop()`; the rows deleted."""
    total = 0
    while result.complete:
        if stop():
            result.complete = False
            break
        with conn.transaction():
            deleted = conn.execute(sql, params).rowcount
        result.batches += 1
        total += deleted
        if deleted == 0:
            break
    return total


def _counted_batches(
    conn: Connection,
    sql: str,
    params: dict[str, object],
    result: CleanupResult,
    stop: Callable[[], bool],
    counts: tuple[str, str],
) -> tuple[int, int]:
    """Run a batched statement answering one row of two counts (the rows it handled and
    those that went with them) until the first is 0 or `stop()`; the totals."""
    first = second = 0
    while result.complete:
        if stop():
            result.complete = False
            break
        with conn.transaction():
            row = conn.execute(sql, params).fetchone()
        result.batches += 1
        handled = int(row[counts[0]]) if row else 0
        first += handled
        second += int(row[counts[1]]) if row else 0
        if handled == 0:
            break
    return first, second


def purge_old_ai_data(
    conn: Connection,
    policy: RetentionPolicy,
    *,
    now: dt.datetime | None = None,
    deadline: Callable[[], bool] | None = None,
) -> CleanupResult:
    """Delete what the policy says is old. Cutoffs are fixed at the start, so rows that
    age during the run wait for the next one. `deadline()` returning True stops between
    batches (a Lambda near its timeout); the next run picks up where this one stopped."""
    started = time.perf_counter()
    now = now or dt.datetime.now(dt.UTC)
    message_cutoff = now - dt.timedelta(days=policy.message_days)
    conversation_cutoff = now - dt.timedelta(days=policy.conversation_days)
    ledger_cutoff = now - dt.timedelta(days=policy.ledger_days)
    client_cutoff = now - dt.timedelta(days=policy.client_days)
    result = CleanupResult()
    stop = deadline or (lambda: False)
    conn.commit()  # batches are our own transactions, never a caller's

    result.messages_deleted = _delete_in_batches(
        conn, _DELETE_MESSAGES, {"cutoff": message_cutoff, "limit": policy.batch_size}, result, stop
    )

    result.conversations_deleted, result.messages_cascaded = _counted_batches(
        conn,
        _DELETE_CONVERSATIONS,
        {"cutoff": conversation_cutoff, "now": now, "limit": policy.batch_size},
        result,
        stop,
        ("conversations", "messages"),
    )

    ledger = {"cutoff": ledger_cutoff, "limit": policy.batch_size}
    result.ledger_deleted = _delete_in_batches(conn, _DELETE_LEDGER, ledger, result, stop)
    result.statuses_deleted = _delete_in_batches(conn, _DELETE_STATUSES, ledger, result, stop)
    result.kept_deleted = _delete_in_batches(conn, _DELETE_KEPT, ledger, result, stop)
    result.staff_requests_deleted = _delete_in_batches(
        conn, _DELETE_STAFF_REQUESTS, ledger, result, stop
    )

    result.clients_anonymised, result.bookings_anonymised = _counted_batches(
        conn,
        _ANONYMISE_CLIENTS,
        {"cutoff": client_cutoff, "now": now, "limit": policy.batch_size},
        result,
        stop,
        ("clients", "bookings"),
    )

    result.seconds = time.perf_counter() - started
    return result


def run_cleanup(
    settings: Settings,
    *,
    conn: Connection | None = None,
    deadline: Callable[[], bool] | None = None,
) -> CleanupResult:
    """The scheduled cleanup: purge with the configured policy, log and count it."""
    from aws_lambda_powertools.metrics import MetricUnit

    from salonbot.db.connection import get_connection
    from salonbot.observability import MetricName, logger, metrics

    conn = conn or get_connection(settings)
    result = purge_old_ai_data(conn, RetentionPolicy.from_settings(settings), deadline=deadline)
    metrics.add_metric(
        name=MetricName.MESSAGES_DELETED,
        unit=MetricUnit.Count,
        value=result.messages_deleted + result.messages_cascaded,
    )
    metrics.add_metric(
        name=MetricName.CONVERSATIONS_DELETED,
        unit=MetricUnit.Count,
        value=result.conversations_deleted,
    )
    metrics.add_metric(
        name=MetricName.LEDGER_ROWS_DELETED, unit=MetricUnit.Count, value=result.ledger_deleted
    )
    metrics.add_metric(
        name=MetricName.STATUSES_DELETED, unit=MetricUnit.Count, value=result.statuses_deleted
    )
    metrics.add_metric(
        name=MetricName.CLIENTS_ANONYMISED, unit=MetricUnit.Count, value=result.clients_anonymised
    )
    logger.info(
        "ai data cleanup finished",
        messages_deleted=result.messages_deleted,
        conversations_deleted=result.conversations_deleted,
        messages_cascaded=result.messages_cascaded,
        ledger_deleted=result.ledger_deleted,
        statuses_deleted=result.statuses_deleted,
        kept_deleted=result.kept_deleted,
        staff_requests_deleted=result.staff_requests_deleted,
        clients_anonymised=result.clients_anonymised,
        bookings_anonymised=result.bookings_anonymised,
        batches=result.batches,
        complete=result.complete,
        seconds=round(result.seconds, 3),
    )
    return result
