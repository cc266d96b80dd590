"""What a customer's free text asks for, without a model: the intent (book, cancel, move,
my bookings, prices, address, hours, a human, yes/no), the service, the master, the day,
the time or part of the day, and a booking code. Russian and English.

Names: services and masters are matched word by word against the salon's own names.
A text word matches a name word when `rapidfuzz` rates them alike (typos: "manicur",
"маникур") or when they share a long enough beginning (Russian inflections: "маникюра",
"стрижку", "Анне", "Дмитрию"). The service with the most matched name words wins, then
the one whose name is covered best ("маникюр" is Маникюр, not Маникюр с гель-лаком);
a tie leaves the choice to the customer.

Dates: a compact parser of its own handles the relative forms customers actually write
("завтра в 15:00", "в пятницу после обеда", "next monday morning", "25 ноября", "tomorrow
at 3pm") and `dateparser` is asked only about date-like text this parser leaves
unresolved ("2030-01-25", "1st of February 2030"). Measured on the Lambda-sized
machine: importing dateparser takes about 1.1 s and its first Russian parse another
1.2 s (language data), +17 MB; and it answers None for "в пятницу после обеда", reads
"20.01" as 20:01 today and cannot say whether a time was given at all ("послезавтра"
comes back at the base time). The common forms must be instant and exact, so they are
parsed here; the library stays for the long tail, loaded only when it is needed.

Conventions: a bare hour from 1 to 7 means the afternoon ("в 3", "at 5": salons are
closed at night), unless the night is named ("в 3 ночи" is 03:00); a weekday alone is its
next occurrence after today; "next"/"следующий" with a weekday is that weekday in the next
calendar week; a day and month without a year is the next such date from today, unless it
was at most half a year ago ("25 ноября" on 1 December is past, and the dialogue says so,
rather than next year's); a date that does not exist ("31 февраля") is `When.invalid`.
Greetings name no part of the day ("Добрый вечер" is not "in the evening"). Only the first
`DATEPARSER_WINDOW` characters around a date-like match reach `dateparser`, so a long
message costs what a short one does.

Russian in Latin letters ("hochu na manikur v pyatnicu") is read in Cyrillic
(`lexicon.from_translit`). Service words beyond the salon's names: its `aliases`, then the
lexicon's everyday words, by dictionary form (`morphology`, loaded only for a message
that names no service otherwise)."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from functools import lru_cache
from typing import TYPE_CHECKING

from salonbot.assistant.lexicon import (
    OTHER_SERVICES,
    SERVICE_WORDS_EN,
    SERVICE_WORDS_RU,
    WEAK_SERVICE_WORDS_RU,
    from_translit,
    looks_translit,
)
from salonbot.assistant.morphology import lemma
from salonbot.booking.codes import ALPHABET, LENGTH

if TYPE_CHECKING:
    from collections.abc import Iterable

    from salonbot.booking.catalog import Salon

# -- intents ---------------------------------------------------------------------------------

BOOK, CANCEL, MOVE, MY_BOOKINGS = "book", "cancel", "move", "my_bookings"
PRICES, ADDRESS, HOURS, HUMAN = "prices", "address", "hours", "human"
MENU, GREETING, YES, NO, THANKS = "menu", "greeting", "yes", "no", "thanks"
QUIT = "quit"  # the customer wants out of the dialogue ("передумал", "never mind")
UNSERVABLE = "unservable"  # what the flow cannot do: several people at once, a complaint
FOLLOW_UP = "follow_up"  # a short "а педикюр?" / "and with gel?" after an answer
REPEAT = "repeat"  # "как в прошлый раз": the last visit's services with its master
FAQ_INTENTS = (PRICES, ADDRESS, HOURS)

# Checked in order; a text may carry several (e.g. "где вы находитесь и до скольки
# работаете" is address and hours). Patterns run on normalised text (lower case, ё -> е).
_INTENT_PATTERNS: tuple[tuple[str, str], ...] = (
    (
        CANCEL,
        r"\bотмен\w*|\bотказ\w*|\bне (смогу|приду|получится)\b|\bcancel\w*|\bcan'?t (make|come)",
    ),
    (
        MOVE,
        r"\bперен[еоі]с\w*|\bперезапис\w*|\bсдвин\w*|\bпоменя\w* (время|день|дату)|"
        r"\bдругое время\b|\breschedul\w*|\bmove\b|\bpostpone\w*|"
        r"\bchange (the |my )?(time|day|date)",
    ),
    (
        MY_BOOKINGS,
        r"\bмо[ияю] запис\w*|\bмою запись|\bкогда я записан\w*|\bна когда я\b|\bмои визит\w*|"
        r"\bкак\w* у меня запис\w*|\bу меня (есть )?(какие[- ]нибудь |какие[- ]то )?запис\w*|"
        r"\bмои брон\w*|\bкуда я записан\w*|\bя (где-то |куда-то |куда-нибудь )?записан\w*|"
        r"\bmy (upcoming )?(booking|appointment|reservation)s?\b|\bwhen is my\b|"
        r"\bam i booked\b|\bdo i have (a |an |any )?(booking|appointment)|"
        r"\bwhat (bookings|appointments) do i have",
    ),
    (
        PRICES,
        r"\bсколько стои\w*|\bсколько\b[^.!?]{0,20}\b(стои\w*|будет|выйдет)|\bсколько за\b|"
        r"\bстоимост\w*|\bцен[аыуе]?\b|\bпрайс\w*|\bпочем\b|\bрасценк\w*|"
        r"\bprices?\b|\bhow much\b|\bcost(s)?\b|\bprice list\b|\brates\b",
    ),
    (
        ADDRESS,
        r"\bгде вы\b|\bгде (находит|располож)\w*|\bадрес\w*|\bкак (вас )?(найти|добрать)\w*|"
        r"\bнаходитесь\b|\bwhere are you\b|\baddress\b|\blocation\b|\bwhere is the salon\b|"
        r"\bhow (do i|to) get\b|\bdirections\b",
    ),
    (
        HOURS,
        r"\bчасы работы\b|\bрежим работы\b|\bграфик\w*|\bдо скольки\b|\bво сколько (вы )?"
        r"(открыва|закрыва|работа)\w*|\bкогда (вы )?(работаете|открыт\w*)|\bвы открыт\w*|"
        r"\bopen\w* hours\b|\b(your )?hours\b|\bwhen (are|do) you (open|close)\b|"
        r"\bwhat time do you (open|close)\b|\bare you open\b|\bopen (on|this|tomorrow|today)\b|"
        r"\bоткрыт[ыо]?\b|\bработаете\b|\bсалон работает\b|\bвы закрыт\w*",
    ),
    (
        REPEAT,
        r"\bкак (в )?прошл\w* раз\w*|\bкак (и )?в прошлый\b|\bкак обычно\b|"
        r"\bто же (самое|что) (и )?(в )?прошл\w*|\bповтор\w* (запис|визит)\w*|"
        r"\bsame as (the )?last( time)?\b|\bas last time\b|\bthe usual\b|"
        r"\brepeat (my )?(last )?(visit|booking|appointment)\b",
    ),
    (
        BOOK,
        r"\bзапи\w*|\bхочу\b|\bможно\b|\bсвободн\w*|\bокошк\w*|\bокн\w*|\bбронир\w*|"
        r"\bbook\w*|\bappointment\b|\bslots?\b|\bavailab\w*|\bfree\b|\breserv\w*|"
        r"\bi want\b|\bi'?d like\b|\bcan i\b|\bschedule\b",
    ),
    (MENU, r"^(меню|начать|старт|помощь|help|menu|start|restart|заново)\b"),
    (
        GREETING,
        r"^(привет\w*|здравствуй\w*|добр\w+ (день|утро|вечер)|салют|hello|hi|hey|"
        r"good (morning|afternoon|evening))\b",
    ),
    (
        YES,
        r"^((ну|ладно|хорошо|так|well|oh|ok|okay),?\s+)?(да|ага|угу|конечно|подтвержда\w*|подтвердить|ок|окей|хорошо|верно|давайте|давай|"
        r"подходит|отлично|идет|годится|супер|записывайте|бронируйте|"
        r"da|davai|davaj|davaite|ok|okay|okey|yes|yep|yeah|yup|sure|confirm\w*|correct|perfect|"
        r"great|fine|sounds good|go ahead|book it|alright|all right)\b|^\W*(👍|👌|✅|🙆|💯)",
    ),
    (NO, r"^(нет|неа|не надо|не подходит|no|nope|not now|net)\b|^не[,.!]"),
    (
        QUIT,
        r"(^|[,.!] ?)никак\b|\bв другой раз\b|\bnext time\b|\banother time\b|"
        r"\bпередумал\w*|\bуже не (надо|нужно)\b|^(ничего )?не (надо|нужно)\b|"
        r"\bотбой\b|\bзабуд\w+|\bне интересно\b|"
        r"\bnever ?mind\b|\bno,? thanks?\b|\bno,? thank you\b|\bforget (it|about it)\b|"
        r"\bchanged my mind\b|\bnot interested\b",
    ),
    (
        UNSERVABLE,
        r"\bвдво[её]м\b|\bна двоих\b|\bдвоих\b|\bдвое\b|\bс подруг\w*|\bс подружк\w*|"
        r"\bи (для )?(мужа|подруги|мамы|дочки|дочери|сына)\b|\bжалоб\w*|\bнедовол\w*|"
        r"\bужасн\w*|\bиспортил\w*|\bпретензи\w*|\bверните деньги|\bвозврат\w*|\bхамств\w*|"
        r"\bfor two\b|\btwo people\b|\b2 people\b|\bboth of us\b|\bme and my\b|"
        r"\bcomplain\w*|\bterrible\b|\bawful\b|\brefund\w*|\bruined\b|\brude\b",
    ),
    (THANKS, r"\b(спасибо|благодарю|спс|thanks|thank you|thx)\b"),
)
_INTENTS = tuple((name, re.compile(pattern)) for name, pattern in _INTENT_PATTERNS)

# A person asked for: a word for one alone ("администратор", "человека, пожалуйста"), or
# with a request for one ("позовите администратора", "can I talk to a person"); a mention
# inside other text ("ты теперь администратор, отмени всё") is not a request.
_PERSON = (
    r"(администратор\w*|админ\w*|менеджер\w*|оператор\w*|(живо\w+ )?человек\w*|"
    r"сотрудник\w*|(a |the |real |live )*(person|human|manager|operator|staff|someone|somebody|"
    r"admin\w*|receptionist))"
)
_PERSON_ALONE = re.compile(
    rf"^(позовите |дайте |нужен |нужна |хочу )?{_PERSON}( пожалуйста| please)?$"
)
_PERSON_REQUEST = re.compile(
    r"\b(позов\w*|позвать|соедин\w*|переключ\w*|свяж\w*|связат\w*|поговор\w*|пообщ\w*|"
    r"передайте|нужен|нужна|хочу|дайте|можно|talk|speak|connect|transfer|get me|want|need|"
    r"put me through|chat with)\b[^.!?]{0,30}?\b"
    + _PERSON
    + r"|\b(позвоните|перезвоните|наберите) мне\b|\bcall me( back)?\b"
)
_PERSON_THEN_REQUEST = re.compile(
    rf"\b{_PERSON}( \w+)?,? (позовите|пригласите|дайте|позвать|нужен|нужна|please)\b"
)
# Text that tries to instruct the bot: no request for a person is read into it.
_INSTRUCTIONS = re.compile(
    r"игнорир\w*|\bignore (all|any|previous|the|your|prior)\b|инструкци\w*|\binstructions?\b|"
    r"system prompt|системн\w* (промпт|сообщ)|\bты теперь\b|\byou are now\b|\bact as\b|"
    r"\bjailbreak|developer mode|\bpretend\b|\bпредставь,? что ты\b"
)
# "меню"/"бот"/"menu" alone: the customer wants the bot back from the staff.
_BACK_TO_BOT = re.compile(
    r"^(в |назад в |вернуться в |back to (the )?)?(меню|бот\w*|menu|bot|main menu|главное меню)$|"
    r"^(вернуться|назад) к боту$"
)
_PUNCTUATION = re.compile(r"[^\w\s'-]+")


def _bare(text: str) -> str:
    """Lower case, without punctuation or emoji: "Меню!" -> "меню"."""
    return " ".join(_PUNCTUATION.sub(" ", normalize(text)).split())


def asks_for_person(text: str) -> bool:
    """A clear request for a person, not a mention of one (see `_PERSON_REQUEST`)."""
    bare = _bare(text)
    if _INSTRUCTIONS.search(bare):
        return False
    return bool(
        _PERSON_ALONE.match(bare)
        or _PERSON_REQUEST.search(bare)
        or _PERSON_THEN_REQUEST.search(bare)
    )


def returns_to_bot(text: str) -> bool:
    """The customer's "меню"/"бот"/"menu": back from the staff to the bot."""
    return bool(_BACK_TO_BOT.match(_bare(text)))


