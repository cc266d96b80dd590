"""The customer simulators' side that needs no model: the script, the phone's view of the
replies, and how a model's answer becomes a tap."""

from __future__ import annotations

import re

from salonbot_dev.eval.tasks import Task
from salonbot_dev.eval.users import (
    STOP_TOKEN,
    Exchange,
    Say,
    ScriptedUser,
    TapOption,
    as_action,
    render,
    system_prompt,
)
from salonbot_dev.fakes.customer import Choice, Reply

TIMES = Reply("Выберите время:", (Choice("t1", "15:00"), Choice("t2", "15:30", "Анна")))


def test_the_scripted_customer_follows_its_script_then_ends() -> None:
    task = Task.model_validate(
        {"id": "t", "customer": {"phone": "+79990001111"}, "script": ["Привет", {"tap": "15:"}]}
    )
    user = ScriptedUser(task.script)
    assert user.next_action([]) == Say("Привет")
    assert user.next_action([Exchange("Привет", (TIMES,))]) == TapOption("15:")
    assert user.next_action([Exchange("a", ()), Exchange("b", ())]) is None
    assert user.usage.tokens == 0


def test_a_number_or_an_exact_title_taps_anything_else_is_said() -> None:
    offered = list(TIMES.choices)
    two = as_action("2", offered)
    assert isinstance(two, TapOption) and re.search(two.pattern, "15:30")
    assert not re.search(two.pattern, "15:00")
    assert as_action(" 15:00 ", offered) == TapOption("^15:00$")
    assert as_action("3", offered) == Say("3")
    assert as_action("давайте в 15:00", offered) == Say("давайте в 15:00")


def test_the_phone_view_numbers_options_across_replies() -> None:
    text = render([Reply("Привет!"), TIMES])
    assert text == "Привет!\nВыберите время:\n  1. 15:00\n  2. 15:30 — Анна"


def test_the_simulator_prompt_carries_the_goal_and_the_stop_token() -> None:
    task = Task.model_validate(
        {
            "id": "t",
            "customer": {"phone": "+79990001111", "name": "Иван"},
            "instructions": "You want a haircut.",
        }
    )
    prompt = system_prompt(task, "ru")
    assert "You want a haircut." in prompt and "Иван" in prompt and "Russian" in prompt
    assert STOP_TOKEN in prompt
