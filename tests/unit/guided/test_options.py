"""The option-id codec: every choice the dialogue offers survives the trip through
WhatsApp's reply id, ids keep the wire format messages already sent carry, and ids that
mean nothing are told apart from ids that are not ours."""

from __future__ import annotations

import datetime as dt

import pytest

from salonbot.assistant.guided import options as opt
from salonbot.whatsapp.outgoing import Option
from tests.unit.guided.chat import MOSCOW

START = dt.datetime(2030, 1, 8, 15, 0, tzinfo=MOSCOW)
SLOT = opt.SlotRef(START, "anna")

EVERY_CHOICE: list[opt.Choice] = [
    opt.MenuItem("book"),
    opt.MenuItem(""),
    opt.PickService("manicure_gel"),
    opt.PickMaster("maria"),
    opt.PickMaster(opt.ANY_MASTER),
    opt.PickDay(dt.date(2030, 1, 8)),
    opt.LaterDays(dt.date(2030, 1, 19)),
    opt.LaterTimes(2),
    opt.OtherDay(),
    opt.PickTime(SLOT),
    opt.Confirm(SLOT),
    opt.Confirm(opt.SlotRef(START, "")),
    opt.Decline(),
    opt.BookingMenu("A7K2QX"),
    opt.AskCancel("A7K2QX"),
    opt.ConfirmCancel("A7K2QX"),
    opt.StartMove("A7K2QX"),
]


@pytest.mark.parametrize("choice", EVERY_CHOICE, ids=repr)
def test_every_choice_round_trips(choice: opt.Choice) -> None:
    encoded = opt.encode(choice)

    assert opt.decode(encoded) == choice
    assert opt.is_option_id(encoded)
    Option(id=encoded, title="x")  # within WhatsApp's id limits


@pytest.mark.parametrize(
    ("choice", "wire"),
    [
        (opt.MenuItem("mine"), "menu:mine"),
        (opt.PickService("manicure"), "svc:manicure"),
        (opt.PickMaster(opt.ANY_MASTER), "mst:*"),
        (opt.PickDay(dt.date(2030, 1, 8)), "day:2030-01-08"),
        (opt.LaterDays(dt.date(2030, 1, 19)), "days:2030-01-19"),
        (opt.LaterTimes(1), "times:1"),
        (opt.OtherDay(), "otherday:"),
        (opt.PickTime(SLOT), "time:2030-01-08T15:00:00+03:00|anna"),
        (opt.Confirm(SLOT), "ok:2030-01-08T15:00:00+03:00|anna"),
        (opt.Decline(), "no"),
        (opt.BookingMenu("A7K2QX"), "bk:A7K2QX"),
        (opt.AskCancel("A7K2QX"), "cancel:A7K2QX"),
        (opt.ConfirmCancel("A7K2QX"), "cancelok:A7K2QX"),
        (opt.StartMove("A7K2QX"), "move:A7K2QX"),
    ],
)
def test_the_wire_format_is_the_one_sent_messages_carry(choice: opt.Choice, wire: str) -> None:
    # A customer may tap a message an older release sent: the format never changes.
    assert opt.encode(choice) == wire
    assert opt.decode(wire) == choice


def test_a_slot_is_the_same_instant_whatever_offset_it_was_written_with() -> None:
    utc = opt.decode("ok:2030-01-08T12:00:00+00:00|anna")

    assert utc == opt.Confirm(SLOT)


def test_a_confirm_without_a_slot_is_one_that_names_none() -> None:
    assert opt.decode("ok") == opt.Confirm(None)
    assert opt.decode("ok:") == opt.Confirm(None)
    assert opt.decode("ok:not-a-time|anna") == opt.Confirm(None)
    assert opt.decode("ok:2030-01-08T15:00:00|anna") == opt.Confirm(None)  # no offset
    assert opt.encode(opt.Confirm(None)) == "ok:"


@pytest.mark.parametrize(
    "raw",
    ["day:tomorrow", "days:", "times:two", "time:15:00", "time:", "zzz:1", "x:y"],
)
def test_an_id_in_our_format_that_means_nothing_is_unknown(raw: str) -> None:
    assert opt.decode(raw) == opt.Unknown(raw)
    assert opt.encode(opt.Unknown(raw)) == raw


@pytest.mark.parametrize("raw", ["", "CONFIRM_BOOKING", "yes", "ok ", "2"])
def test_an_id_that_is_not_ours_is_none(raw: str) -> None:
    # e.g. a template's quick-reply payload: the flow reads the message's text instead
    assert opt.decode(raw) is None
    assert not opt.is_option_id(raw)


def test_the_longest_ids_fit_whatsapps_limit() -> None:
    long_code = "x" * 60  # service and master codes are short; ids must stay under 200
    slot = opt.SlotRef(dt.datetime(2030, 12, 31, 23, 45, 59, 999999, tzinfo=MOSCOW), long_code)

    for choice in (opt.PickTime(slot), opt.Confirm(slot)):
        assert len(opt.encode(choice)) <= 200
