"""Answering a burst once: "Привет" / "хочу на маникюр" / "завтра после 5", sent within
seconds, get one reply.

The webhook records each customer's latest enqueued request (in the idempotency table,
`latest#<customer>#<salon number>`: its message id and the second the customer sent
it). SQS FIFO hands the processor one message of a customer at a time, in order; before
answering one, the processor asks whether a message the customer sent later has already
reached the webhook and is still to be processed. If so, this one is stored without a
reply of its own (held) and the later message's turn answers both: its input starts
with the held texts.

Safe by construction: a message is held only when a strictly later one (by the second it
was sent) is on the queue and not yet processed, so the held text always has a turn
behind it; messages of the same second are answered one by one. Reactions, edits and
other events are never recorded as the latest, so they never hold a request back.
`BURST_WAIT_MS` (default 0) lets a message that is the latest wait that long for a
next one before it is answered."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from botocore.exceptions import BotoCoreError, ClientError

from salonbot.inbound.dedupe import latest_key
from salonbot.observability import count_error, logger
from salonbot.processing import ledger

if TYPE_CHECKING:
    from collections.abc import Callable

    from mypy_boto3_dynamodb.client import DynamoDBClient

    from salonbot.db.connection import Connection
    from salonbot.whatsapp.events import InboundMessage


class BurstWatch:
    def __init__(
        self,
        table_name: str,
        *,
        client: DynamoDBClient | None = None,
        wait_ms: int = 0,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if client is None:
            import boto3

            client = boto3.client("dynamodb")
        self._client = client
        self._table = table_name
        self._wait_s = wait_ms / 1000
        self._sleep = sleep

    def later_arrived(self, conn: Connection, message: InboundMessage) -> bool:
        """True when a later message of this customer is on the queue, unprocessed."""
        later = self._later(conn, message)
        if not later and self._wait_s > 0:
            self._sleep(self._wait_s)
            later = self._later(conn, message)
        return later

    def _later(self, conn: Connection, message: InboundMessage) -> bool:
        try:
            item = self._client.get_item(
                TableName=self._table,
                Key={"id": {"S": latest_key(message.phone_number_id, message.wa_id)}},
                ConsistentRead=True,
            ).get("Item")
        except (ClientError, BotoCoreError):
            # Unknown: answer this message on its own, as without bursts.
            count_error("burst_check")
            logger.warning("latest message unknown: answered on its own", exc_info=True)
            return False
        if not item:
            return False
        latest_id = item.get("message_id", {}).get("S")
        sent_at = int(item.get("sent_at", {}).get("N", "0"))
        if not latest_id or latest_id == message.message_id:
            return False
        if sent_at <= int(message.timestamp.timestamp()):
            return False
        return not ledger.claimed(conn, latest_id)