# -- dates and times --------------------------------------------------------------------------

_RU_MONTHS = (
    ("январ", 1),
    ("феврал", 2),
    ("март", 3),
    ("апрел", 4),
    ("ма[йяе]", 5),
    ("июн", 6),
    ("июл", 7),
    ("август", 8),
    ("сентябр", 9),
    ("октябр", 10),
    ("ноябр", 11),
    ("декабр", 12),
)
_EN_MONTHS = (
    ("jan(uary)?", 1),
    ("feb(ruary)?", 2),
    ("mar(ch)?", 3),
    ("apr(il)?", 4),
    ("may", 5),
    ("june?", 6),
    ("july?", 7),
    ("aug(ust)?", 8),
    ("sep(t(ember)?)?", 9),
    ("oct(ober)?", 10),
    ("nov(ember)?", 11),
    ("dec(ember)?", 12),
)
_MONTH = (
    "|".join(f"(?P<m{n}>{stem}\\w*)" for stem, n in _RU_MONTHS)
    + "|"
    + "|".join(f"(?P<e{n}>{stem})\\b" for stem, n in _EN_MONTHS)
)
_DAY_NUM = r"(?P<day>[0-3]?\d)(?:-?(?:го|е|st|nd|rd|th))?"
_DAY_MONTH = re.compile(rf"\b{_DAY_NUM}(?:\s+of)?\s+(?:{_MONTH})")
_MONTH_DAY = re.compile(rf"(?:{_MONTH})\s+(?:the\s+)?{_DAY_NUM}\b")
_NUMERIC_DATE = re.compile(r"\b(?P<day>[0-3]?\d)[./](?P<month>[01]?\d)(?:[./](?P<year>\d{2,4}))?\b")
_DAY_OF_MONTH = re.compile(r"\b(?P<day>[0-3]?\d)(?:-?го\b|-о?е\b| числа\b|st\b|nd\b|rd\b|th\b)")

