"""The salon file (YAML or JSON) accepted by `salonbot salon import`.

Unknown keys are errors and every error names its field, e.g.
`masters[0].working_hours.mon[1]: overlaps 10:00-14:00`."""

from __future__ import annotations

import datetime as dt
import json
import re
import uuid
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    field_validator,
    model_validator,
)

from salonbot.errors import InvalidInput

# The largest `max_live_bookings_per_client` a salon file may set.
MAX_LIVE_BOOKINGS = 100
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_RANGE = re.compile(r"^(\d{2}):(\d{2})-(\d{2}):(\d{2})$")

Code = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9_-]{0,39}$")]
Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Address = Annotated[str, StringConstraints(max_length=500)]
Alias = Annotated[str, StringConstraints(strip_whitespace=True, min_length=2, max_length=60)]
MAX_ALIASES = 30  # per service and language


def _language_keys(value: dict[str, Any], example: str) -> None:
    if not value:
        raise ValueError(f"needs at least one language, e.g. {example}")
    for lang in value:
        if not re.fullmatch(r"[a-z]{2}", lang):
            raise ValueError(f"{lang!r} is not a two-letter language code")


def in_language(value: str | dict[str, str], language: str) -> str:
    """A name given as one string or per language ({ru: Анна, en: Anna}): the one for
    `language`, else the first given."""
    if isinstance(value, str):
        return value
    return value.get(language) or next(iter(value.values()))


def per_language(value: str | dict[str, str] | None) -> dict[str, str]:
    """The per-language forms of a name ({} for a plain string)."""
    return dict(value) if isinstance(value, dict) else {}


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class TimeRange(BaseModel):
    model_config = ConfigDict(frozen=True)
    start: dt.time
    end: dt.time

    def __str__(self) -> str:
        return f"{self.start:%H:%M}-{self.end:%H:%M}"


def parse_time_range(value: str) -> TimeRange:
    match = _RANGE.match(value.strip())
    if not match:
        raise ValueError(f"{value!r} is not a time range like 10:00-14:00")
    h1, m1, h2, m2 = (int(g) for g in match.groups())
    if h1 > 23 or m1 > 59 or m2 > 59 or h2 > 24 or (h2 == 24 and m2 != 0):
        raise ValueError(f"{value!r} is not a valid time of day")
    start = dt.time(h1, m1)
    end = dt.time.max.replace(microsecond=0) if h2 == 24 else dt.time(h2, m2)
    if end <= start:
        raise ValueError(f"{value!r} ends before it starts")
    return TimeRange(start=start, end=end)


class ServiceFile(_Strict):
    code: Code
    name: dict[str, Text]
    duration_minutes: int = Field(ge=5, le=720)
    price: Decimal = Field(ge=0, le=10_000_000, decimal_places=2)
    buffer_after_minutes: int = Field(default=0, ge=0, le=240)
    # Other words customers use for the service, per language: {ru: [ноготочки], en: [nails]}.
    aliases: dict[str, list[Alias]] = Field(default_factory=dict)
    # Of duration_minutes: the master is free for processing_minutes (a colour
    # developing) before the last finishing_minutes; the client stays in the chair.
    processing_minutes: int = Field(default=0, ge=0, le=600)
    finishing_minutes: int = Field(default=0, ge=0, le=600)
    resource: Code | None = None  # a resource's code: one unit held per booking item

    @field_validator("name")
    @classmethod
    def _has_a_name(cls, value: dict[str, str]) -> dict[str, str]:
        _language_keys(value, "{ru: Маникюр, en: Manicure}")
        return value

    @field_validator("aliases")
    @classmethod
    def _valid_aliases(cls, value: dict[str, list[str]]) -> dict[str, list[str]]:
        if value:
            _language_keys(value, "{ru: [ноготочки], en: [nails]}")
        for lang, words in value.items():
            if len(words) > MAX_ALIASES:
                raise ValueError(f"{lang}: at most {MAX_ALIASES} aliases")
        return value


class ResourceFile(_Strict):
    code: Code
    capacity: int = Field(ge=1, le=1000)


