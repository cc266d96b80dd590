"""Words that ask about a photo the customer sent: "можно так?", "как на фото", "хочу
такой", "like this?", "this one". The turn hands such a photo to the staff (or, with a
vision model, shows it to the model): only a person can say whether a design on a
picture can be done. An understanding module: the words a customer reads are in
`salonbot.texts`."""

from __future__ import annotations

import re

_ASKS = re.compile(
    r"(?<!\w)("
    # Russian: "так", "такой/такая/такое/такие/таком/такую…", "вот это", "как на фото/фотке/
    # картинке/снимке", "как здесь/тут", "это можно", "сделаете?"
    r"так(ой|ая|ое|ие|ую|им|ом|ого|ую)?|вот\s+(это|этот|эту|так)|"
    r"как\s+(на|в)\s+(фот\w*|картин\w*|снимк\w*|скрин\w*)|как\s+(здесь|тут)|"
    r"фот\w*|картин\w*|снимо?к\w*|сделаете|сможете|"
    # English
    r"like\s+(this|that|these|the\s+(photo|picture|pic|image))|this\s+one|"
    r"photo|picture|pic|image|same|can\s+you\s+do"
    r")(?!\w)",
    re.IGNORECASE,
)


def asks_about_photo(text: str | None) -> bool:
    """Whether a caption or a text right after a photo asks about it. A photo with no
    words at all asks too: that is decided by the caller, who knows there is a photo."""
    if not text:
        return False
    return _ASKS.search(text) is not None or text.rstrip().endswith("?")