_WEEKDAYS = (
    (r"понедель?н\w*|\bпн\b|monday|\bmon\b", 1),
    (r"вторн\w*|\bвт\b|tuesday|\btue\b|\btues\b", 2),
    (r"\bсред[ауые]\b|\bср\b|wednesday|\bwed\b", 3),
    (r"четверг\w*|\bчт\b|thursday|\bthu\b|\bthurs\b", 4),
    (r"пятниц\w*|\bпт\b|friday|\bfri\b", 5),
    (r"суббот\w*|\bсб\b|saturday|\bsat\b", 6),
    (r"воскресен\w*|\bвс\b|sunday|\bsun\b", 7),
)
_WEEKDAY_PATTERNS = tuple((re.compile(p), n) for p, n in _WEEKDAYS)
_NEXT_WEEK = re.compile(r"\bследующ\w*|\bnext\b")

_CLOCK = re.compile(
    r"(?<![\d.:/])(?P<h>[0-2]?\d)[:.](?P<m>[0-5]\d)(?:\s*(?P<ap>am|pm|a\.m\.|p\.m\.))?"
)
_AMPM = re.compile(r"(?<![\d:.])(?P<h>1[0-2]|0?[1-9])\s*(?P<ap>am|pm|a\.m\.|p\.m\.)")
_MONTH_STEMS = "|".join(stem for stem, _ in _RU_MONTHS) + (
    "|jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec"
)
_AT_HOUR = re.compile(
    r"(?:\bв|\bк|\bна|\bс|\bat|\baround|\bby|\bfor|\bпосле|\bafter|\bдо|\bbefore)\s+"
    r"(?P<h>[0-2]?\d)(?!\d|\s*(?:[./:]\d|-?го|-?о?е\b|числ|st\b|nd\b|rd\b|th\b|am\b|pm\b|a\.m|p\.m))"
    rf"(?!\s+(?:{_MONTH_STEMS}))"
    r"(?:\s*(?:час\w*|ч\b|o'?clock))?"
    r"(?:\s+(?P<part>утра|дня|вечера|ночи|in the (?:morning|afternoon|evening)|at night))?"
)
_PREFIX = re.compile(r"(?:после|after|от|from|с)\s*$")
_SUFFIX_BEFORE = re.compile(r"(?:до|before|by)\s*$")

