"""Read receipts and the typing indicator: the customer sees their message read, and
salonbot typing, while the turn runs.

Cloud API: `POST /{phone_number_id}/messages` with `{"messaging_product": "whatsapp",
"status": "read", "message_id": <wamid>, "typing_indicator": {"type": "text"}}` marks the
message (and the earlier ones) read and shows the indicator until the reply is sent or
25 seconds pass. Best effort: sent from a background thread with a short timeout, so the
turn never waits on it (`mark_read` returns at once) and never fails because of it; a
failure is logged and counted. A frozen Lambda container may never send it: acceptable,
a read receipt is a courtesy."""

from __future__ import annotations

import atexit
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

from salonbot.observability import count_error, logger

if TYPE_CHECKING:
    from collections.abc import Callable
    from concurrent.futures import Future

    import httpx2

# A receipt that has not gone out in this long is not worth sending late.
DEFAULT_TIMEOUT_S = 2.0


def read_payload(message_id: str, *, typing: bool) -> dict[str, Any]:
    body: dict[str, Any] = {
        "messaging_product": "whatsapp",
        "status": "read",
        "message_id": message_id,
    }
    if typing:
        body["typing_indicator"] = {"type": "text"}
    return body


class ReadReceipts:
    """Marks customer messages read (and shows typing) without holding up the turn."""

    def __init__(
        self,
        base_url: str,
        token_for: Callable[[str], str],
        *,
        http: httpx2.Client | None = None,
        timeout_s: float = DEFAULT_TIMEOUT_S,
    ) -> None:
        self._base = base_url.rstrip("/")
        self._token_for = token_for
        self._timeout_s = timeout_s
        self._http = http
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="read-receipts")
        atexit.register(self._pool.shutdown, wait=False)

    def mark_read(self, phone_number_id: str, message_id: str, *, typing: bool) -> Future[bool]:
        """Queue the receipt and return at once; the future says whether WhatsApp took it."""
        return self._pool.submit(self._send, phone_number_id, message_id, typing)

    def _client(self) -> httpx2.Client:
        if self._http is None:
            import httpx2

            self._http = httpx2.Client(timeout=self._timeout_s)
        return self._http

    def _send(self, phone_number_id: str, message_id: str, typing: bool) -> bool:
        try:
            response = self._client().post(
                f"{self._base}/{phone_number_id}/messages",
                json=read_payload(message_id, typing=typing),
                headers={"Authorization": f"Bearer {self._token_for(phone_number_id)}"},
                timeout=self._timeout_s,
            )
        except Exception as exc:  # a courtesy: nothing here may reach the turn
            count_error("read_receipt")
            logger.info("read receipt not sent", extra={"error": type(exc).__name__})
            return False
        if not response.is_success:
            count_error("read_receipt")
            logger.info("read receipt refused", extra={"status": response.status_code})
            return False
        return True
