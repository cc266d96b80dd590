"""The console's views, written on the server as HTML fragments: the inbox, a thread
with its reply box, the day's calendar (a column per master, bookings as blocks, the
line of now), the figures and the salon's settings. Every word comes from the console's
text catalogue (`texts.console_texts`); every value is escaped here. The script of the
shell page (`assets/console.js`) fetches them with the staff token and sends the forms'
actions to the staff API; the fragments hold no script of their own."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from html import escape
from typing import TYPE_CHECKING, Any

from salonbot.processing.staff import phone_tail
from salonbot.staff.charts import bar_chart

if TYPE_CHECKING:
    from salonbot.booking.catalog import Salon
    from salonbot.outbound.templates import Template
    from salonbot.staff.calendar import DayBooking
    from salonbot.staff.inbox import InboxItem, ThreadMessage
    from salonbot.staff.metrics import DayFigures

Texts = Mapping[str, str]
PX_PER_MINUTE = 1.2
DEFAULT_OPEN, DEFAULT_CLOSE = dt.time(9), dt.time(21)


def _e(value: Any) -> str:
    return escape(str(value), quote=True)


def _time(at: dt.datetime, tz: Any) -> str:
    return at.astimezone(tz).strftime("%d.%m %H:%M")


def _alert(index: str) -> str:
    return f'<p class="alert" role="alert" id="alert-{index}" data-alert></p>'


# -- inbox --------------------------------------------------------------------------------


def inbox_view(
    t: Texts, salon: Salon, items: Sequence[InboxItem], waiting: int, *, showing_all: bool
) -> str:
    toggle = (
        f'<a href="#inbox">{_e(t["show_waiting"])}</a>'
        if showing_all
        else f'<a href="#inbox/all">{_e(t["show_all"])}</a>'
    )
    rows = []
    for item in items:
        state = (
            t["with_staff_until"].format(time=_time(item.handoff_until, salon.tz))
            if item.status == "handoff" and item.handoff_until
            else t["with_bot"]
        )
        who = item.customer_name or phone_tail(item.phone)
        rows.append(
            f'<li class="{"waiting" if item.waiting else ""}" data-conversation="{_e(item.id)}">'
            f'<a href="#thread/{_e(item.id)}"><strong>{_e(who)}</strong> '
            f'<span class="phone">{_e(phone_tail(item.phone))}</span> '
            f'<time datetime="{_e(item.last_message_at.isoformat())}">'
            f"{_e(_time(item.last_message_at, salon.tz))}</time>"
            f'<span class="last">{_e(item.last_message[:160])}</span>'
            f'<span class="state">{_e(state)}</span></a></li>'
        )
    body = (
        f'<ul class="inbox" aria-live="polite">{"".join(rows)}</ul>'
        if rows
        else f'<p class="empty">{_e(t["inbox_empty"])}</p>'
    )
    return (
        f'<section aria-labelledby="view-title"><h1 id="view-title">{_e(t["nav_inbox"])} '
        f'<span class="badge" data-waiting="{waiting}">'
        f"{_e(t['waiting_count'].format(count=waiting))}</span></h1>"
        f'<p class="toggle">{toggle}</p>{body}</section>'
    )


# -- thread -------------------------------------------------------------------------------


def thread_view(
    t: Texts,
    salon: Salon,
    item: InboxItem,
    messages: Sequence[ThreadMessage],
    *,
    window_open: bool,
    offers: Sequence[Template] = (),
) -> str:
    who = {"user": t["from_customer"], "assistant": t["from_bot"], "staff": t["from_staff"]}
    rows = "".join(
        f'<li class="msg {m.role}"><span class="who">{_e(who.get(m.role, m.role))}</span>'
        f'<time datetime="{_e(m.at.isoformat())}">{_e(_time(m.at, salon.tz))}</time>'
        f"<p>{_e(m.text)}</p>"
        f"{f'<span class=delivery>{_e(m.delivery)}</span>' if m.delivery else ''}"
        "</li>"
        for m in messages
    )
    conversation = _e(item.id)
    closed = "" if window_open else f'<p class="note">{_e(t["window_closed"])}</p>'
    if not window_open:
        closed += _template_form(t, conversation, offers)
    disabled = "" if window_open else " disabled"
    tail = phone_tail(item.phone)
    title = f"{item.customer_name} {tail}" if item.customer_name else tail
    return (
        '<section aria-labelledby="view-title">'
        f'<p><a href="#inbox">{_e(t["back_to_inbox"])}</a></p>'
        f'<h1 id="view-title">{_e(title)}</h1>'
        f'<ol class="thread" aria-live="polite">{rows}</ol>{closed}'
        f'<form data-action="reply" data-conversation="{conversation}" class="reply">'
        f'<label for="reply-text">{_e(t["reply_label"])}</label>'
        f'<textarea id="reply-text" name="text" rows="3" required maxlength="4096"{disabled}>'
        f'</textarea><button type="submit"{disabled}>{_e(t["send"])}</button>{_alert("reply")}'
        "</form>"
        f'<form data-action="release" data-conversation="{conversation}">'
        f'<button type="submit" class="secondary">{_e(t["return_to_bot"])}</button>'
        f"{_alert('release')}</form></section>"
    )


def _template_form(t: Texts, conversation: str, offers: Sequence[Template]) -> str:
    """Outside the window: the salon's approved follow-up templates, one to send."""
    if not offers:
        return f'<p class="note">{_e(t["no_templates"])}</p>'
    options = "".join(
        f'<option value="{_e(o.name)}|{_e(o.language)}">{_e(o.name)} ({_e(o.language)})'
        f"{_e(': ' + o.body) if o.body else ''}</option>"
        for o in offers
    )
    return (
        f'<form data-action="template" data-conversation="{conversation}" class="reply">'
        f'<label for="template-choice">{_e(t["template_label"])}</label>'
        f'<select id="template-choice" name="template" required>{options}</select>'
        f'<button type="submit">{_e(t["send_template"])}</button>{_alert("template")}</form>'
    )


