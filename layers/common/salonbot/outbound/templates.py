"""The salon's WhatsApp message templates: stored from the salon file, Meta's verdict on
each, and the Cloud API template message built from a booking.

A template is used only when Meta approved it (`status = 'approved'`): a draft, pending,
rejected, paused or disabled one never goes out, whatever the salon file says. A re-import
keeps the verdict of a template whose name, category and body are unchanged and puts a
changed one back to `draft` (it must be submitted again: `salonbot templates push`)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from salonbot import texts

if TYPE_CHECKING:
    import uuid
    from collections.abc import Sequence
    from zoneinfo import ZoneInfo

    from salonbot.booking.salon_file import TemplateFile
    from salonbot.booking.store import Booking
    from salonbot.db.connection import Connection

APPROVED = "approved"
# Meta's template statuses (webhook `event`, Graph API `status`) to ours.
META_STATUSES = {
    "APPROVED": "approved",
    "PENDING": "pending",
    "IN_APPEAL": "pending",
    "REJECTED": "rejected",
    "PAUSED": "paused",
    "DISABLED": "disabled",
    "FLAGGED": "approved",  # still sendable until Meta pauses it
    "REINSTATED": "approved",
    "PENDING_DELETION": "disabled",
    "DELETED": "disabled",
    "LIMIT_EXCEEDED": "disabled",
}


class SalonFacts(Protocol):
    """What a template may say about the salon (a `Salon` has it all)."""

    @property
    def name(self) -> str: ...
    @property
    def address(self) -> str | None: ...
    @property
    def language(self) -> str: ...
    @property
    def tz(self) -> ZoneInfo: ...


@dataclass(frozen=True)
class Template:
    salon_id: uuid.UUID
    purpose: str
    language: str  # Meta's code: ru, en, en_US
    name: str
    category: str
    body: str | None
    body_parameters: tuple[str, ...]
    buttons: tuple[str, ...]
    status: str
    status_reason: str | None = None

    @property
    def approved(self) -> bool:
        return self.status == APPROVED


def _spec(template: TemplateFile) -> dict[str, Any]:
    return {
        "body": template.body,
        "body_parameters": list(template.body_parameters),
        "buttons": list(template.buttons),
    }


def import_templates(
    conn: Connection, salon_id: uuid.UUID, templates: Sequence[TemplateFile]
) -> None:
    """Replace the salon's templates with the file's, keeping unchanged ones' verdicts."""
    rows = [
        {
            "purpose": t.purpose,
            "language": t.language,
            "name": t.name,
            "category": t.category,
            "spec": _spec(t),
        }
        for t in templates
    ]
    conn.execute(
        """
        WITH new AS (
            SELECT * FROM jsonb_to_recordset(%(rows)s::jsonb)
                   AS r(purpose text, language text, name text, category text, spec jsonb)
        ), gone AS (
            DELETE FROM whatsapp_templates w
             WHERE w.salon_id = %(salon)s
               AND NOT EXISTS (SELECT 1 FROM new
                                WHERE new.purpose = w.purpose AND new.language = w.language)
        )
        INSERT INTO whatsapp_templates AS w (salon_id, purpose, language, name, category, spec)
        SELECT %(salon)s, purpose, language, name, category, spec FROM new
        ON CONFLICT (salon_id, purpose, language) DO UPDATE
           SET status = CASE WHEN (w.name, w.category, w.spec)
                                  = (EXCLUDED.name, EXCLUDED.category, EXCLUDED.spec)
                             THEN w.status ELSE 'draft' END,
               status_reason = CASE WHEN (w.name, w.category, w.spec)
                                         = (EXCLUDED.name, EXCLUDED.category, EXCLUDED.spec)
                                    THEN w.status_reason END,
               name = EXCLUDED.name, category = EXCLUDED.category, spec = EXCLUDED.spec,
               updated_at = now()
        """,
        {"salon": salon_id, "rows": json.dumps(rows, ensure_ascii=False)},
    )


def _from_row(row: dict[str, Any]) -> Template:
    spec = row["spec"] or {}
    return Template(
        salon_id=row["salon_id"],
        purpose=row["purpose"],
        language=row["language"],
        name=row["name"],
        category=row["category"],
        body=spec.get("body"),
        body_parameters=tuple(spec.get("body_parameters", [])),
        buttons=tuple(spec.get("buttons", [])),
        status=row["status"],
        status_reason=row["status_reason"],
    )