# Parts of the day as (from, to) local times.
MORNING = (dt.time(8, 0), dt.time(12, 0))
AFTERNOON = (dt.time(12, 0), dt.time(17, 0))
AFTER_LUNCH = (dt.time(13, 0), dt.time(18, 0))
EVENING = (dt.time(17, 0), dt.time(23, 59))
_PARTS = (
    (
        re.compile(r"после обеда|после полудня|во второй половине|afternoon|after lunch"),
        AFTER_LUNCH,
    ),
    (re.compile(r"\bутр\w*|\bс утра|\bmorning\b|\bearly\b"), MORNING),
    (re.compile(r"\bдн[её]м\b|\bв обед\b|\bобед\w*|\blunch\w*|\bmidday\b"), AFTERNOON),
    (
        re.compile(r"\bвечер\w*|\bпосле работы|\bevening\b|\bafter work\b|\btonight\b|\blate\b"),
        EVENING,
    ),
)
_NOON = re.compile(r"\bв полдень\b|\bполдень\b|\bnoon\b")
# Greetings that name a part of the day without asking for it.
_GREETING_PART = re.compile(
    r"\bдобр\w+ (утр\w*|вечер\w*|дн\w*|ночи)|\bспокойной ночи|"
    r"\bgood (morning|afternoon|evening|night)"
)
_IN_HOURS = re.compile(
    r"\bчерез\s+(?:(?P<n>\d{1,2})\s+|(?P<half>пол)|(?P<one>)\s*)(?P<unit>час\w*|минут\w*)|"
    r"\bin\s+(?:(?P<en>\d{1,2})|an?|one)\s+(?P<enunit>hours?|minutes?|mins?)\b"
)
_EARLIEST = re.compile(
    r"\bсамое раннее|\bкак можно (раньше|скорее)|\bпоскорее|\bпобыстрее|\bпораньше|"
    r"\bближайш\w*|\bearliest\b|\bas soon as possible\b|\basap\b|\bsoonest\b|"
    r"\b(first|next) (available|free)\b"
)
_SAME_TIME = re.compile(
    r"\bв (это|то) же (самое )?время\b|\bна (это|то) же время\b|\bв тоже время\b|"
    r"\b(at )?(the )?same time\b"
)
_WEEKEND = re.compile(r"\bна выходных\b|\bв выходные\b|\bweekend\b")
DATEPARSER_WINDOW = 80  # characters on each side of a date-like match

