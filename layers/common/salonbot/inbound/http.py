"""WebhookFunction's HTTP side: API Gateway HTTP API (payload format 2.0) events in,
responses out. What Meta gets back decides whether it retries:

- 200: every event is on the queue, was accepted before, or is deliberately dropped
  (too old, not a message, not valid): retrying could not change anything.
- 4xx: the request itself is wrong (signature, size, content type, not a WhatsApp
  payload); nothing is enqueued and a retry of the same bytes gets the same answer.
- 5xx: a store failed (DynamoDB, SQS, secrets) or the function is misconfigured; nothing
  is lost, because Meta delivers the request again.

Responses never carry a stack trace or a secret."""

from __future__ import annotations

import base64
import binascii
import hmac
import json
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools.metrics import MetricUnit

from salonbot.errors import ConfigurationError, InvalidInput
from salonbot.inbound.errors import IntakeUnavailable
from salonbot.observability import MetricName, count_error, logger, metrics
from salonbot.whatsapp.signature import SIGNATURE_HEADER, is_valid_signature
from salonbot.whatsapp.webhook import parse_webhook

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

    from salonbot.inbound.intake import WebhookIntake

DEFAULT_MAX_BODY_BYTES = 3 * 1024 * 1024
_JSON = "application/json"
_MAX_CHALLENGE = 256


@dataclass(frozen=True)
class WebhookSecrets:
    app_secret: str | None
    verify_token: str | None


def response(status: int, body: str | dict[str, Any], content_type: str = _JSON) -> dict[str, Any]:
    text = body if isinstance(body, str) else json.dumps(body)
    return {"statusCode": status, "headers": {"Content-Type": content_type}, "body": text}


def _error(status: int, message: str) -> dict[str, Any]:
    return response(status, {"error": message})


class WebhookEndpoint:
    """`GET /webhook` (Meta's verification) and `POST /webhook` (events)."""

    def __init__(
        self,
        *,
        intake: Callable[[], WebhookIntake],
        secrets: Callable[[], WebhookSecrets],
        max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
    ) -> None:
        self._intake = intake  # built on the first signed POST: no AWS client before
        self._secrets = secrets
        self._max_body_bytes = max_body_bytes

    def handle(self, event: Mapping[str, Any]) -> dict[str, Any]:
        try:
            method = str(event.get("requestContext", {}).get("http", {}).get("method", ""))
            if method == "GET":
                return self._verify(event)
            if method == "POST":
                return self._receive(event)
            return _error(405, "method not allowed")
        except IntakeUnavailable as exc:
            logger.warning("webhook not accepted; Meta will retry", extra={"reason": str(exc)})
            return _error(503, "temporarily unavailable, retry")
        except ConfigurationError as exc:
            count_error("webhook_configuration")
            logger.error("webhook misconfigured", extra={"reason": str(exc)})
            return _error(500, "internal error")
        except Exception:
            count_error("webhook_unexpected")
            logger.exception("webhook failed")
            return _error(500, "internal error")

    def _verify(self, event: Mapping[str, Any]) -> dict[str, Any]:
        query = event.get("queryStringParameters") or {}
        token = self._secrets().verify_token
        if not token:
            raise ConfigurationError("no WhatsApp verify token configured")
        given = str(query.get("hub.verify_token", ""))
        if query.get("hub.mode") != "subscribe" or not hmac.compare_digest(
            given.encode(), token.encode()
        ):
            return self._refuse(403, "verification failed")
        challenge = str(query.get("hub.challenge", ""))
        if not challenge or len(challenge) > _MAX_CHALLENGE:
            return _error(400, "hub.challenge missing or too long")
        return response(200, challenge, "text/plain")

    def _receive(self, event: Mapping[str, Any]) -> dict[str, Any]:
        headers = {str(k).lower(): str(v) for k, v in (event.get("headers") or {}).items()}
        raw = event.get("body") or ""
        if not isinstance(raw, str):
            return self._refuse(400, "body")
        encoded = bool(event.get("isBase64Encoded"))
        # Checked before decoding or hashing: an oversized body costs nothing more.
        if (len(raw) * 3 // 4 if encoded else len(raw)) > self._max_body_bytes:
            return self._refuse(413, "body too large")
        try:
            body = base64.b64decode(raw, validate=True) if encoded else raw.encode("utf-8")
        except (binascii.Error, ValueError):
            return self._refuse(400, "body is not valid base64 or UTF-8")
        if len(body) > self._max_body_bytes:
            return self._refuse(413, "body too large")
        app_secret = self._secrets().app_secret
        if not app_secret:
            raise ConfigurationError("no WhatsApp app secret configured")
        if not is_valid_signature(body, headers.get(SIGNATURE_HEADER), app_secret):
            return self._refuse(401, "missing or invalid signature")
        content_type = headers.get("content-type", "").split(";")[0].strip().lower()
        if content_type != _JSON:
            return self._refuse(415, "content type must be application/json")
        try:
            parsed = parse_webhook(body)
        except InvalidInput as exc:
            return self._refuse(400, exc.detail)
        result = self._intake().accept(parsed)
        logger.info("webhook accepted", extra=asdict(result))
        return response(200, {"status": "ok", **asdict(result)})

    @staticmethod
    def _refuse(status: int, message: str) -> dict[str, Any]:
        metrics.add_metric(name=MetricName.WEBHOOK_REJECTED, unit=MetricUnit.Count, value=1)
        logger.warning("webhook refused", extra={"status": status, "reason": message})
        return _error(status, message)
