"""What a customer's non-text message says, as text the engines and the staff can read.

A location, shared contacts, a reaction or a voice note's transcript reach the model and
the stored conversation as their content, not as `[location]`. These are descriptions of
what the customer sent (data, not salonbot's own words to the customer), in a fixed,
language-neutral form the model reads in any conversation."""

from __future__ import annotations

from typing import Any


def describe(kind: str, payload: dict[str, Any]) -> str | None:
    """The content of a message of type `kind` as one line of text, or None when there is
    nothing to describe (a type without readable content)."""
    if kind == "location":
        return _location(payload)
    if kind == "contacts":
        return _contacts(payload.get("contacts"))
    if kind == "reaction":
        emoji = payload.get("emoji")
        return f"reaction {emoji}" if isinstance(emoji, str) and emoji else "reaction removed"
    return None


def _location(place: dict[str, Any]) -> str | None:
    named = ", ".join(
        p for p in (str(place.get(k) or "").strip() for k in ("name", "address")) if p
    )
    lat, lon = place.get("latitude"), place.get("longitude")
    if isinstance(lat, int | float) and isinstance(lon, int | float):
        named = f"{named} ({lat:.6f}, {lon:.6f})".strip()
    return f"location: {named}" if named else None


def _contacts(raw: Any) -> str | None:
    if not isinstance(raw, list):
        return None
    people: list[str] = []
    for card in raw:
        if not isinstance(card, dict):
            continue
        raw_name = card.get("name")
        name: dict[str, Any] = raw_name if isinstance(raw_name, dict) else {}
        label = str(name.get("formatted_name") or name.get("first_name") or "").strip()
        phones = [
            str(p.get("phone") or p.get("wa_id") or "").strip()
            for p in card.get("phones") or []
            if isinstance(p, dict)
        ]
        shown = ", ".join(p for p in phones if p)
        entry = f"{label} {shown}".strip() if not shown or not label else f"{label}: {shown}"
        if entry:
            people.append(entry)
    return f"contact: {'; '.join(people)}" if people else None


def quoted(text: str) -> str:
    """The customer's words, after the message of ours they reply to."""
    flat = " ".join(text.split())
    short = flat if len(flat) <= 300 else flat[:299] + "…"
    return f"(in reply to: «{short}»)"