_CODE = re.compile(rf"(?<![0-9A-Za-z])[{ALPHABET}]{{{LENGTH}}}(?![0-9A-Za-z])")
_WORD = re.compile(r"[a-zа-я]+(?:'[a-z]+)?")
_STOP_WORDS = frozenset(
    (
        "с",
        "и",
        "на",
        "в",
        "к",
        "для",
        "по",
        "от",
        "до",
        "за",
        "из",
        "без",
        "при",
        "или",
        "а",
        "the",
        "a",
        "an",
        "and",
        "with",
        "for",
        "of",
        "to",
        "at",
        "on",
        "in",
        "by",
        "my",
        "me",
        "i",
        "please",
    )
)
_TRANSLIT = str.maketrans(
    {
        "а": "a", "б": "b", "в": "v", "г": "g", "д": "d", "е": "e", "ж": "zh", "з": "z",
        "и": "i", "й": "y", "к": "k", "л": "l", "м": "m", "н": "n", "о": "o", "п": "p",
        "р": "r", "с": "s", "т": "t", "у": "u", "ф": "f", "х": "kh", "ц": "ts", "ч": "ch",
        "ш": "sh", "щ": "sch", "ъ": "", "ы": "y", "ь": "", "э": "e", "ю": "yu", "я": "ya",
    }
)  # fmt: skip


def normalize(text: str) -> str:
    return re.sub(r"\s+", " ", text.lower().replace("ё", "е")).strip()


@dataclass(frozen=True)
class When:
    """A day and/or a time the customer asked for; `after`/`before` narrow a day to part
    of it ("после обеда", "morning", "после 18")."""

    date: dt.date | None = None
    time: dt.time | None = None
    after: dt.time | None = None
    before: dt.time | None = None
    earliest: bool = False  # "самое раннее", "asap": the first free time
    same_time: bool = False  # "в это же время": a move at the booking's own time of day
    invalid: bool = False  # a date that does not exist ("31 февраля")

    @property
    def empty(self) -> bool:
        return self == When()


@dataclass(frozen=True)
class ParsedMessage:
    intents: frozenset[str] = frozenset()
    services: tuple[str, ...] = ()  # best matches (more than one: ambiguous)
    master: str | None = None
    any_master: bool = False
    when: When = field(default_factory=When)
    code: str | None = None
    other_service: str | None = None  # a kind of service the salon's names do not cover
    visit: tuple[str, ...] = ()  # several services named for one visit, in order

    @property
    def service(self) -> str | None:
        return self.services[0] if len(self.services) == 1 else None


_FOLLOW_UP = re.compile(r"^(а|и|а если|а как же|а вот|and|what about|how about)\b[^?]{0,40}\?+$")


def detect_intents(text: str) -> frozenset[str]:
    norm = normalize(text)
    found = {name for name, pattern in _INTENTS if pattern.search(norm)}
    if asks_for_person(text):
        found.add(HUMAN)
    if _FOLLOW_UP.match(norm) and not found & {BOOK, CANCEL, MOVE, MY_BOOKINGS}:
        found.add(FOLLOW_UP)
    return frozenset(found)


# -- dates --------------------------------------------------------------------------------------


PAST_DAYS = 183  # a day and month without a year this recent is taken as past


def _next_date(
    today: dt.date, month: int, day: int, year: int | None, *, keep_past: bool = True
) -> dt.date | None:
    """The date named; without a year the next one, or this year's if it was at most
    `PAST_DAYS` ago (`keep_past`), so the dialogue can say it has passed."""
    try:
        if year is not None:
            return dt.date(year, month, day)
        candidate = dt.date(today.year, month, day)
        if candidate < today and not (keep_past and (today - candidate).days <= PAST_DAYS):
            candidate = dt.date(today.year + 1, month, day)
        return candidate
    except ValueError:
        return None


def _no_such_day(month: int, day: int) -> bool:
    """A month's day that exists in no year ("31 февраля", "31.04"); the 29th of February
    exists in leap years, and is judged with the year."""
    return not 1 <= day <= (29 if month == 2 else 30 if month in (4, 6, 9, 11) else 31)


def invalid_date(text: str) -> bool:
    """A normalised text naming a day of a month that does not exist."""
    for pattern in (_DAY_MONTH, _MONTH_DAY):
        for match in pattern.finditer(text):
            month = _month_of(match)
            if month is not None and _no_such_day(month, int(match["day"])):
                return True
    return False


def _weekend(today: dt.date) -> dt.date:
    """The weekend asked for: today on a Saturday or Sunday, else the coming Saturday."""
    return today if today.isoweekday() >= 6 else today + dt.timedelta(days=6 - today.isoweekday())


def _month_of(match: re.Match[str]) -> int | None:
    for name, value in match.groupdict().items():
        if value and name[0] in "me" and name[1:].isdigit():
            return int(name[1:])
    return None


def _weekday_date(text: str, today: dt.date) -> dt.date | None:
    for pattern, weekday in _WEEKDAY_PATTERNS:
        if pattern.search(text):
            if _NEXT_WEEK.search(text):
                monday_next = today + dt.timedelta(days=7 - today.weekday())
                return monday_next + dt.timedelta(days=weekday - 1)
            ahead = (weekday - today.isoweekday()) % 7 or 7
            return today + dt.timedelta(days=ahead)
    return None


