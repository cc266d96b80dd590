"""A customer's photo in the turn: stored on its row (media id, MIME type, caption), and
whether the customer asks about it, for the staff to see (or a vision model).

The customer asks about a photo when it comes with no words at all, when its caption
asks ("хочу такой", "like this?"), or when their next message right after it does ("можно
так?", `salonbot.assistant.photos`). Such a photo goes to the staff: a hand-off with a
short reply saying they will look at it, through the turn's hand-off (notified at once).
With a vision model (`OPENAI_VISION`) the photo itself is shown to the model instead
(`salonbot.assistant.vision`); when the model does not answer (no key, over budget, an
outage), the staff get it as without one."""

from __future__ import annotations

from typing import TYPE_CHECKING

from aws_lambda_powertools.metrics import MetricUnit

from salonbot.assistant.base import TurnResult
from salonbot.assistant.language import detect_language
from salonbot.assistant.photos import asks_about_photo
from salonbot.observability import MetricName, metrics
from salonbot.texts import phrases
from salonbot.whatsapp.outgoing import TextMessage

if TYPE_CHECKING:
    from salonbot.assistant.base import Assistant, TurnInput
    from salonbot.conversation.store import NewMessage
    from salonbot.db.connection import Connection
    from salonbot.whatsapp.events import CustomerMessage

IMAGE = "image"
NOTE = "photo_for_staff"


def describe(user: NewMessage, message: CustomerMessage) -> None:
    """Keep the message's media id, MIME type and caption on its row."""
    media_id, mime = message.media
    if media_id is None:
        return
    user.media_id, user.media_mime_type = media_id, mime
    user.caption = message.text if message.type != "audio" else None


def asked_about(conn: Connection, conversation: str, message: CustomerMessage) -> bool:
    """Whether this message is, or asks about, a photo of the customer's."""
    if message.type == IMAGE:
        return not message.text or asks_about_photo(message.text)
    if message.interactive is not None or not asks_about_photo(message.text):
        return False
    row = conn.execute(
        "SELECT message_type FROM ai_messages WHERE conversation_id = %s AND role = 'user' "
        "ORDER BY id DESC LIMIT 1",
        (conversation,),
    ).fetchone()
    return row is not None and row["message_type"] == IMAGE


class _NotSeen(Exception):
    """The engine that answered was not the vision model: its effects are undone."""


def answer(conn: Connection, turn: TurnInput, assistant: Assistant) -> TurnResult:
    """The turn of a photo the customer asks about: the vision model's answer when it has
    the photo and answers, else the staff's hand-off. Another engine's answer (the guided
    flow after an over-budget model, the FAQ) is rolled back to a savepoint: it answered
    the caption without the photo, and must leave no state or change behind."""
    if turn.message.image_data_url is not None:
        try:
            with conn.transaction():
                result = assistant.respond(conn, turn)
                if result.engine != "llm":
                    raise _NotSeen
        except _NotSeen:
            pass
        else:
            metrics.add_metric(name=MetricName.PHOTOS_SEEN, unit=MetricUnit.Count, value=1)
            return result
    metrics.add_metric(name=MetricName.PHOTOS_FOR_STAFF, unit=MetricUnit.Count, value=1)
    return for_staff(turn)


def for_staff(turn: TurnInput) -> TurnResult:
    """The customer's reply when the staff take their photo: a hand-off."""
    message = turn.message
    language = turn.default_language
    if message.in_own_words:
        language = detect_language(message.said, language)
    body = phrases(language, turn.salon.language)[NOTE]
    return TurnResult(
        messages=[TextMessage(body=body)],
        engine="handoff",
        language=language,
        handoff=True,
        notes=[NOTE],
    )
