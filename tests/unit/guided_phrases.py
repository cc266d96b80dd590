"""Real-life phrasings and what the guided flow should read from them, for the parser's
table test and the benchmark's accuracy figure. "Now" is Monday 7 January 2030, 09:00 in
Moscow; the salon is the demo salon."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from zoneinfo import ZoneInfo

from salonbot.booking.catalog import Master, Salon, Service, Shift
from salonbot.booking.salon_file import (
    WEEKDAYS,
    SalonFile,
    in_language,
    load_salon_file,
    parse_time_range,
    per_language,
)
from tests.conftest import DEMO_SALON_FILE

MOSCOW = ZoneInfo("Europe/Moscow")
NOW = dt.datetime(2030, 1, 7, 9, 0, tzinfo=MOSCOW)
TUE, WED, THU, FRI = (dt.date(2030, 1, d) for d in (8, 9, 10, 11))
SAT, SUN, MON = dt.date(2030, 1, 12), dt.date(2030, 1, 13), dt.date(2030, 1, 14)
TODAY = NOW.date()


def t(value: str) -> dt.time:
    return dt.time.fromisoformat(value)


@dataclass(frozen=True)
class Phrase:
    text: str
    services: tuple[str, ...] = ()
    master: str | None = None
    date: dt.date | None = None
    time: dt.time | None = None
    after: dt.time | None = None
    intent: str | None = None  # one intent that must be read (others may be too)


def P(
    text: str,
    service: str | tuple[str, ...] | None = None,
    master: str | None = None,
    date: dt.date | None = None,
    time: str | None = None,
    after: str | None = None,
    intent: str | None = None,
) -> Phrase:
    services = (service,) if isinstance(service, str) else (service or ())
    return Phrase(
        text,
        services,
        master,
        date,
        t(time) if time else None,
        t(after) if after else None,
        intent,
    )


RUSSIAN = [
    P("Хочу на маникюр", "manicure", intent="book"),
    P("на маникюр", "manicure"),
    P("Можно записаться на маникюр?", "manicure", intent="book"),
    P("маникюра", "manicure"),
    P("маникур завтра", "manicure", date=TUE),
    P("Хочу на маникюр к Анне завтра в 15:00", "manicure", "anna", TUE, "15:00", intent="book"),
    P("Запишите к Марии на пятницу", master="maria", date=FRI, intent="book"),
    P("маникюр с гель-лаком", "manicure_gel"),
    P("покрытие гель лак", "manicure_gel"),
    P("педикюр в субботу", "pedicure", date=SAT),
    P("педикюрчик бы", "pedicure"),
    P("Хочу подстричься, мужская стрижка", "haircut_men"),
    P("мужскую стрижку на завтра", "haircut_men", date=TUE),
    P("женская стрижка в среду в 11", "haircut_women", date=WED, time="11:00"),
    P("стрижка", ("haircut_women", "haircut_men")),
    P("окрашивание волос", "coloring"),
    P("на окрашивания к Ольге", "coloring", "olga"),
    P("коррекция бровей", "brows"),
    P("брови сегодня вечером", "brows", date=TODAY, after="17:00"),
    P("к Дмитрию на стрижку", ("haircut_women", "haircut_men"), "dmitry"),
    P("завтра в 15:00", date=TUE, time="15:00"),
    P("в пятницу после обеда", date=FRI, after="13:00"),
    P("25 ноября", date=dt.date(2030, 11, 25)),
    P("25-го ноября в 12", date=dt.date(2030, 11, 25), time="12:00"),
    P("послезавтра", date=WED),
    P("послезавтра утром", date=WED, after="08:00"),
    P("сегодня в 18:30", date=TODAY, time="18:30"),
    P("в субботу в 10 утра", date=SAT, time="10:00"),
    P("в воскресенье в 3 часа дня", date=SUN, time="15:00"),
    P("в понедельник", date=MON),
    P("в следующий вторник", date=dt.date(2030, 1, 15)),
    P("в четверг к 17", date=THU, time="17:00"),
    P("20.01 в 14:00", date=dt.date(2030, 1, 20), time="14:00"),
    P("на 15 января", date=dt.date(2030, 1, 15)),
    P("1 февраля", date=dt.date(2030, 2, 1)),
    P("5 января", date=dt.date(2030, 1, 5)),  # two days ago: past, said so, not next year
    P("3 марта в полдень", date=dt.date(2030, 3, 3), time="12:00"),
    P("в 3", time="15:00"),
    P("в 10.30", time="10:30"),
    P("после 18", after="18:00"),
    P("завтра вечером", date=TUE, after="17:00"),
    P("в среду днём", date=WED, after="12:00"),
    P("маникюр на 10 мая", "manicure", date=dt.date(2030, 5, 10)),
    P("а на 12-е можно?", date=dt.date(2030, 1, 12)),
    P("Отменить запись", intent="cancel"),
    P("хочу отменить свою запись на завтра", date=TUE, intent="cancel"),
    P("Я не смогу прийти", intent="cancel"),
    P("Перенести запись", intent="move"),
    P("можно перенести на четверг?", date=THU, intent="move"),
    P("хочу перезаписаться на другое время", intent="move"),
    P("Сколько стоит маникюр?", "manicure", intent="prices"),
    P("какие у вас цены", intent="prices"),
    P("прайс пришлите", intent="prices"),
    P("почем педикюр", "pedicure", intent="prices"),
    P("Где вы находитесь?", intent="address"),
    P("какой у вас адрес", intent="address"),
    P("как вас найти", intent="address"),
    P("до скольки вы работаете", intent="hours"),
    P("какой режим работы в выходные", date=SAT, intent="hours"),
    P("позовите администратора", intent="human"),
    P("можно живого человека", intent="human"),
    P("мои записи", intent="my_bookings"),
    P("на когда я записана?", intent="my_bookings"),
    P("Привет!", intent="greeting"),
    P("Добрый день", intent="greeting"),
    P("да, подтверждаю", intent="yes"),
    P("нет", intent="no"),
    P("спасибо", intent="thanks"),
    P("к Анне", master="anna"),
    P("к любому мастеру"),
]

ENGLISH = [
    P("I want a manicure", "manicure", intent="book"),
    P("Can I book a manicure?", "manicure", intent="book"),
    P("manicur tomorrow", "manicure", date=TUE),
    P("maincure please", "manicure"),
    P("Can I book a manicure with Anna tomorrow at 3pm?", "manicure", "anna", TUE, "15:00"),
    P("gel polish manicure on friday", "manicure_gel", date=FRI),
    P("gel manicure", "manicure_gel"),
    P("pedicure next monday morning", "pedicure", date=MON, after="08:00"),
    P("pedicure on saturday", "pedicure", date=SAT),
    P("men's haircut tomorrow", "haircut_men", date=TUE),
    P("a women's haircut", "haircut_women"),
    P("haircut", ("haircut_women", "haircut_men")),
    P("hair coloring with Olga", "coloring", "olga"),
    P("hair colouring", "coloring"),
    P("brow shaping tonight", "brows", date=TODAY, after="17:00"),
    P("brows at 5", "brows", time="17:00"),
    P("tomorrow at 3pm", date=TUE, time="15:00"),
    P("next monday morning", date=MON, after="08:00"),
    P("on friday afternoon", date=FRI, after="13:00"),
    P("November 25", date=dt.date(2030, 11, 25)),
    P("25th of November", date=dt.date(2030, 11, 25)),
    P("Jan 20 at 11am", date=dt.date(2030, 1, 20), time="11:00"),
    P("the day after tomorrow", date=WED),
    P("today at 6:30 pm", date=TODAY, time="18:30"),
    P("wednesday at noon", date=WED, time="12:00"),
    P("thursday evening", date=THU, after="17:00"),
    P("sunday at 2", date=SUN, time="14:00"),
    P("at 10:45", time="10:45"),
    P("after 6pm", after="18:00"),
    P("on the 12th", date=dt.date(2030, 1, 12)),
    P("2030-02-03", date=dt.date(2030, 2, 3)),
    P("cancel my booking", intent="cancel"),
    P("I can't make it, please cancel", intent="cancel"),
    P("I need to reschedule", intent="move"),
    P("can I move my appointment to friday?", date=FRI, intent="move"),
    P("how much is a pedicure?", "pedicure", intent="prices"),
    P("what are your prices", intent="prices"),
    P("where are you located?", intent="address"),
    P("what's your address", intent="address"),
    P("what are your opening hours", intent="hours"),
    P("when do you open on sunday", date=SUN, intent="hours"),
    P("can I talk to a real person", intent="human"),
    P("my bookings", intent="my_bookings"),
    P("Hello", intent="greeting"),
    P("yes please", intent="yes"),
    P("with Maria", master="maria"),
    P("Dmitry on sunday", master="dmitry", date=SUN),
]


def demo_salon() -> Salon:
    """The demo salon as the catalogue loads it, built without a database."""
    data: SalonFile = load_salon_file(DEMO_SALON_FILE)
    services = {
        s.code: Service(
            id=i,
            code=s.code,
            names=dict(s.name),
            duration_minutes=s.duration_minutes,
            buffer_after_minutes=s.buffer_after_minutes,
            price=Decimal(s.price),
            aliases={k: tuple(v) for k, v in s.aliases.items()},
        )
        for i, s in enumerate(data.services, start=1)
    }
    masters = {
        m.code: Master(
            id=i,
            code=m.code,
            name=in_language(m.name, data.language),
            names=per_language(m.name),
            service_ids=frozenset(services[c].id for c in m.services),
            shifts={
                WEEKDAYS.index(day) + 1: tuple(
                    Shift(r.start, r.end) for r in map(parse_time_range, ranges)
                )
                for day, ranges in m.working_hours.items()
            },
            days_off=frozenset(m.days_off),
        )
        for i, m in enumerate(data.masters, start=1)
    }
    assert data.id is not None
    return Salon(
        id=data.id,
        name=data.name,
        timezone=data.timezone,
        language=data.language,
        currency=data.currency,
        address=None if data.address is None else in_language(data.address, data.language),
        addresses=per_language(data.address),
        whatsapp_phone_number_id=data.whatsapp_phone_number_id,
        ai_enabled=data.ai_enabled,
        daily_budget_usd=data.daily_budget_usd,
        slot_step_minutes=data.slot_step_minutes,
        min_notice_minutes=data.min_notice_minutes,
        booking_horizon_days=data.booking_horizon_days,
        revision=1,
        services=services,
        masters=masters,
    )
