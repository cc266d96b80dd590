"""What a staff notification says about a customer: the last 4 digits of the phone, a
one-line preview of the message with typed numbers cut too, and when the next is due."""

from __future__ import annotations

import datetime as dt

from salonbot.processing.staff import PREVIEW_CHARS, due, phone_tail, preview, summary

T = dt.datetime(2030, 1, 7, 9, 0, tzinfo=dt.UTC)
TEN = dt.timedelta(minutes=10)


def test_the_customer_is_named_by_the_last_four_digits() -> None:
    assert phone_tail("+79001234567") == "…4567"
    assert phone_tail("79001234567") == "…4567"
    assert phone_tail("123") == "…"
    assert summary(1, "+79001234567") == "a new message from …4567"
    assert summary(3, "+79001234567") == "3 new messages from …4567"


def test_the_preview_is_short_on_one_line_and_cuts_typed_numbers() -> None:
    assert preview("Можно\nв субботу?") == "Можно в субботу?"
    long = preview("слово " * 100)
    assert len(long) == PREVIEW_CHARS and long.endswith("…")
    assert preview("звоните +7 (900) 123-45-67 или 8-900-123-45-67") == "звоните …4567 или …4567"
    # times, dates, prices and booking codes stay as they are
    assert (
        preview("в 14:00 12.03.2030, 1500 руб, код AB12")
        == "в 14:00 12.03.2030, 1500 руб, код AB12"
    )


def test_a_notification_is_due_once_the_interval_has_passed() -> None:
    assert due(None, T, TEN)
    assert not due(T, T + TEN - dt.timedelta(seconds=1), TEN)
    assert due(T, T + TEN, TEN)
    assert due(T, T, dt.timedelta(0))
    # a stamp in the future (a clock set back) does not hold notifications
    assert due(T + TEN, T, TEN)


def test_a_notification_links_to_the_consoles_inbox() -> None:
    from salonbot.processing.staff import console_link

    assert console_link("https://abc.example/console/") == "https://abc.example/console/#inbox"