class MasterFile(_Strict):
    code: Code
    # One name, or one per language: {ru: Анна, en: Anna}.
    name: Text | dict[str, Text]
    services: list[Code] = Field(min_length=1)
    working_hours: dict[str, list[str]]
    days_off: list[dt.date] = Field(default_factory=list)

    @field_validator("name")
    @classmethod
    def _named(cls, value: str | dict[str, str]) -> str | dict[str, str]:
        if isinstance(value, dict):
            _language_keys(value, "{ru: Анна, en: Anna}")
        return value

    @field_validator("working_hours")
    @classmethod
    def _valid_week(cls, value: dict[str, list[str]]) -> dict[str, list[str]]:
        for day, ranges in value.items():
            if day not in WEEKDAYS:
                raise ValueError(f"{day!r} is not a weekday ({', '.join(WEEKDAYS)})")
            parsed: list[TimeRange] = []
            for index, text in enumerate(ranges):
                try:
                    current = parse_time_range(text)
                except ValueError as exc:
                    raise ValueError(f"{day}[{index}]: {exc}") from None
                for other in parsed:
                    if current.start < other.end and other.start < current.end:
                        raise ValueError(f"{day}[{index}]: {current} overlaps {other}")
                parsed.append(current)
        return value

    def shifts(self) -> dict[int, list[TimeRange]]:
        """ISO weekday (1 = Monday) -> sorted shifts."""
        return {
            WEEKDAYS.index(day) + 1: sorted(
                (parse_time_range(r) for r in ranges), key=lambda r: r.start
            )
            for day, ranges in self.working_hours.items()
        }


# What a template's body parameters may be filled with, from the booking.
BODY_PARAMETERS = ("start_date", "start_time", "service", "master", "code", "salon", "address")
MAX_REMINDERS = 5
_PLACEHOLDER = re.compile(r"\{\{\s*(\d+)\s*\}\}")
_CLOCK = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")


class ReminderFile(_Strict):
    # At least a quarter of an hour ahead, at most a week.
    before_minutes: int = Field(ge=15, le=7 * 24 * 60)


class QuietHoursFile(_Strict):
    """No reminder goes out from `start` to `end` (local time; may span midnight)."""

    start: str
    end: str

    @field_validator("start", "end")
    @classmethod
    def _clock_time(cls, value: str) -> str:
        if not _CLOCK.match(value):
            raise ValueError(f"{value!r} is not a time of day like 21:00")
        return value

    @model_validator(mode="after")
    def _not_empty(self) -> QuietHoursFile:
        if self.start == self.end:
            raise _FieldError("quiet_hours.end", "must differ from start")
        return self


class TemplateFile(_Strict):
    """One approved (or to be approved) WhatsApp message template of the salon."""

    purpose: Literal["reminder", "confirmation", "waitlist_offer", "feedback", "staff_followup"]
    name: Annotated[str, StringConstraints(pattern=r"^[a-z0-9_]{1,512}$")]
    # Meta's language code: `ru`, `en`, `en_US`.
    language: Annotated[str, StringConstraints(pattern=r"^[a-z]{2}(_[A-Z]{2})?$")]
    category: Literal["utility", "marketing"] = "utility"
    # The body as submitted for approval, placeholders {{1}}..{{n}} in parameter order.
    body: Annotated[str, StringConstraints(min_length=1, max_length=1024)] | None = None
    body_parameters: list[
        Literal["start_date", "start_time", "service", "master", "code", "salon", "address"]
    ] = Field(default_factory=list, max_length=10)
    buttons: list[Literal["confirm", "cancel", "move"]] = Field(default_factory=list, max_length=3)

    @model_validator(mode="after")
    def _consistent(self) -> TemplateFile:
        if len(set(self.buttons)) != len(self.buttons):
            raise ValueError("buttons: each button at most once")
        if self.body is not None:
            numbers = sorted({int(n) for n in _PLACEHOLDER.findall(self.body)})
            if numbers != list(range(1, len(self.body_parameters) + 1)):
                raise ValueError(
                    f"body: placeholders {{{{1}}}}..{{{{{len(self.body_parameters)}}}}} "
                    "must match body_parameters one to one"
                )
        if self.purpose in ("reminder", "confirmation") and self.category != "utility":
            raise ValueError(f"category: a {self.purpose} template is utility")
        return self

    @property
    def base_language(self) -> str:
        return self.language[:2]


class ArmFile(_Strict):
    """One arm of a model experiment: the model (and temperature) its conversations get."""

    id: Code
    model: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
    weight: float = Field(gt=0, le=1_000_000, allow_inf_nan=False)
    temperature: float | None = Field(default=None, ge=0.0, le=2.0)


class ModelExperimentFile(_Strict):
    arms: list[ArmFile] = Field(min_length=1, max_length=20)


