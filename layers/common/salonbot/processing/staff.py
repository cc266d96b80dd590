"""Telling the salon's staff that a customer's message waits for a human: AI is off for
the salon, or the conversation was handed off. One SNS message per customer message,
published before the message's transaction commits (a crash after publishing may notify
twice). Publishing is best effort: the turn logs and counts a failed publish
(`staff_notify`) and keeps the message, which staff still find in the database."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from salonbot.observability import logger, mask_phone

if TYPE_CHECKING:
    from mypy_boto3_sns import SNSClient

    from salonbot.booking.catalog import Salon

SUBJECT = "salonbot: a customer message for staff"
TEXT_LIMIT = 2000


class StaffNotifier:
    def __init__(self, topic_arn: str | None, client: SNSClient | None = None) -> None:
        self.topic_arn = topic_arn
        self._client = client

    def _sns(self) -> SNSClient:
        if self._client is None:
            import boto3

            self._client = boto3.client("sns")
        return self._client

    def notify(
        self,
        salon: Salon,
        *,
        phone: str,
        text: str,
        reason: str,
        conversation_id: str,
        customer_name: str | None = None,
    ) -> None:
        """`reason`: `ai_disabled`, `handoff` (the assistant passed it on) or `with_staff`."""
        if not self.topic_arn:
            logger.info(
                "no staff topic: message kept for staff",
                extra={"reason": reason, "phone": mask_phone(phone)},
            )
            return
        body: dict[str, Any] = {
            "kind": "customer_message_for_staff",
            "reason": reason,
            "salon_id": str(salon.id),
            "salon": salon.name,
            "conversation_id": conversation_id,
            "phone": phone,  # staff need it to answer; it stays out of logs
            "customer_name": customer_name,
            "text": text[:TEXT_LIMIT],
        }
        self._sns().publish(
            TopicArn=self.topic_arn,
            Subject=SUBJECT,
            Message=json.dumps(body, ensure_ascii=False),
            MessageAttributes={
                "salon_id": {"DataType": "String", "StringValue": str(salon.id)},
                "reason": {"DataType": "String", "StringValue": reason},
            },
        )
        logger.info("staff notified", extra={"reason": reason, "phone": mask_phone(phone)})
