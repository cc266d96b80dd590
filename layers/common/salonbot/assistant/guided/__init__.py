"""The guided flow: booking without a model, in WhatsApp lists and buttons.

- `flow`: `GuidedFlow`, the `Assistant` (the database edge: desk, state load and save);
- `dialogue`: the step, state + message + booking desk -> new state + reply intents
  (it reads the message); `steps`: what the dialogue asks next and does when decided;
- `state`: the typed, versioned dialogue state; `options`: the option-id codec;
- `replies`: the reply intents; `render`: intents into WhatsApp messages;
- `message`: the customer message as the dialogue reads it.

A new step of the dialogue is a method of `steps.Steps` (and the words or taps that lead
to it in `dialogue`), a reply intent in `replies`, its words in `render` (texts in
`salonbot/texts/`) and, if it offers choices, their kind in `options`."""

from __future__ import annotations

from salonbot.assistant.guided.flow import DEFAULT_STATE_TTL, GuidedAnswer, GuidedFlow
from salonbot.assistant.guided.message import GuidedMessage
from salonbot.assistant.guided.state import STATE_VERSION, GuidedState

__all__ = [
    "DEFAULT_STATE_TTL",
    "STATE_VERSION",
    "GuidedAnswer",
    "GuidedFlow",
    "GuidedMessage",
    "GuidedState",
]