# -- calendar -----------------------------------------------------------------------------


def _opening(salon: Salon, day: dt.date) -> tuple[dt.time, dt.time]:
    weekday = day.isoweekday()
    shifts = [s for m in salon.masters.values() for s in m.shifts.get(weekday, ())]
    if not shifts:
        return DEFAULT_OPEN, DEFAULT_CLOSE
    return min(s.start for s in shifts), max(s.end for s in shifts)


def calendar_view(
    t: Texts, salon: Salon, day: dt.date, bookings: Sequence[DayBooking], now: dt.datetime
) -> str:
    opens, closes = _opening(salon, day)
    start = dt.datetime.combine(day, opens, salon.tz)
    end = dt.datetime.combine(day, closes, salon.tz)
    for b in bookings:  # a booking outside the usual hours still shows
        start, end = min(start, b.starts_at), max(end, b.ends_at)
    minutes = (end - start).total_seconds() / 60
    height = minutes * PX_PER_MINUTE
    masters = sorted(salon.masters.values(), key=lambda m: m.code)
    by_master: dict[str, list[DayBooking]] = {m.code: [] for m in masters}
    for b in bookings:
        by_master.setdefault(b.master_code, []).append(b)
    options = "".join(f'<option value="{_e(m.code)}">{_e(m.name)}</option>' for m in masters)
    columns = []
    for master in masters:
        blocks = (
            "".join(_block(b, start) for b in by_master.get(master.code, []))
            or f'<li class="empty">{_e(t["no_bookings"])}</li>'
        )
        columns.append(
            f'<section class="column" aria-label="{_e(master.name)}">'
            f'<h2>{_e(master.name)}</h2><ol class="blocks" style="height:{height:.0f}px">'
            f"{blocks}</ol></section>"
        )
    local_now = now.astimezone(salon.tz)
    line = ""
    if local_now.date() == day and start <= local_now <= end:
        top = (local_now - start).total_seconds() / 60 * PX_PER_MINUTE
        line = (
            f'<div class="now" style="top:{top:.0f}px" aria-hidden="true">'
            f"<span>{_e(t['now_line'])} {local_now:%H:%M}</span></div>"
        )
    hours = "".join(
        f'<li style="top:{(h * 60 - opens.hour * 60 - opens.minute) * PX_PER_MINUTE:.0f}px">'
        f"{h:02d}:00</li>"
        for h in range(opens.hour + (1 if opens.minute else 0), closes.hour + 1)
    )
    services = "".join(
        f'<option value="{_e(s.code)}">{_e(s.name(salon.language))}</option>'
        for s in salon.services.values()
    )
    date_text = day.strftime("%d.%m.%Y")
    return (
        f'<section aria-labelledby="view-title"><h1 id="view-title">'
        f"{_e(t['calendar_for'].format(date=date_text))}</h1>"
        f'<form data-action="day" class="inline"><label for="day">{_e(t["day"])}</label>'
        f'<input type="date" id="day" name="date" value="{day.isoformat()}" required>'
        f'<button type="submit">{_e(t["show_day"])}</button></form>'
        f'<div class="calendar" data-date="{day.isoformat()}">'
        f'<ol class="hours" style="height:{height:.0f}px" aria-hidden="true">{hours}</ol>'
        f'<div class="columns">{line}{"".join(columns)}</div></div>'
        f"{_booking_panel(t, options)}"
        f'<form data-action="walk-in" class="walk-in" aria-labelledby="walk-in-title">'
        f'<h2 id="walk-in-title">{_e(t["walk_in"])}</h2>'
        f'<label for="w-service">{_e(t["service"])}</label>'
        f'<select id="w-service" name="service" required>{services}</select>'
        f'<label for="w-master">{_e(t["master"])}</label>'
        f'<select id="w-master" name="master"><option value="">{_e(t["any_master"])}</option>'
        f"{options}</select>"
        f'<label for="w-start">{_e(t["start"])}</label>'
        '<input id="w-start" name="start" required '
        f'pattern="\\d{{4}}-\\d{{2}}-\\d{{2}} \\d{{2}}:\\d{{2}}" '
        f'value="{day.isoformat()} {opens:%H:%M}">'
        f'<label for="w-phone">{_e(t["phone"])}</label>'
        f'<input id="w-phone" name="phone" type="tel" required autocomplete="off">'
        f'<label for="w-name">{_e(t["name"])}</label><input id="w-name" name="name">'
        f'<button type="submit">{_e(t["book"])}</button>{_alert("walk-in")}</form></section>'
    )