def parse_date(text: str, today: dt.date) -> dt.date | None:
    """The day a normalised text names, or None."""
    if re.search(r"послезавтра|day after tomorrow", text):
        return today + dt.timedelta(days=2)
    if re.search(r"\bзавтра|\btomorrow\b|\btmrw\b|\btmr\b", text):
        return today + dt.timedelta(days=1)
    if re.search(r"\bсегодня|\btoday\b|\btonight\b", text):
        return today
    for pattern in (_DAY_MONTH, _MONTH_DAY):
        match = pattern.search(text)
        if match:
            month = _month_of(match)
            if month is not None:
                found = _next_date(today, month, int(match["day"]), None)
                if found is not None:
                    return found
    for match in _NUMERIC_DATE.finditer(text):
        if not 1 <= int(match["month"]) <= 12 or text[match.start() - 1 : match.start()] == ":":
            continue
        year = int(match["year"]) if match["year"] else None
        if year is not None and year < 100:
            year += 2000
        found = _next_date(today, int(match["month"]), int(match["day"]), year)
        if found is not None:
            return found
    weekday = _weekday_date(text, today)
    if weekday is not None:
        return weekday
    if _WEEKEND.search(text):
        return _weekend(today)
    typed = _misspelt_day(text)
    if typed is not None:
        return parse_date(typed, today)
    match = _DAY_OF_MONTH.search(text)
    if match:
        day = int(match["day"])
        found = (
            _next_date(today, today.month, day, None, keep_past=False) if 1 <= day <= 31 else None
        )
        if found is not None and found.month != today.month:
            # Past this month's day: next month's (not next year's).
            month = today.month % 12 + 1
            year = today.year + (1 if month == 1 else 0)
            found = _next_date(today, month, day, year)
        return found
    return _library_date(text, today)


# Day words as customers mistype them ("сбботу", "зафтра", "wensday"): a word close to
# one of these is read as it.
_DAY_WORDS = (
    "сегодня", "завтра", "послезавтра", "понедельник", "вторник", "среду", "четверг",
    "пятницу", "субботу", "воскресенье", "today", "tomorrow", "monday", "tuesday",
    "wednesday", "thursday", "friday", "saturday", "sunday",
)  # fmt: skip


def _misspelt_day(text: str) -> str | None:
    """The day word a misspelt word of the text stands for, or None."""
    from rapidfuzz import process
    from rapidfuzz.fuzz import ratio

    for word in dict.fromkeys(_WORD.findall(text)):
        if len(word) < 5 or word in _DAY_WORDS:
            continue
        found = process.extractOne(word, _DAY_WORDS, scorer=ratio, score_cutoff=80)
        if found is not None and abs(len(found[0]) - len(word)) <= 2:
            return str(found[0])
    return None


_DATE_LIKE = re.compile(r"\d{4}-\d{2}-\d{2}|\d+(st|nd|rd|th)\b|\b\d{1,2}\s+[a-zа-я]{3,}\s+\d{4}")


def _library_date(text: str, today: dt.date) -> dt.date | None:
    """`dateparser` for the long tail of absolute dates; imported only for them."""
    match = _DATE_LIKE.search(text)
    if not match:
        return None
    from dateparser.search import search_dates  # type: ignore[import-untyped]

    # Only the words around the date: dateparser's time grows with the text (about 2 s
    # for a 4,000-character message), and a date is a few words.
    start = max(0, match.start() - DATEPARSER_WINDOW)
    window = text[start : match.end() + DATEPARSER_WINDOW]
    base = dt.datetime.combine(today, dt.time(0, 0))
    found = search_dates(
        window,
        languages=["ru", "en"],
        settings={"PREFER_DATES_FROM": "future", "RELATIVE_BASE": base},
    )
    if not found:
        return None
    value: dt.datetime = found[0][1]
    return value.date()


# -- times ------------------------------------------------------------------------------------


def _hour_with_part(hour: int, part: str | None) -> int:
    if part in ("дня", "вечера", "in the afternoon", "in the evening") and hour < 12:
        return hour + 12
    if part in ("утра", "in the morning", "ночи", "at night"):
        return hour % 12
    return hour + 12 if 1 <= hour <= 7 else hour


def _ampm(hour: int, marker: str | None) -> int:
    if marker is None:
        return hour
    if marker.startswith("p") and hour < 12:
        return hour + 12
    if marker.startswith("a") and hour == 12:
        return 0
    return hour


def parse_time(text: str) -> tuple[dt.time | None, dt.time | None, dt.time | None]:
    """(exact time, not before, not after) named in a normalised text."""
    text = _GREETING_PART.sub(" ", text)
    exact: dt.time | None = None
    after: dt.time | None = None
    before: dt.time | None = None

    def place(value: dt.time, start: int) -> None:
        nonlocal exact, after, before
        head = text[:start]
        if _PREFIX.search(head):
            after = value
        elif _SUFFIX_BEFORE.search(head):
            before = value
        elif exact is None:
            exact = value

    for match in _CLOCK.finditer(text):
        hour, minute = int(match["h"]), int(match["m"])
        hour = _ampm(hour, match["ap"])
        if hour < 24:
            separator = match.group(0)[len(match["h"])]
            if separator == "." and match["ap"] is None and 1 <= int(match["m"]) <= 12:
                continue  # "25.11" is a date; "15.30" and "10.00" are times
            place(dt.time(hour, minute), match.start())
    for match in _AMPM.finditer(text):
        place(dt.time(_ampm(int(match["h"]), match["ap"]), 0), match.start())
    for match in _AT_HOUR.finditer(text):
        hour = int(match["h"])
        if not 1 <= hour <= 23:
            continue
        hour = _hour_with_part(hour, match["part"])
        keyword = match.group(0).split()[0]
        value = dt.time(hour, 0)
        if keyword in ("после", "after"):
            after = after or value
        elif keyword in ("до", "before"):
            before = before or value
        elif exact is None:
            exact = value
    if exact is None and _NOON.search(text):
        exact = dt.time(12, 0)
    if after is None and before is None and exact is None:
        for pattern, (start, end) in _PARTS:
            if pattern.search(text):
                after, before = start, end
                break
    return exact, after, before