class SalonFile(_Strict):
    id: uuid.UUID | None = None
    name: Text
    timezone: str
    language: Annotated[str, StringConstraints(pattern=r"^[a-z]{2}$")] = "ru"
    currency: Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$")] = "RUB"
    # One address, or one per language: {ru: "Москва, Тверская, 1", en: "1 Tverskaya, Moscow"}.
    address: Address | dict[str, Address] | None = None
    whatsapp_phone_number_id: Annotated[str, StringConstraints(pattern=r"^\d{5,20}$")] | None = None
    ai_enabled: bool = False
    daily_budget_usd: Decimal = Field(default=Decimal(5), ge=0, le=100_000)
    # One customer's share of it a day; None: 10% of daily_budget_usd.
    customer_daily_budget_usd: Decimal | None = Field(default=None, ge=0, le=100_000)
    slot_step_minutes: int = Field(default=15, ge=5, le=240)
    min_notice_minutes: int = Field(default=60, ge=0, le=7 * 24 * 60)
    booking_horizon_days: int = Field(default=30, ge=1, le=365)
    # Live (confirmed, not yet over) bookings one customer may hold at once.
    max_live_bookings_per_client: int = Field(default=3, ge=1, le=MAX_LIVE_BOOKINGS)
    # The WhatsApp Business Account holding the salon's templates (Graph API id).
    whatsapp_business_account_id: (
        Annotated[str, StringConstraints(pattern=r"^\d{5,20}$")] | None
    ) = None
    # Reminders before each visit, e.g. [{before_minutes: 1440}, {before_minutes: 120}].
    reminders: list[ReminderFile] = Field(default_factory=list, max_length=MAX_REMINDERS)
    quiet_hours: QuietHoursFile | None = None
    # A 1-5 rating is asked for this long after a visit ends; null: never.
    feedback_after_minutes: int | None = Field(default=120, ge=15, le=7 * 24 * 60)
    # A freed slot offered to the waitlist can be taken for this long.
    waitlist_offer_minutes: int = Field(default=30, ge=5, le=24 * 60)
    # A client with this many no-shows or more has each booking handed to staff and its
    # reminder asks for confirmation. None: no such rule.
    confirm_required_after_no_shows: int | None = Field(default=None, ge=1, le=100)
    whatsapp_templates: list[TemplateFile] = Field(default_factory=list, max_length=50)
    # Inside these many minutes before a visit a customer cannot cancel or move it on
    # their own (staff are offered instead; staff can still change it). None: no cut-off.
    cancel_notice_minutes: int | None = Field(default=None, ge=0, le=43_200)
    move_notice_minutes: int | None = Field(default=None, ge=0, le=43_200)
    resources: list[ResourceFile] = Field(default_factory=list)
    # Conversations split between models by weight (`salonbot.experiment`).
    model_experiment: ModelExperimentFile | None = None
    services: list[ServiceFile] = Field(min_length=1)
    masters: list[MasterFile] = Field(min_length=1)

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"{value!r} is not an IANA time zone like Europe/Moscow") from None
        return value

    @field_validator("address")
    @classmethod
    def _address_languages(cls, value: str | dict[str, str] | None) -> str | dict[str, str] | None:
        if isinstance(value, dict):
            _language_keys(value, '{ru: "Москва, ...", en: "Moscow, ..."}')
        return value

    @model_validator(mode="after")
    def _customer_budget_within_salon(self) -> SalonFile:
        budget = self.customer_daily_budget_usd
        if budget is not None and budget > self.daily_budget_usd:
            raise _FieldError(
                "customer_daily_budget_usd",
                f"must not exceed daily_budget_usd ({self.daily_budget_usd})",
            )
        return self

    @model_validator(mode="after")
    def _outbound(self) -> SalonFile:
        minutes = [r.before_minutes for r in self.reminders]
        for index, value in enumerate(minutes):
            if value in minutes[:index]:
                raise _FieldError(
                    f"reminders[{index}].before_minutes", f"duplicate reminder {value}"
                )
        seen: set[tuple[str, str]] = set()
        for index, template in enumerate(self.whatsapp_templates):
            key = (template.purpose, template.base_language)
            if key in seen:
                raise _FieldError(
                    f"whatsapp_templates[{index}]",
                    f"a second {template.purpose} template in {template.base_language}",
                )
            seen.add(key)
        return self

    @model_validator(mode="after")
    def _unique_arms(self) -> SalonFile:
        if self.model_experiment is None:
            return self
        ids = [arm.id for arm in self.model_experiment.arms]
        for index, arm_id in enumerate(ids):
            if arm_id in ids[:index]:
                raise _FieldError(
                    f"model_experiment.arms[{index}].id", f"duplicate arm id {arm_id!r}"
                )
        return self

    @model_validator(mode="after")
    def _references(self) -> SalonFile:
        codes = [s.code for s in self.services]
        for index, code in enumerate(codes):
            if code in codes[:index]:
                raise _FieldError(f"services[{index}].code", f"duplicate service code {code!r}")
        known = set(codes)
        resources = [r.code for r in self.resources]
        for index, code in enumerate(resources):
            if code in resources[:index]:
                raise _FieldError(f"resources[{index}].code", f"duplicate resource code {code!r}")
        for index, service in enumerate(self.services):
            if service.finishing_minutes and not service.processing_minutes:
                raise _FieldError(
                    f"services[{index}].finishing_minutes", "needs processing_minutes"
                )
            if service.processing_minutes + service.finishing_minutes >= service.duration_minutes:
                raise _FieldError(
                    f"services[{index}].processing_minutes",
                    "processing_minutes plus finishing_minutes must be shorter than "
                    f"duration_minutes ({service.duration_minutes})",
                )
            if service.resource is not None and service.resource not in resources:
                raise _FieldError(
                    f"services[{index}].resource", f"unknown resource code {service.resource!r}"
                )
        masters = [m.code for m in self.masters]
        for index, master in enumerate(self.masters):
            if master.code in masters[:index]:
                raise _FieldError(
                    f"masters[{index}].code", f"duplicate master code {master.code!r}"
                )
            for position, code in enumerate(master.services):
                if code not in known:
                    raise _FieldError(
                        f"masters[{index}].services[{position}]", f"unknown service code {code!r}"
                    )
        return self


