"""Every word salonbot writes to a customer, and how it writes numbers, prices, times and
dates, one module per language (`ru.py`, `en.py`, ...): adding a language is adding one
file, found here by its name (a two-letter code).

Why modules and not Babel or gettext catalogues: the formats customers already read
("1500 RUB", "60 мин", "05.03 14:00", "пн 05.03") are not CLDR's ("1 500,00 ₽",
"5 мар. 2025 г."), so Babel would be overridden pattern by pattern, while adding about
20 ms to the processor's cold import and 16 ms to its first format (CLDR data is
unpickled on first use) and 36 MB to the Lambda layer; gettext would add a compile step
(.po to .mo) and translate by English sentence, so a placeholder or a key missing in one
language shows up only at run time. A module per language is plain data: mypy checks it,
one unit test checks that every language has exactly the keys and placeholders English
has, and a phrase is found by the same key in every language. Words the bot recognises in
what customers write are not here: they live in the understanding modules
(`assistant/parsing.py`, `assistant/language.py`).

A language module holds `PHRASES` (the sentences, `str.format` templates with named
fields), `FORMATS` (how a price, a duration, a time, a date and a span are written),
`WEEKDAYS` (Monday first, as written inside a sentence) and `MONTHS` (January first, as
written after a day number)."""

from __future__ import annotations

import importlib
import os
import re
from collections.abc import Mapping
from decimal import Decimal
from typing import TYPE_CHECKING, cast

if TYPE_CHECKING:
    import datetime as dt
    from collections.abc import Iterator

ENGLISH = "en"
# A language module is named by its code: "ru.py".
_LANGUAGE_MODULE = re.compile(r"([a-z]{2})\.py")
_CENT = Decimal("0.01")


def amount(value: Decimal | int | str) -> str:
    """A sum of money without its currency: whole amounts without decimals ("1500"),
    others with two ("1500.50"). The same in every language, in the prompt and in what the
    tools tell the model, so a price the model quotes reads as the customer saw it."""
    number = Decimal(str(value))
    whole = number.to_integral_value()
    return f"{whole:f}" if number == whole else f"{number.quantize(_CENT):f}"


def _capitalised(text: str) -> str:
    return text[:1].upper() + text[1:]


class Catalogue(Mapping[str, str]):
    """One language's phrases (`catalogue["greeting"]`) and formatters."""

    def __init__(
        self,
        language: str,
        phrases: Mapping[str, str],
        formats: Mapping[str, str],
        weekdays: tuple[str, ...],
        months: tuple[str, ...],
    ) -> None:
        self.language = language
        self.phrases = dict(phrases)
        self.formats = dict(formats)
        self.weekdays = weekdays
        self.months = months

    def __getitem__(self, key: str) -> str:
        return self.phrases[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self.phrases)

    def __len__(self) -> int:
        return len(self.phrases)

    def __repr__(self) -> str:
        return f"Catalogue({self.language!r})"

    # -- formatters ----------------------------------------------------------------------

    def money(self, value: Decimal | int | str, currency: str) -> str:
        """ "1500 RUB": the salon's currency by its ISO code."""
        return self.formats["money"].format(amount=amount(value), currency=currency)

    def duration(self, minutes: int) -> str:
        """ "60 мин", "60 min"."""
        return self.formats["duration"].format(minutes=minutes)

    def clock(self, value: dt.time | dt.datetime) -> str:
        """ "14:00": the time as given (a datetime is not converted to the salon's zone)."""
        return self.formats["clock"].format(hour=value.hour, minute=value.minute)

    def date(self, value: dt.date) -> str:
        """ "05.03"."""
        return self.formats["date"].format(day=value.day, month=value.month)

    def when(self, value: dt.datetime) -> str:
        """ "05.03 14:00": a visit's start, in the zone it is given in."""
        return self.formats["when"].format(date=self.date(value), clock=self.clock(value))

    def weekday(self, iso_weekday: int, *, capitalised: bool = False) -> str:
        """ "пн" (1 is Monday); `capitalised` at the start of a line: "Пн"."""
        name = self.weekdays[iso_weekday - 1]
        return _capitalised(name) if capitalised else name

    def day(self, value: dt.date) -> str:
        """ "пн 05.03"."""
        return self.formats["day"].format(
            weekday=self.weekday(value.isoweekday()), date=self.date(value)
        )

    def relative_day(self, value: dt.date, today: dt.date, *, mid_sentence: bool = False) -> str:
        """A day as a title: "Сегодня, пн 05.03", "Завтра, вт 06.03", "Ср 07.03";
        `mid_sentence`: "сегодня, пн 05.03", "ср 07.03" (English keeps "Wed": a name)."""
        ahead = (value - today).days
        if ahead in (0, 1):
            near = self.phrases["today" if ahead == 0 else "tomorrow"]
            if mid_sentence:
                near = near[:1].lower() + near[1:]
            return self.formats["near_day"].format(near=near, day=self.day(value))
        day = self.day(value)
        return day if mid_sentence else _capitalised(day)

    def day_month(self, value: dt.date) -> str:
        """ "5 марта", "5 March"."""
        return self.formats["day_month"].format(day=value.day, month=self.months[value.month - 1])

    def span(self, first: str, last: str) -> str:
        """ "Пн–Ср", "09:00–20:00": a run of days or an interval of time."""
        return self.formats["span"].format(first=first, last=last)


def _load(language: str) -> Catalogue:
    module = importlib.import_module(f"{__name__}.{language}")
    return Catalogue(
        language,
        cast("Mapping[str, str]", module.PHRASES),
        cast("Mapping[str, str]", module.FORMATS),
        tuple(module.WEEKDAYS),
        tuple(module.MONTHS),
    )


# The folder listed once per container (the layer ships sources; a listing is cheaper to
# import than pkgutil): a new language file is found without a registry to edit.
CATALOGUES: dict[str, Catalogue] = {
    found[1]: _load(found[1])
    for found in map(_LANGUAGE_MODULE.fullmatch, sorted(os.listdir(os.path.dirname(__file__))))
    if found
}
LANGUAGES = tuple(sorted(CATALOGUES))
# Weekday names per language (Monday first), for callers that index by language.
WEEKDAYS: Mapping[str, tuple[str, ...]] = {code: c.weekdays for code, c in CATALOGUES.items()}


def phrases(language: str, salon_language: str | None = None) -> Catalogue:
    """The catalogue of `language`; where there is none, the salon language's, else the
    English one."""
    for code in (language, salon_language, ENGLISH):
        if code and code in CATALOGUES:
            return CATALOGUES[code]
    raise LookupError("no English catalogue")  # pragma: no cover - en.py ships with the package


def console_texts(language: str | None) -> Mapping[str, str]:
    """The staff console's words in `language` (its own `CONSOLE` table), else English."""
    code = language if language in CATALOGUES else ENGLISH
    module = importlib.import_module(f"{__name__}.{code}")
    return cast("Mapping[str, str]", module.CONSOLE)
