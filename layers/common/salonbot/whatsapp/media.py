"""Downloading a customer's media (a voice note, a photo) from the Cloud API.

Two requests, both with the salon's access token: `GET /{media-id}` answers the media's
`url` (valid for 5 minutes), `mime_type`, `sha256` and `file_size`; `GET <url>` answers
the bytes. A file larger than `max_bytes` is not downloaded."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from salonbot.errors import SalonbotError

if TYPE_CHECKING:
    from collections.abc import Callable

    import httpx2

# OpenAI's audio API takes files up to 25 MB.
MAX_MEDIA_BYTES = 25 * 1024 * 1024
# WhatsApp's own limit for an image (5 MB); OpenAI's chat API takes up to 20 MB a request.
MAX_PHOTO_BYTES = 5 * 1024 * 1024


class MediaUnavailable(SalonbotError):
    """The media could not be fetched (gone, too large, WhatsApp unreachable)."""


@dataclass(frozen=True)
class Media:
    data: bytes
    mime_type: str


class MediaDownloader:
    def __init__(
        self,
        base_url: str,
        token_for: Callable[[str], str],
        *,
        http: httpx2.Client | None = None,
        timeout_s: float = 10.0,
        max_bytes: int = MAX_MEDIA_BYTES,
    ) -> None:
        self._base = base_url.rstrip("/")
        self._token_for = token_for
        self._http = http
        self._timeout_s = timeout_s
        self._max_bytes = max_bytes

    def download(self, phone_number_id: str, media_id: str) -> Media:
        import httpx2

        http = self._http or httpx2.Client(timeout=self._timeout_s)
        self._http = http
        headers = {"Authorization": f"Bearer {self._token_for(phone_number_id)}"}
        try:
            meta = http.get(f"{self._base}/{media_id}", headers=headers)
            if not meta.is_success:
                raise MediaUnavailable(f"media lookup answered {meta.status_code}")
            info = meta.json()
            size = int(info.get("file_size") or 0)
            if size > self._max_bytes:
                raise MediaUnavailable(f"media of {size} bytes is too large")
            url = str(info["url"])
            content = http.get(url, headers=headers)
        except (httpx2.HTTPError, ValueError, KeyError, TypeError) as exc:
            raise MediaUnavailable(f"media not fetched: {type(exc).__name__}") from exc
        if not content.is_success:
            raise MediaUnavailable(f"media download answered {content.status_code}")
        if len(content.content) > self._max_bytes:
            raise MediaUnavailable("media is too large")
        mime = str(info.get("mime_type") or content.headers.get("content-type") or "")
        return Media(content.content, mime)
