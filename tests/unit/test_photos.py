"""Which words ask about a photo, and the image as the model's content part."""

from __future__ import annotations

import pytest

from salonbot.assistant.photos import asks_about_photo
from salonbot.assistant.vision import IMAGE_TOKENS, data_url, user_content, without_images


@pytest.mark.parametrize(
    "text",
    [
        "можно так?",
        "Хочу такой дизайн ногтей",
        "как на фото",
        "Сделаете вот это?",
        "like this?",
        "Can you do this one",
        "same please",
        "сколько стоит?",  # a question right after a photo asks about it
    ],
)
def test_words_that_ask_about_a_photo(text: str) -> None:
    assert asks_about_photo(text)


@pytest.mark.parametrize("text", ["Мой прошлый маникюр", "спасибо", "записаться на завтра", ""])
def test_words_that_do_not(text: str) -> None:
    assert not asks_about_photo(text)


def test_the_image_is_a_low_detail_data_url_part_counted_at_its_fixed_estimate() -> None:
    url = data_url(b"\xff\xd8\xff", "image/jpeg; charset=binary")
    assert url == "data:image/jpeg;base64,/9j/"
    content = user_content("как на фото?", url)
    messages = [{"role": "system", "content": "rules"}, {"role": "user", "content": content}]
    plain, images = without_images(messages)
    assert images == 1 and IMAGE_TOKENS == 2833
    assert plain[1]["content"] == [{"type": "text", "text": "как на фото?"}, {"type": "image_url"}]
    assert messages[1]["content"][1]["image_url"] == {"url": url, "detail": "low"}


def test_a_format_the_model_does_not_take_is_not_sent() -> None:
    assert data_url(b"GIF89a", "image/heic") is None
    assert data_url(b"", "image/png") is None
    assert user_content("hi", None) == "hi"