def _block(b: DayBooking, start: dt.datetime) -> str:
    """A booking at its time; a live one opens the booking panel (the script fills it)."""
    top = (b.starts_at - start).total_seconds() / 60 * PX_PER_MINUTE
    height = max((b.ends_at - b.starts_at).total_seconds() / 60 * PX_PER_MINUTE, 24)
    who = (b.customer_name or phone_tail(b.phone)) if b.phone else "—"
    label = (
        f"<time>{b.starts_at:%H:%M}–{b.ends_at:%H:%M}</time> {_e(b.service_name)} · {_e(who)} "
        f'<span class="code">{_e(b.code)}</span>'
    )
    live = b.status in ("confirmed", "arrived")
    inner = (
        f'<button type="button" class="open" data-code="{_e(b.code)}" '
        f'data-start="{b.starts_at:%Y-%m-%d %H:%M}" aria-controls="booking-panel">{label}</button>'
        if live
        else f"<span>{label}</span>"
    )
    return (
        f'<li class="block status-{_e(b.status)}" data-code="{_e(b.code)}" '
        f'style="top:{top:.0f}px;min-height:{height:.0f}px">{inner}</li>'
    )


def _booking_panel(t: Texts, options: str) -> str:
    """One panel for every booking of the day: move it, mark it, cancel it."""
    return (
        '<section id="booking-panel" class="panel" hidden aria-labelledby="panel-title">'
        '<h2 id="panel-title" tabindex="-1" data-panel-title></h2>'
        '<form data-action="move" data-code="">'
        f'<label for="p-start">{_e(t["new_start"])}</label>'
        '<input id="p-start" name="start" required>'
        f'<label for="p-master">{_e(t["master"])}</label>'
        f'<select id="p-master" name="master"><option value="">—</option>{options}</select>'
        f'<button type="submit">{_e(t["move"])}</button></form>'
        '<form data-action="mark" data-code="" class="marks">'
        f'<button name="status" value="arrived" type="submit">{_e(t["mark_arrived"])}</button>'
        f'<button name="status" value="no_show" type="submit">{_e(t["mark_no_show"])}</button>'
        '<button name="status" value="cancelled" type="submit" class="danger">'
        f"{_e(t['cancel_booking'])}</button></form>{_alert('panel')}</section>"
    )


