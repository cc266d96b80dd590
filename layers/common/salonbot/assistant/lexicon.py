"""Words customers use that are not in a salon's own service names: what the guided flow
recognises beside the salon file (its `aliases` per service come first).

- `SERVICE_WORDS_RU` / `SERVICE_WORDS_EN`: verbs, diminutives and everyday words for the
  kinds of service salons offer, to the word a salon's service name uses ("подстричься",
  "подровнять" -> "стрижка"; "ноготочки" -> "маникюр"; "mens" -> "men"). Russian keys are
  dictionary forms (`morphology.lemma`), so every inflection of them counts;
- `OTHER_SERVICES`: kinds of service a salon may not offer, to say "we don't do that"
  instead of guessing;
- `from_translit`: Russian written in Latin letters ("hochu na manikur v pyatnicu") back
  in Cyrillic, and `looks_translit` to tell it from English."""

from __future__ import annotations

import re

SERVICE_WORDS_RU: dict[str, str] = {
    # hair
    "подстричься": "стрижка",
    "подстричь": "стрижка",
    "постричься": "стрижка",
    "постричь": "стрижка",
    "стричься": "стрижка",
    "стричь": "стрижка",
    "стрижечка": "стрижка",
    "покраситься": "окрашивание",
    "покрасить": "окрашивание",
    "окраситься": "окрашивание",
    "окрасить": "окрашивание",
    "краситься": "окрашивание",
    "покраска": "окрашивание",
    "окраска": "окрашивание",
    "колорирование": "окрашивание",
    "мелирование": "окрашивание",
    "тонирование": "окрашивание",
    "корни": "окрашивание",
    # nails
    "ноготочек": "маникюр",
    "ноготочка": "маникюр",
    "ноготок": "маникюр",
    "ноготки": "маникюр",
    "ноготь": "маникюр",
    "маникюрчик": "маникюр",
    "маникюрщица": "маникюр",
    "ручки": "маникюр",
    "гелька": "гель",
    "шеллак": "гель",
    "педикюрчик": "педикюр",
    # brows, beard, shave
    "бровка": "брови",
    "бровь": "брови",
    "бородка": "бороды",
    "борода": "бороды",
    "побриться": "бритье",
    "побрить": "бритье",
    "бриться": "бритье",
    "бритьё": "бритье",
    # who for
    "мужчина": "мужская",
    "мужской": "мужская",
    "муж": "мужская",
    "женский": "женская",
    "ребенок": "детская",
    "ребёнок": "детская",
    "сын": "детская",
    "дочка": "детская",
    "детский": "детская",
}

# Verbs that say "a little off" of whatever follows: a haircut only when nothing else is named
# ("подровнять кончики" is a haircut, "подровнять бороду" the beard).
WEAK_SERVICE_WORDS_RU: dict[str, str] = {
    "подровнять": "стрижка",
    "подравнять": "стрижка",
    "освежить": "стрижка",
}

SERVICE_WORDS_EN: dict[str, str] = {
    "mens": "men",
    "gents": "men",
    "male": "men",
    "womens": "women",
    "woman": "women",
    "ladies": "women",
    "lady": "women",
    "female": "women",
    "kid": "kids",
    "child": "kids",
    "children": "kids",
    "son": "kids",
    "boy": "kids",
    "nails": "manicure",
    "nail": "manicure",
    "mani": "manicure",
    "pedi": "pedicure",
    "gel": "gel",
    "shellac": "gel",
    "trim": "haircut",
    "cut": "haircut",
    "color": "coloring",
    "colour": "coloring",
    "colouring": "coloring",
    "dye": "coloring",
    "highlights": "coloring",
    "eyebrows": "brow",
    "brows": "brow",
    "shave": "shave",
}

# Kinds of service, to tell a customer asking for one the salon does not offer what it does.
OTHER_SERVICES = re.compile(
    r"\bманикюр\w*|\bпедикюр\w*|\bногт\w*|\bстрижк\w*|\bокрашиван\w*|\bбров\w*|"
    r"\bбород\w*|\bбрить\w*|\bукладк\w*|\bприческ\w*|\bmanicure\b|\bpedicure\b|"
    r"\bnails?\b|\bhaircut\b|\bcoloring\b|\bbrows?\b|\bbeard\b|\bshave\b|\bstyling\b|"
    r"\bмассаж\w*|\bресниц\w*|\bэпиляц\w*|\bдепиляц\w*|\bшугаринг\w*|\bтату\w*|\bпирсинг\w*|"
    r"\bмакияж\w*|\bвизаж\w*|\bсолярий\w*|\bчистк\w* лица|\bкосметолог\w*|\bботокс\w*|"
    r"\bнаращиван\w*|\bкератин\w*|\bламинир\w*|\bзагар\w*|\bspa\b|\bспа\b|"
    r"\bmassage\w*|\blash\w*|\bwax\w*|\btattoo\w*|\bpiercing\w*|\bmake-?up\b|\bfacials?\b|"
    r"\bbotox\b|\bextensions?\b|\blaser\b|\btanning\b|\bkeratin\b"
)

# -- Russian in Latin letters -----------------------------------------------------------------

