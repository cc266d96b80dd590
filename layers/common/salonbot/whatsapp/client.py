"""WhatsApp Cloud API send client: `POST {WHATSAPP_API_BASE_URL}/{phone_number_id}/messages`.

Outcomes are told apart because the processor must never send a reply twice:
- accepted: the message id (wamid) WhatsApp gave it;
- `SendRetryable`: certainly not accepted (5xx, rate limits 130429/131056, connection
  refused) and retries with backoff ran out, or the invocation has too little time left
  for the next wait and request: safe to try again later;
- `SendRejected`: refused for good (131047 outside the 24-hour window, other 4xx);
- `SendOutcomeUnknown`: the request may have reached WhatsApp (read timeout, connection
  dropped mid-response): not retried, since a retry could deliver it twice.

Inside a budgeted invocation (`salonbot.time_budget`) a retry is only waited
for when the wait and a full request still fit before the function ends (less
`BUDGET_MARGIN_S`), and each request's timeout is bounded by the time left: the function
never times out in a backoff with the reply item committed as `sending`, which a
redelivery could not send again.

Only the processor imports this module (the webhook's imports stay light). The access
token and phone numbers never appear in logs in clear."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from salonbot.errors import ConfigurationError, SalonbotError
from salonbot.observability import logger, mask_phone
from salonbot.secrets import resolve_secret
from salonbot.time_budget import remaining_s
from salonbot.whatsapp.outgoing import to_payload

if TYPE_CHECKING:
    from collections.abc import Callable

    import httpx2

    from salonbot.config import Settings
    from salonbot.whatsapp.outgoing import ButtonsMessage, ListMessage, TextMessage

RATE_LIMIT_CODES = frozenset({4, 80007, 130429, 131056})
OUTSIDE_WINDOW = 131047
MAX_RETRY_AFTER_S = 30.0
# Kept back from the invocation's end for recording the send's outcome.
BUDGET_MARGIN_S = 2.0
# A request is not started with less time than this before the margin.
MIN_REQUEST_S = 1.0


class SendFailed(SalonbotError):
    def __init__(self, message: str, *, status: int | None = None, code: int | None = None):
        super().__init__(message)
        self.status = status
        self.code = code


class SendRetryable(SendFailed):
    """Not accepted, and worth trying again later."""


class SendRejected(SendFailed):
    """Refused for good; retrying would not help."""


class SendOutcomeUnknown(SendFailed):
    """The request may have been accepted; it is not retried."""


def _error_details(response: httpx2.Response) -> tuple[int | None, str]:
    try:
        error = response.json().get("error") or {}
    except ValueError:
        return None, response.text[:200]
    code = error.get("code")
    return (int(code) if isinstance(code, int | str) and str(code).isdigit() else None), str(
        error.get("message", "")
    )[:200]


def access_token_for(settings: Settings, phone_number_id: str) -> str:
    """The salon's token: a JSON secret maps phone number ids to tokens (with an optional
    `default`); a plain secret or WHATSAPP_ACCESS_TOKEN serves every salon."""
    value, secret_id = settings.whatsapp_access_token, settings.whatsapp_access_token_secret_arn
    token = resolve_secret(value, secret_id, key=phone_number_id) or resolve_secret(
        value, secret_id, key="default"
    )
    if not token:
        raise ConfigurationError("WHATSAPP_ACCESS_TOKEN is not configured")
    return token


class WhatsAppClient:
    def __init__(
        self,
        settings: Settings,
        *,
        http: httpx2.Client | None = None,
        token_for: Callable[[str], str] | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if http is None:
            import httpx2

            http = httpx2.Client(timeout=settings.whatsapp_timeout_s)
        self._http = http
        self._base = settings.whatsapp_api_base_url.rstrip("/")
        self._token_for = token_for or (lambda pnid: access_token_for(settings, pnid))
        self._retries = settings.whatsapp_max_retries
        self._retry_base_s = settings.whatsapp_retry_base_s
        self._timeout_s = settings.whatsapp_timeout_s
        self._sleep = sleep

    def send(
        self, phone_number_id: str, to: str, message: TextMessage | ListMessage | ButtonsMessage
    ) -> str:
        return self.send_payload(phone_number_id, to_payload(message, to))

    def send_payload(self, phone_number_id: str, payload: dict[str, Any]) -> str:
        """Send one Cloud API message body; the wamid WhatsApp assigned it."""
        import httpx2

        url = f"{self._base}/{phone_number_id}/messages"
        headers = {"Authorization": f"Bearer {self._token_for(phone_number_id)}"}
        to = mask_phone(str(payload.get("to") or payload.get("recipient") or ""))
        attempt = 0
        while True:
            left = _usable_s()
            if left is not None and left < MIN_REQUEST_S:
                # Nothing was sent in this attempt: WhatsApp certainly did not take it.
                logger.warning(
                    "WhatsApp send left for a later delivery",
                    extra={"to": to, "attempt": attempt + 1, "left_s": round(left, 2)},
                )
                raise SendRetryable(f"{left:.1f} s left in the invocation: send not attempted")
            try:
                if left is None:
                    response = self._http.post(url, json=payload, headers=headers)
                else:
                    response = self._http.post(
                        url, json=payload, headers=headers, timeout=min(self._timeout_s, left)
                    )
            except (httpx2.ConnectError, httpx2.ConnectTimeout, httpx2.PoolTimeout) as exc:
                failure: SendFailed = SendRetryable(f"cannot reach WhatsApp: {type(exc).__name__}")
                retry_after = None
            except httpx2.TransportError as exc:
                logger.error(
                    "WhatsApp send outcome unknown", extra={"to": to, "error": type(exc).__name__}
                )
                raise SendOutcomeUnknown(f"send interrupted: {type(exc).__name__}") from exc
            else:
                if response.is_success:
                    return self._message_id(response)
                failure, retry_after = self._failure(response)
            if isinstance(failure, SendRejected) or attempt >= self._retries:
                logger.warning(
                    "WhatsApp send failed",
                    extra={
                        "to": to,
                        "status": failure.status,
                        "code": failure.code,
                        "error": str(failure),
                    },
                )
                raise failure
            wait = retry_after if retry_after is not None else self._retry_base_s * 2**attempt
            left = _usable_s()
            if left is not None and left < wait + self._timeout_s:
                # The function would end during the wait or the next request; stop while
                # the failure is still certain, so a redelivery sends the message.
                logger.warning(
                    "WhatsApp send retry left for a later delivery",
                    extra={
                        "to": to,
                        "attempt": attempt + 1,
                        "status": failure.status,
                        "wait_s": wait,
                        "left_s": round(left, 2),
                    },
                )
                raise SendRetryable(
                    f"{failure}; {left:.1f} s left in the invocation, too little to wait "
                    f"{wait:.1f} s and retry",
                    status=failure.status,
                    code=failure.code,
                )
            logger.info(
                "WhatsApp send retried",
                extra={"to": to, "attempt": attempt + 1, "status": failure.status},
            )
            self._sleep(wait)
            attempt += 1

    def _failure(self, response: httpx2.Response) -> tuple[SendFailed, float | None]:
        code, message = _error_details(response)
        status = response.status_code
        text = f"WhatsApp answered {status}" + (f" (code {code}): {message}" if code else "")
        retry_after = None
        header = response.headers.get("retry-after")
        if header:
            try:
                retry_after = min(float(header), MAX_RETRY_AFTER_S)
            except ValueError:
                retry_after = None
        if code == OUTSIDE_WINDOW:
            return SendRejected(text, status=status, code=code), None
        if status >= 500 or status == 429 or code in RATE_LIMIT_CODES:
            return SendRetryable(text, status=status, code=code), retry_after
        return SendRejected(text, status=status, code=code), None

    def _message_id(self, response: httpx2.Response) -> str:
        try:
            return str(response.json()["messages"][0]["id"])
        except (ValueError, KeyError, IndexError, TypeError) as exc:
            # Accepted (2xx) but unreadable: it was sent, we just lack its id.
            logger.warning("WhatsApp accepted a message without an id", extra={"error": str(exc)})
            return ""

    def close(self) -> None:
        self._http.close()


def _usable_s() -> float | None:
    """Seconds a send may still use in this invocation, or None without a budget."""
    left = remaining_s()
    return None if left is None else left - BUDGET_MARGIN_S
