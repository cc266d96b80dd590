"""The customer-facing catalogue: every language says the same things (same keys, same
placeholders), fits WhatsApp's limits, and writes prices, durations, times and dates the
way customers read them today."""

from __future__ import annotations

import datetime as dt
import string
from decimal import Decimal
from pathlib import Path

import pytest

from salonbot import texts
from salonbot.texts import CATALOGUES, ENGLISH, LANGUAGES, amount, phrases
from salonbot.whatsapp.outgoing import BUTTON_TITLE_MAX, LIST_ROW_TITLE_MAX

OTHERS = [code for code in LANGUAGES if code != ENGLISH]

# Titles of reply buttons and of the buttons that open a list (WhatsApp: 20 characters),
# and of list rows the catalogue writes itself (24).
BUTTONS = (
    "menu_button",
    "services_button",
    "masters_button",
    "days_button",
    "times_button",
    "bookings_button",
    "confirm_yes",
    "confirm_other",
    "confirm_no",
    "action_move",
    "action_cancel",
    "action_menu",
    "cancel_yes",
    "cancel_no",
    "move_no",
    "reminder_confirm",
    "reminder_cancel",
    "reminder_move",
)
LIST_ROWS = (
    "menu_book",
    "menu_mine",
    "menu_prices",
    "menu_address",
    "menu_human",
    "any_master",
    "later_days",
    "later_times",
    "other_day",
)


def placeholders(template: str) -> set[str]:
    """The named fields of a `str.format` template (raises on a stray brace)."""
    return {field for _, field, _, _ in string.Formatter().parse(template) if field is not None}


def test_languages_are_the_modules_of_the_package() -> None:
    # Given the package folder, when its two-letter modules are listed, then each is a
    # language: adding a language is adding its file.
    folder = Path(texts.__file__).parent
    modules = sorted(p.stem for p in folder.glob("*.py") if len(p.stem) == 2)
    assert list(LANGUAGES) == modules
    assert {"ru", "en"} <= set(LANGUAGES)


@pytest.mark.parametrize("language", OTHERS)
def test_every_language_has_exactly_the_english_phrases(language: str) -> None:
    english, other = CATALOGUES[ENGLISH], CATALOGUES[language]
    assert set(other.phrases) == set(english.phrases)
    assert set(other.formats) == set(english.formats)


@pytest.mark.parametrize("language", OTHERS)
def test_every_phrase_has_the_english_placeholders(language: str) -> None:
    english, other = CATALOGUES[ENGLISH], CATALOGUES[language]
    for group in ("phrases", "formats"):
        theirs, ours = getattr(english, group), getattr(other, group)
        for key in theirs:
            assert placeholders(ours[key]) == placeholders(theirs[key]), (group, key)


@pytest.mark.parametrize("language", LANGUAGES)
def test_names_of_days_and_months_are_complete(language: str) -> None:
    catalogue = CATALOGUES[language]
    assert len(catalogue.weekdays) == 7 and len(set(catalogue.weekdays)) == 7
    assert len(catalogue.months) == 12 and len(set(catalogue.months)) == 12
    assert all(catalogue.weekdays) and all(catalogue.months)
    assert all(value.strip() for value in catalogue.phrases.values())


@pytest.mark.parametrize("language", LANGUAGES)
def test_titles_fit_whatsapp(language: str) -> None:
    t = phrases(language)
    for key in BUTTONS:
        assert len(t[key]) <= BUTTON_TITLE_MAX, key
    for key in LIST_ROWS:
        assert len(t[key]) <= LIST_ROW_TITLE_MAX, key
    # The longest day title a list row shows: "Сегодня, пн 05.03"
    longest = max(
        len(t.relative_day(dt.date(2030, 1, d), dt.date(2030, 1, 7))) for d in range(7, 14)
    )
    assert longest <= LIST_ROW_TITLE_MAX


def test_russian_buttons_tell_confirming_from_declining() -> None:
    # `salonbot demo` and a hurried customer tell the buttons apart by their first word
    t = phrases("ru")
    assert t["confirm_yes"].startswith("Подтвердить")
    assert t["confirm_no"].startswith("Отменить") and t["cancel_no"].startswith("Нет")


# -- the lookup -----------------------------------------------------------------------------


def test_lookup_falls_back_to_the_salons_language_then_english() -> None:
    assert phrases("ru").language == "ru"
    assert phrases("de").language == ENGLISH
    assert phrases("de", "ru").language == "ru"
    assert phrases("de", "fr").language == ENGLISH
    assert phrases("ru", "en").language == "ru"
    assert phrases("").language == ENGLISH


