"""Russian: every word salonbot writes to a Russian-speaking customer.

Button titles stay within WhatsApp's 20 characters and list rows within 24. The
confirmation button starts with "Подтвердить" and declining ones with "Отменить"/"Нет",
so a decided customer (and `salonbot demo`) can tell them apart at a glance."""

from __future__ import annotations

PHRASES: dict[str, str] = {
    # -- the guided flow ---------------------------------------------------------------
    "greeting": "Здравствуйте! Это {salon}.",
    "menu": "Чем помочь? Выберите в меню или напишите, например: «маникюр завтра в 15:00».",
    "menu_button": "Меню",
    "menu_book": "Записаться",
    "menu_mine": "Мои записи",
    "menu_prices": "Цены",
    "menu_address": "Адрес и часы работы",
    "menu_human": "Администратор",
    "unknown": "Извините, я не понял(а) сообщение.",
    "unknown_step": "Извините, не понял(а). Выберите вариант или напишите «меню».",
    "media": "Голосовые сообщения и вложения я не понимаю — напишите, пожалуйста, текстом.",
    "expired": "Прошлый выбор устарел, давайте начнём заново.",
    "confirm_stale": "Эта кнопка относится к прошлому варианту, а сейчас выбран другой.",
    "thanks": "Пожалуйста! Будем рады вас видеть.",
    "number_hint": "Ответьте номером варианта или текстом.",
    "choose_service": "Выберите услугу:",
    "services_button": "Услуги",
    "choose_master": "{service}. К какому мастеру записать?",
    "masters_button": "Мастера",
    "any_master": "Любой мастер",
    "master_not_for_service": "{master} не выполняет услугу «{service}».",
    "choose_day": "{service}{master}. Выберите день:",
    "days_button": "Дни",
    "later_days": "Позже →",
    "free_count": "свободно: {count}",
    "choose_time": "{service}{master}, {day}. Выберите время:",
    "times_button": "Время",
    "later_times": "Позже →",
    "other_day": "Выбрать другой день",
    "no_days": "{service}{master}: в ближайшие {days} дн. свободного времени нет. "
    "Напишите «администратор», и вам помогут.",
    "no_days_from": "{service}{master}: с {first} по {last} свободного времени нет.",
    "day_full": "{service}{master}: на {day} свободного времени нет.",
    "date_passed": "{day} уже прошло — выберите, пожалуйста, другой день.",
    "beyond_horizon": "На {day} запись ещё не открыта: записываем на {days} дн. вперёд.",
    "no_such_date": "Такой даты нет — выберите, пожалуйста, день из списка.",
    "not_offered": "«{what}» у нас не делают. Вот наши услуги:",
    "offer_person": "С этим лучше поможет администратор. Передать ему ваш вопрос?",
    "confirm_again": "Подтвердить эту запись? Ответьте «да» или «нет».",
    "no_time_in_part": "В это время дня свободного нет, вот всё свободное время.",
    "time_not_free": "{time} занято. Ближайшее свободное время:",
    "confirm": "Проверьте, пожалуйста:\n{service}, {when}, мастер {master}, {price}.",
    "confirm_yes": "Подтвердить",
    "confirm_other": "Другое время",
    "confirm_no": "Отменить",
    "booked": "Готово! Вы записаны: {service}, {when}, мастер {master}. Код записи: {code}.",
    "slot_taken": "Увы, это время только что заняли. Вот что свободно:",
    "slot_unavailable": "На это время записаться уже нельзя. Вот что свободно:",
    "client_busy": "В это время у вас уже есть запись. Вот другое свободное время:",
    "booking_limit": "У вас уже максимум предстоящих записей: {limit}. "
    "Можно перенести или отменить одну из них.",
    "declined": "Хорошо, ничего не меняю. Напишите «меню», если понадоблюсь.",
    "no_bookings": "У вас нет предстоящих записей.",
    "my_bookings": "Ваши записи:",
    "bookings_button": "Записи",
    "booking_line": "{when} — {service}, мастер {master}, код {code}",
    "booking_actions": "{booking}. Что сделать?",
    "action_move": "Перенести",
    "action_cancel": "Отменить запись",
    "action_menu": "Меню",
    "which_cancel": "Какую запись отменить?",
    "which_move": "Какую запись перенести?",
    "cancel_confirm": "Отменить запись: {booking}?",
    "cancel_yes": "Да, отменить",
    "cancel_no": "Нет, оставить",
    "cancelled": "Запись отменена: {booking}.",
    "move_confirm": "Перенести {service} на {when}, мастер {master}?",
    "move_no": "Оставить как есть",
    "moved": "Готово! Запись перенесена: {service}, {when}, мастер {master}. Код записи: {code}.",
    "not_changeable": "Эту запись уже нельзя изменить. Напишите «администратор», и вам помогут.",
    "booking_not_found": "Не нашёл(ла) запись с кодом {code}.",
    "handoff": "Передаю ваш вопрос администратору — вам ответят здесь же.",
    "handoff_wait": "Ваше сообщение у администратора, он ответит здесь. Чтобы вернуться "
    "к боту, напишите «меню».",
    "handoff_ack": "Получили, администратор скоро ответит. Бот — по слову «меню».",
    "today": "Сегодня",
    "tomorrow": "Завтра",
    "with_master": ", мастер {master}",
    # -- answers to frequent questions -------------------------------------------------
    "prices_heading": "Цены «{salon}»:",
    "price_line": "{service} — {price}, {duration}.",
    "address": "Мы находимся по адресу: {address}.",
    "no_address": "Адрес салона уточните, пожалуйста, у администратора.",
    "hours_heading": "Часы работы:",
    "hours_line": "{days}: {hours}",
    "closed": "выходной",
    "no_hours": "Часы работы уточните, пожалуйста, у администратора.",
    # -- what the database accepted in a model's turn, and replies the code replaced ---
    "recap_booked": "Готово! Вы записаны: {service}, {when}, мастер {master}. Код записи: {code}.",
    "recap_moved": "Готово! Запись перенесена: {service}, {when}, мастер {master}. Код: {code}.",
    "recap_cancelled": "Запись {code} ({service}, {when}) отменена.",
    "recap_handoff": "Передали ваш вопрос администратору салона, вам скоро ответят.",
    "unconfirmed_booking": "Не удалось подтвердить запись. Пожалуйста, выберите другое время.",
    "refused_reply": "Я помогаю только с записью в салон: услуги, цены, свободное время, "
    "запись, перенос и отмена.",
    "model_refusal": "Извините, с этим я помочь не могу. Могу рассказать об услугах и ценах, "
    "показать свободное время, записать, перенести или отменить визит.",
    # -- fixed answers ---------------------------------------------------------------
    # The deployment guide's fallback text.
    "fixed_reply": "Извините, произошла ошибка... Пожалуйста, напишите нам чуть позже "
    "или позвоните в салон.",
    "throttled": "Вы пишете очень часто 🙏 Пожалуйста, подождите минутку — и я с радостью "
    "продолжу помогать вам.",
}

FORMATS: dict[str, str] = {
    "money": "{amount} {currency}",
    "duration": "{minutes} мин",
    "clock": "{hour:02d}:{minute:02d}",
    "date": "{day:02d}.{month:02d}",
    "when": "{date} {clock}",
    "day": "{weekday} {date}",
    "near_day": "{near}, {day}",
    "day_month": "{day} {month}",
    "span": "{first}–{last}",
}

WEEKDAYS = ("пн", "вт", "ср", "чт", "пт", "сб", "вс")
# Genitive, as after a day number: "5 марта".
MONTHS = (
    "января",
    "февраля",
    "марта",
    "апреля",
    "мая",
    "июня",
    "июля",
    "августа",
    "сентября",
    "октября",
    "ноября",
    "декабря",
)