# -- figures ------------------------------------------------------------------------------


def dashboard_view(t: Texts, salon: Salon, days: Sequence[DayFigures]) -> str:
    labels = [d.day.strftime("%d.%m") for d in days]
    spend = [float(d.spend_usd) for d in days]
    conversations = [float(d.conversations) for d in days]
    bookings = [float(d.bookings) for d in days]
    conversion = [d.conversion for d in days]
    zero = [d.zero_token_share for d in days]
    no_shows = [float(d.no_shows) for d in days]
    total_conv = sum(d.conversations for d in days)
    converted = sum(d.conversations_with_booking for d in days)
    replies = sum(d.replies for d in days)
    zero_total = sum(d.zero_token_replies for d in days)

    def total(value: str) -> str:
        return t["total"].format(value=value)

    charts = [
        bar_chart(
            t["chart_spend"],
            labels,
            [(t["legend_spend"], spend)],
            line=(t["legend_budget"], float(salon.daily_budget_usd)),
            summary=total(f"{sum(spend):.2f} USD"),
        ),
        bar_chart(
            t["chart_conversations"],
            labels,
            [(t["legend_conversations"], conversations), (t["legend_bookings"], bookings)],
            summary=total(f"{total_conv} / {int(sum(bookings))}"),
        ),
        bar_chart(
            t["chart_conversion"],
            labels,
            [("", conversion)],
            percent=True,
            summary=total(f"{(converted / total_conv if total_conv else 0):.0%}"),
        ),
        bar_chart(
            t["chart_zero_token"],
            labels,
            [("", zero)],
            percent=True,
            summary=total(f"{(zero_total / replies if replies else 0):.0%}"),
        ),
        bar_chart(
            t["chart_no_shows"], labels, [("", no_shows)], summary=total(str(int(sum(no_shows))))
        ),
    ]
    return (
        f'<section aria-labelledby="view-title"><h1 id="view-title">{_e(t["nav_dashboard"])}</h1>'
        f"<p>{_e(t['dashboard_for'].format(days=len(days)))}</p>"
        f'<div class="charts">{"".join(charts)}</div></section>'
    )


# -- settings -----------------------------------------------------------------------------


def settings_view(t: Texts, salon: Salon, *, owner: bool) -> str:
    facts = [
        (t["timezone"], salon.timezone),
        (t["language"], salon.language),
        (t["ai"], t["on"] if salon.ai_enabled else t["off"]),
        (t["daily_budget"], str(salon.daily_budget_usd)),
    ]
    rows = "".join(f"<dt>{_e(k)}</dt><dd>{_e(v)}</dd>" for k, v in facts)
    services = "".join(
        f"<li>{_e(s.name(salon.language))} · {s.duration_minutes} min · {_e(s.price)}</li>"
        for s in salon.services.values()
    )
    masters = "".join(f"<li>{_e(m.name)}</li>" for m in salon.masters.values())
    upload = (
        f'<form data-action="upload" class="upload" aria-labelledby="upload-title">'
        f'<h2 id="upload-title">{_e(t["upload_title"])}</h2>'
        f'<label for="salon-file">{_e(t["upload_label"])}</label>'
        f'<input type="file" id="salon-file" name="file" accept=".yaml,.yml,.json" required>'
        f'<button type="submit">{_e(t["upload"])}</button>{_alert("upload")}</form>'
        if owner
        else f'<p class="note">{_e(t["owner_only"])}</p>'
    )
    return (
        f'<section aria-labelledby="view-title"><h1 id="view-title">{_e(salon.name)}</h1>'
        f"<h2>{_e(t['settings_title'])}</h2><dl>{rows}</dl>"
        f"<h2>{_e(t['services'])}</h2><ul>{services}</ul>"
        f"<h2>{_e(t['masters'])}</h2><ul>{masters}</ul>{upload}</section>"
    )