# Words that are Russian written in Latin letters, not English ("privet", "hochu").
_TRANSLIT_WORDS = re.compile(
    r"\b(privet\w*|zdravstv\w*|zdrast\w*|dobr\w+|hochu|hotel[ao]?|hotela|mozhno|mojno|"
    r"zapis\w*|zapish\w*|manik\w*|pedik\w*|strizh\w*|stric\w*|podstri\w*|brov\w*|borod\w*|"
    r"okrash\w*|pokras\w*|zavtra|segodn\w*|poslezavtra|ponedel\w*|vtornik\w*|sred[uay]|"
    r"chetverg\w*|pyatnic\w*|pjatnic\w*|subbot\w*|voskresen\w*|utr\w*|vecher\w*|posle|obeda|"
    r"spasibo|pozhal\w*|pojal\w*|skolko|stoit|gde|vy|net|konechno|davai|davaj|otmen\w*|"
    r"perenes\w*|perenos\w*|master\w*|svobodn\w*|vremya|vremia|chasov|chas[ua]?|nochi|"
    r"dnya|utra|vechera|ya|mne|menya|na|k|pozov\w*|pozvat\w*|pozvon\w*|chelovek\w*|"
    r"nuzhn\w*|nado|sdelat\w*|uslug\w*|cen[auy]|tsen[auy]|moy\w*|moi|moju|"
    r"sejchas|seychas|kogda|skolki|rabotaete|otkryt\w*|adres\w*|nakhod\w*|nahod\w*|"
    r"peredum\w*|nikak|ladno|khorosho|horosho|ponyat\w*|pochem\w*|tolko|mozhet|budu|"
    r"budet|ochen|drug\w*|pomen\w*|vecherom|utrom|dnem|zapishite|zapisat\w*)\b"
)
# One short word that is Russian on its own ("da", "net"), or neutral ("ok").
_SHORT_RUSSIAN = re.compile(r"^\W*(da+|net|aga|ugu|sps|neа)\W*$")
# Word endings where "i" stands for "й" ("davai", "moi", "pozhaluista").
_SHORT_I = re.compile(r"(?<=[аеоуыяю])и\b")
# Common words that lose their soft sign or "й" in Latin letters.
_FIXUPS = {
    "сколко": "сколько",
    "сколки": "скольки",
    "пожалуиста": "пожалуйста",
    "пожалуста": "пожалуйста",
    "записатся": "записаться",
    "подстричся": "подстричься",
    "покраситса": "покраситься",
    "покрасится": "покраситься",
    "запис": "запись",
}
_SHARED_WITH_ENGLISH = frozenset({"master", "masters", "chas"})
_TO_CYRILLIC = (
    ("shch", "щ"),
    ("sch", "щ"),
    ("yo", "ё"),
    ("zh", "ж"),
    ("kh", "х"),
    ("ch", "ч"),
    ("sh", "ш"),
    ("ts", "ц"),
    ("yu", "ю"),
    ("ya", "я"),
    ("ja", "я"),
    ("ju", "ю"),
    ("ye", "е"),
    ("iy", "ий"),
    ("yy", "ый"),
    ("ay", "ай"),
    ("ey", "ей"),
    ("oy", "ой"),
    ("uy", "уй"),
    ("a", "а"),
    ("b", "б"),
    ("v", "в"),
    ("w", "в"),
    ("g", "г"),
    ("d", "д"),
    ("e", "е"),
    ("z", "з"),
    ("i", "и"),
    ("j", "й"),
    ("k", "к"),
    ("l", "л"),
    ("m", "м"),
    ("n", "н"),
    ("o", "о"),
    ("p", "п"),
    ("r", "р"),
    ("s", "с"),
    ("t", "т"),
    ("u", "у"),
    ("f", "ф"),
    ("h", "х"),
    ("x", "кс"),
    ("c", "ц"),
    ("y", "ы"),
    ("q", "к"),
    ("'", "ь"),
)
_TRANSLIT_TOKEN = re.compile("|".join(re.escape(latin) for latin, _ in _TO_CYRILLIC))
_CYRILLIC_OF = dict(_TO_CYRILLIC)
_LATIN_WORD = re.compile(r"[a-z']+")


def looks_translit(text: str) -> bool:
    """Russian in Latin letters: one of its known words of four letters or more
    ("privet", "hochu na manikur"); English shares none of them."""
    lowered = text.lower()
    if re.search(r"[а-яё]", lowered):
        return False
    if _SHORT_RUSSIAN.match(lowered):
        return True
    found = [m[0] for m in _TRANSLIT_WORDS.finditer(lowered)]
    return any(len(w) >= 4 and w not in _SHARED_WITH_ENGLISH for w in found)


def from_translit(text: str) -> str:
    """Latin letters to Cyrillic, the common transliterations first ("shch", "zh", "ya");
    everything else (digits, punctuation, booking codes in capitals) as it was."""

    def word(match: re.Match[str]) -> str:
        cyrillic = _TRANSLIT_TOKEN.sub(lambda m: _CYRILLIC_OF[m[0]], match[0])
        cyrillic = _SHORT_I.sub("й", cyrillic)
        return _FIXUPS.get(cyrillic, cyrillic)

    return _LATIN_WORD.sub(word, text.lower())