def salon_templates(conn: Connection, salon_id: uuid.UUID) -> list[Template]:
    rows = conn.execute(
        "SELECT * FROM whatsapp_templates WHERE salon_id = %s ORDER BY purpose, language",
        (salon_id,),
    ).fetchall()
    return [_from_row(row) for row in rows]


def approved_templates(conn: Connection, salon_ids: Sequence[uuid.UUID]) -> list[Template]:
    """The approved templates of these salons (one round trip for a run over many)."""
    rows = conn.execute(
        "SELECT * FROM whatsapp_templates WHERE salon_id = ANY(%s) AND status = %s",
        (list(salon_ids), APPROVED),
    ).fetchall()
    return [_from_row(row) for row in rows]


def choose(
    templates: Sequence[Template], purpose: str, language: str, salon_language: str
) -> Template | None:
    """The approved template for `purpose` in the customer's language, else the salon's,
    else English; None when there is none (never an unapproved one)."""
    usable = [t for t in templates if t.purpose == purpose and t.approved]
    for wanted in (language, salon_language, texts.ENGLISH):
        for template in usable:
            if template.language[:2] == wanted:
                return template
    return None


def record_status(
    conn: Connection,
    *,
    name: str,
    language: str,
    meta_status: str,
    reason: str | None = None,
    meta_template_id: str | None = None,
    salon_id: uuid.UUID | None = None,
    waba_id: str | None = None,
) -> int:
    """Meta's verdict on a template (webhook or Graph API); the rows it updated: the
    template of that name and language of `salon_id`, or of every salon whose WhatsApp
    Business Account is `waba_id` (the webhook's; salons may share one)."""
    if salon_id is None and waba_id is None:
        raise ValueError("record_status needs salon_id or waba_id")
    status = META_STATUSES.get(meta_status.upper())
    if status is None:
        return 0
    result = conn.execute(
        """
        UPDATE whatsapp_templates
           SET status = %s, status_reason = %s,
               meta_template_id = coalesce(%s, meta_template_id), updated_at = now()
         WHERE name = %s AND language = %s
           AND (%s::uuid IS NULL OR salon_id = %s::uuid)
           AND (%s::text IS NULL OR salon_id IN (SELECT id FROM salons
                                                  WHERE whatsapp_business_account_id = %s))
        """,
        (
            status,
            reason if reason and reason.upper() != "NONE" else None,
            meta_template_id,
            name,
            language,
            salon_id,
            salon_id,
            waba_id,
            waba_id,
        ),
    )
    return result.rowcount


def booking_values(salon: SalonFacts, booking: Booking, language: str) -> dict[str, str]:
    """Every body parameter a template may ask for, written in `language`."""
    t = texts.phrases(language, salon.language)
    local = booking.starts_at.astimezone(salon.tz)
    names = booking.service_names
    return {
        "start_date": t.day(local.date()),
        "start_time": t.clock(local),
        "service": names.get(t.language) or names.get(salon.language) or next(iter(names.values())),
        "master": booking.master_name,
        "code": booking.code,
        "salon": salon.name,
        "address": salon.address or salon.name,
    }


def button_payload(action: str, code: str) -> str:
    """A reply button's id (or a template quick reply's payload): names the booking on its
    own, whatever message it came from."""
    return f"booking:{action}:{code}"


def template_payload(
    template: Template, to: str, values: dict[str, str], *, code: str
) -> dict[str, Any]:
    """The Cloud API `POST /{phone_number_id}/messages` body of a template message: body
    parameters in the template's order, each quick-reply button's payload naming the
    booking."""
    components: list[dict[str, Any]] = []
    if template.body_parameters:
        components.append(
            {
                "type": "body",
                "parameters": [
                    {"type": "text", "text": values[name]} for name in template.body_parameters
                ],
            }
        )
    for index, action in enumerate(template.buttons):
        components.append(
            {
                "type": "button",
                "sub_type": "quick_reply",
                "index": str(index),
                "parameters": [{"type": "payload", "payload": button_payload(action, code)}],
            }
        )
    return {
        "messaging_product": "whatsapp",
        "recipient_type": "individual",
        "to": to.lstrip("+"),
        "type": "template",
        "template": {
            "name": template.name,
            "language": {"code": template.language},
            "components": components,
        },
    }
