"""A customer's photo shown to a vision-capable model (`OPENAI_VISION=true`): the image as
a chat content part, a data URL of the bytes downloaded from WhatsApp (the Graph media
URL needs the salon's token, so the model cannot fetch it itself).

The part asks for `detail: "low"`: the model sees a 512×512 version for a fixed number
of tokens, enough to recognise a nail design or a haircut. The cost guard reserves
`IMAGE_TOKENS` prompt tokens per image instead of the data URL's bytes. Source: OpenAI's
vision guide ("Calculating costs", platform.openai.com/docs/guides/images-vision): a
low-detail image is 85 tokens for gpt-4o and gpt-4.1, and 2,833 tokens for gpt-4o-mini
(billed so that an image costs what it costs on gpt-4o); patch-based models (gpt-4.1-mini,
o4-mini, the gpt-5 family) count at most 1,536 patches times their multiplier (at most
1.62: 2,489). So 2,833 bounds every listed model."""

from __future__ import annotations

import base64
from typing import Any

IMAGE_TOKENS = 2833
DETAIL = "low"
# Formats OpenAI's chat API accepts as images; WhatsApp sends image/jpeg or image/png.
IMAGE_MIME_TYPES = frozenset({"image/jpeg", "image/png", "image/webp", "image/gif"})


def data_url(data: bytes, mime_type: str) -> str | None:
    """The image as a data URL, or None for a format the model does not take."""
    mime = mime_type.split(";")[0].strip().lower()
    if mime not in IMAGE_MIME_TYPES or not data:
        return None
    return f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}"


def user_content(text: str, image_url: str | None) -> str | list[dict[str, Any]]:
    """The customer's message for the model: its text, with the image part when there is one."""
    if image_url is None:
        return text
    return [
        {"type": "text", "text": text},
        {"type": "image_url", "image_url": {"url": image_url, "detail": DETAIL}},
    ]


def without_images(messages: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], int]:
    """The request with each image part's URL left out, and how many images it holds:
    what the cost guard counts (the image at `IMAGE_TOKENS`, not its bytes)."""
    count = 0
    plain: list[dict[str, Any]] = []
    for message in messages:
        content = message.get("content")
        if isinstance(content, list):
            parts = []
            for part in content:
                if isinstance(part, dict) and part.get("type") == "image_url":
                    count += 1
                    parts.append({"type": "image_url"})
                else:
                    parts.append(part)
            message = {**message, "content": parts}
        plain.append(message)
    return plain, count