class _FieldError(ValueError):
    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


# The names pydantic gives the branches of a union in an error's location ("str",
# "constrained-str", "dict[str,constrained-str]"): not fields of the file.
_UNION_BRANCH = re.compile(r"^(str|constrained-str|dict\[.*\]|function-.*)$")


def _field_path(loc: tuple[int | str, ...]) -> str:
    path = ""
    for part in loc:
        if isinstance(part, str) and _UNION_BRANCH.match(part):
            continue
        path += f"[{part}]" if isinstance(part, int) else (f".{part}" if path else str(part))
    return path or "salon"


def _first_error(errors: list[Any], data: Any) -> Any:
    """The error to report: for a field given as one string or per language, the one of
    the form the file used (a mapping's error, not "should be a valid string")."""
    for error in errors:
        loc = tuple(error["loc"])
        branch = next((p for p in loc if isinstance(p, str) and _UNION_BRANCH.match(p)), None)
        if branch is None:
            return error
        value: Any = data
        for part in loc[: loc.index(branch)]:
            try:
                value = value[part]
            except (KeyError, IndexError, TypeError):
                break
        if branch.startswith("dict") == isinstance(value, dict):
            return error
    return errors[0]


def validate_salon(data: Any) -> SalonFile:
    """Validate parsed salon data; raise InvalidInput naming the first bad field."""
    if not isinstance(data, dict):
        raise InvalidInput("the salon file must be a mapping of fields", field="salon")
    try:
        return SalonFile.model_validate(data)
    except ValidationError as exc:
        error = _first_error(exc.errors(), data)
        cause = error.get("ctx", {}).get("error")
        if isinstance(cause, _FieldError):
            raise InvalidInput(cause.message, field=cause.field) from None
        message = str(error["msg"]).removeprefix("Value error, ")
        if error["type"] == "extra_forbidden":
            message = "unknown key"
        raise InvalidInput(message, field=_field_path(tuple(error["loc"]))) from None


def load_salon_file(path: str | Path) -> SalonFile:
    """Read a .yaml/.yml/.json salon file and validate it."""
    return validate_salon(read_salon_data(path))


def read_salon_data(path: str | Path) -> Any:
    """The parsed, not yet validated, content of a .yaml/.yml/.json salon file."""
    file = Path(path)
    try:
        text = file.read_text(encoding="utf-8")
    except OSError as exc:
        raise InvalidInput(f"cannot read {file}: {exc.strerror}", field="file") from None
    try:
        if file.suffix.lower() == ".json":
            data = json.loads(text)
        else:
            import yaml

            data = yaml.safe_load(text)
    except (ValueError, ImportError) as exc:
        raise InvalidInput(
            f"not valid {file.suffix.lstrip('.') or 'YAML'}: {exc}", field="file"
        ) from None
    except Exception as exc:  # yaml.YAMLError has no common base outside PyYAML
        raise InvalidInput(f"not valid YAML: {exc}", field="file") from None
    return data