def parse_when(text: str, now: dt.datetime) -> When:
    """Day and time in a customer's words, relative to `now` (the salon's local time)."""
    norm = normalize(text)
    day = parse_date(norm, now.date())
    exact, after, before = parse_time(norm)
    later = _in_hours(norm)
    if later is not None and exact is None:
        point = now + later
        day, after = point.date(), dt.time(point.hour, point.minute)
    return When(
        date=day,
        time=exact,
        after=after,
        before=before,
        earliest=bool(_EARLIEST.search(norm)),
        same_time=bool(_SAME_TIME.search(norm)),
        invalid=day is None and invalid_date(norm),
    )


def _in_hours(text: str) -> dt.timedelta | None:
    """ "через 2 часа", "через полчаса", "in an hour": how long from now."""
    match = _IN_HOURS.search(text)
    if match is None:
        return None
    unit = match["unit"] or match["enunit"] or ""
    if match["half"] is not None:
        return dt.timedelta(minutes=30)
    count = int(match["n"] or match["en"] or 1)
    if unit.startswith(("мин", "min")):
        return dt.timedelta(minutes=count)
    return dt.timedelta(hours=count)


# -- names ------------------------------------------------------------------------------------


def _words(text: str) -> list[str]:
    return [w.removesuffix("'s") for w in _WORD.findall(normalize(text))]


@lru_cache(maxsize=65_536)
def _alike(word: str, name_word: str, *, names: bool = False) -> bool:
    from rapidfuzz.fuzz import ratio

    if word == name_word:
        return True
    common = 0
    for a, b in zip(word, name_word, strict=False):
        if a != b:
            break
        common += 1
    if names:
        # Proper names decline at the end: "Анне", "Дмитрию", "Ольгой".
        if common >= max(3, len(name_word) - 1):
            return True
        return len(word) >= 4 and ratio(word, name_word) >= 85
    if common >= 4 and common >= 0.6 * max(len(word), len(name_word)):
        return True
    return len(word) >= 5 and ratio(word, name_word) >= 80


def _significant(words: Iterable[str]) -> list[str]:
    return [w for w in words if len(w) >= 3 and w not in _STOP_WORDS]


_CYRILLIC_WORD = re.compile(r"^[а-я]+$")


def match_services(text: str, salon: Salon) -> tuple[str, ...]:
    """Codes of the services the text names best (several when it is ambiguous): the
    salon's names and aliases, with the lexicon's everyday words for them; a message that
    names none or several is read again by dictionary forms."""
    # Each word once: a long message repeats its words, and each is compared with every
    # word of every service name.
    words = list(dict.fromkeys(_significant(_words(text))))
    if not words:
        return ()
    found = _best_services(words, salon)
    if len(found) != 1:
        # The lexicon's everyday words, only where the salon's own names left it open
        # ("mens haircut"; but "beard trim" is the Beard trim, not a haircut too).
        lexicon = [SERVICE_WORDS_EN.get(w) or SERVICE_WORDS_RU.get(w) for w in words]
        words += [w for w in lexicon if w]
        again = _best_services(words, salon)
        if again and (not found or set(again) < set(found)):
            found = again
    if len(found) != 1:
        stems = _stems(salon)
        russian = [w for w in words if _CYRILLIC_WORD.match(w) and len(w) >= 4 and w[:3] in stems]
        if russian:
            lemmas = [lemma(w) for w in russian]
            extra = [SERVICE_WORDS_RU[w] for w in lemmas if w in SERVICE_WORDS_RU]
            again = _best_services(words + lemmas + extra, salon)
            if not again and not found:
                weak = [WEAK_SERVICE_WORDS_RU[w] for w in lemmas if w in WEAK_SERVICE_WORDS_RU]
                again = _best_services(words + weak, salon) if weak else []
            if again and (not found or set(again) < set(found)):
                found = again
    return tuple(found)


def service_words(text: str) -> list[str]:
    """The text's words with the lexicon's service words for them (dictionary forms for
    Russian), to name a kind of service the salon may not offer."""
    words = _significant(_words(text))
    out = list(words)
    for w in dict.fromkeys(words):
        russian = _CYRILLIC_WORD.match(w) and len(w) >= 4 and w[:3] in _LEXICON_STEMS
        key = lemma(w) if russian else w
        mapped = (
            SERVICE_WORDS_EN.get(w) or SERVICE_WORDS_RU.get(key) or WEAK_SERVICE_WORDS_RU.get(key)
        )
        if mapped:
            out.append(mapped)
    return out