def test_a_catalogue_reads_like_a_mapping_of_phrases() -> None:
    t = phrases("ru")
    assert t["greeting"].format(salon="Nail Studio") == "Здравствуйте! Это Nail Studio."
    assert "greeting" in t and len(t) == len(t.phrases)
    with pytest.raises(KeyError):
        t["no such phrase"]
    assert texts.WEEKDAYS["ru"][0] == "пн" and texts.WEEKDAYS["en"][6] == "Sun"


# -- the formatters ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (Decimal("1500.00"), "1500"),
        (Decimal("1500"), "1500"),
        (1500, "1500"),
        ("2800.00", "2800"),
        (Decimal("0.00"), "0"),
        (Decimal("1E+3"), "1000"),
        # Money has two decimals or none: "1500.50", never "1500.5"
        (Decimal("1500.50"), "1500.50"),
        (Decimal("1500.5"), "1500.50"),
        (Decimal("99.99"), "99.99"),
    ],
)
def test_amount(value: Decimal | int | str, expected: str) -> None:
    assert amount(value) == expected


def test_money_and_duration() -> None:
    ru, en = phrases("ru"), phrases("en")
    assert ru.money(Decimal("1500.00"), "RUB") == "1500 RUB"
    assert en.money(Decimal("40.50"), "EUR") == "40.50 EUR"
    assert ru.duration(60) == "60 мин"
    assert en.duration(90) == "90 min"


def test_times_and_dates() -> None:
    moment = dt.datetime(2030, 3, 5, 9, 5, tzinfo=dt.UTC)
    for language in LANGUAGES:
        t = phrases(language)
        assert t.clock(moment) == "09:05"
        assert t.clock(dt.time(20, 0)) == "20:00"
        assert t.date(moment.date()) == "05.03"
        assert t.when(moment) == "05.03 09:05"
    # A datetime is written in the zone it is given in
    assert phrases("ru").when(moment.astimezone(dt.timezone(dt.timedelta(hours=3)))) == (
        "05.03 12:05"
    )


def test_weekdays_and_days() -> None:
    ru, en = phrases("ru"), phrases("en")
    assert ru.weekday(1) == "пн" and ru.weekday(7, capitalised=True) == "Вс"
    assert en.weekday(3) == "Wed" and en.weekday(3, capitalised=True) == "Wed"
    monday = dt.date(2030, 1, 7)
    assert ru.day(monday) == "пн 07.01"
    assert en.day(monday) == "Mon 07.01"


def test_relative_days() -> None:
    ru, en = phrases("ru"), phrases("en")
    today = dt.date(2030, 1, 7)  # a Monday
    assert ru.relative_day(today, today) == "Сегодня, пн 07.01"
    assert ru.relative_day(dt.date(2030, 1, 8), today) == "Завтра, вт 08.01"
    assert ru.relative_day(dt.date(2030, 1, 9), today) == "Ср 09.01"
    assert en.relative_day(today, today) == "Today, Mon 07.01"
    assert en.relative_day(dt.date(2030, 1, 8), today) == "Tomorrow, Tue 08.01"
    assert en.relative_day(dt.date(2030, 1, 13), today) == "Sun 13.01"


def test_day_and_month_names_and_spans() -> None:
    ru, en = phrases("ru"), phrases("en")
    assert ru.day_month(dt.date(2030, 3, 5)) == "5 марта"
    assert ru.day_month(dt.date(2030, 5, 31)) == "31 мая"
    assert en.day_month(dt.date(2030, 12, 1)) == "1 December"
    assert ru.span("Пн", "Ср") == "Пн–Ср"
    assert en.span(en.clock(dt.time(9)), en.clock(dt.time(20))) == "09:00–20:00"


@pytest.mark.parametrize("language", texts.LANGUAGES)
def test_every_language_has_the_consoles_words_with_their_placeholders(language: str) -> None:
    import string

    english, own = texts.console_texts("en"), texts.console_texts(language)
    assert set(own) == set(english)
    for key, text in english.items():
        wanted = {f for _, f, _, _ in string.Formatter().parse(text) if f}
        assert {f for _, f, _, _ in string.Formatter().parse(own[key]) if f} == wanted, key
    assert texts.console_texts("xx") is texts.console_texts("en")