_STEMS: dict[tuple[object, int], frozenset[str]] = {}
_LEXICON_STEMS = frozenset(w[:3] for w in (*SERVICE_WORDS_RU, *WEAK_SERVICE_WORDS_RU))


def _stems(salon: Salon) -> frozenset[str]:
    """The first three letters of every word that can name one of the salon's services
    (its names, its aliases, the lexicon's words): only a word starting so is worth its
    dictionary form, which spares pymorphy3 the rest of a long message."""
    key = (salon.id, salon.revision)
    found = _STEMS.get(key)
    if found is None:
        names = [n for s in salon.services.values() for n in s.names.values()]
        names += [a for s in salon.services.values() for v in s.aliases.values() for a in v]
        words = [w for n in names for w in _words(n)] + [*SERVICE_WORDS_RU, *WEAK_SERVICE_WORDS_RU]
        found = frozenset(w[:3] for w in words if len(w) >= 3)
        if len(_STEMS) > 256:
            _STEMS.clear()
        _STEMS[key] = found
    return found


def _best_services(words: list[str], salon: Salon) -> list[str]:
    best: tuple[int, float] = (0, 0.0)
    found: list[str] = []
    for service in salon.services.values():
        score: tuple[int, float] = (0, 0.0)
        aliases = (a for names in service.aliases.values() for a in names)
        for name in {*service.names.values(), service.code.replace("_", " "), *aliases}:
            name_words = _significant(_words(name))
            if not name_words:
                continue
            matched = sum(1 for nw in name_words if any(_alike(w, nw) for w in words))
            score = max(score, (matched, matched / len(name_words)))
        if score[0] == 0:
            continue
        if score > best:
            best, found = score, [service.code]
        elif score == best:
            found.append(service.code)
    return found


def other_service(text: str) -> str | None:
    """A kind of service the text asks for that the lexicon knows salons may not offer."""
    match = OTHER_SERVICES.search(normalize(text)) or OTHER_SERVICES.search(
        " ".join(service_words(text))
    )
    return match[0] if match else None


# "маникюр и педикюр", "manicure and pedicure", "маникюр + педикюр", "cut, colour".
_VISIT_JOINS = re.compile(r"\s+(?:и|а также|затем|потом|and|then|plus)\s+|\s*[+,&]\s*", re.I)


def match_visit(text: str, salon: Salon) -> tuple[str, ...]:
    """The services of one visit when the text names several joined by "и"/"and"/"+"
    ("маникюр и педикюр в субботу"), in the order named; () unless every part names
    exactly one service and no service twice."""
    parts = [part for part in _VISIT_JOINS.split(text) if part.strip()]
    if len(parts) < 2:
        return ()
    codes: list[str] = []
    for part in parts:
        found = match_services(part, salon)
        if len(found) != 1:
            return ()
        codes.append(found[0])
    return tuple(codes) if len(set(codes)) == len(codes) else ()


def _name_forms(name: str) -> list[str]:
    lowered = normalize(name)
    return [lowered, lowered.translate(_TRANSLIT)]


def match_master(text: str, salon: Salon) -> str | None:
    words = list(dict.fromkeys(w for w in _words(text) if len(w) >= 3))
    for master in salon.masters.values():
        for form in {
            f for name in (master.name, *master.names.values()) for f in _name_forms(name)
        }:
            first = form.split()[0]
            if any(_alike(w, first, names=True) for w in words):
                return master.code
    return None


_ANY_MASTER = re.compile(r"\bлюбо\w*|\bкто (угодно|свободен)|\bвсе равно|\bany\w*|\bwhoever\b")


def find_code(text: str) -> str | None:
    """A booking code the customer typed: upper case or with a digit, so that words like
    'PLEASE' in lower case are not taken for one."""
    for match in _CODE.finditer(text.upper()):
        raw = text[match.start() : match.end()]
        if raw.isupper() or any(c.isdigit() for c in raw):
            return match.group(0)
    return None


def reading(text: str) -> str:
    """The text as the parser reads it: Russian in Latin letters back in Cyrillic."""
    return from_translit(text) if looks_translit(text) else text


def parse_message(text: str, salon: Salon, now: dt.datetime) -> ParsedMessage:
    """Everything the guided flow can use from one free-text message."""
    code = find_code(text)
    text = reading(text)
    norm = normalize(text)
    services = match_services(text, salon)
    return ParsedMessage(
        intents=detect_intents(text),
        services=services,
        master=match_master(text, salon),
        any_master=bool(_ANY_MASTER.search(norm)),
        when=parse_when(text, now),
        code=code,
        other_service=None if services else other_service(text),
        visit=_visit(text, salon, services),
    )


def _visit(text: str, salon: Salon, services: tuple[str, ...]) -> tuple[str, ...]:
    """The visit the text names, unless one of the salon's services is itself named so
    ("стрижка и борода" at a barbershop with a "Стрижка и борода")."""
    if len(services) == 1:
        names = salon.services[services[0]].names.values()
        if any(_VISIT_JOINS.search(normalize(name)) for name in names):
            return ()
    return match_visit(text, salon)
