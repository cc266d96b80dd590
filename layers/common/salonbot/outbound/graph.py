"""Meta's Graph API for the salon's message templates: submit one for approval
(`POST /{waba_id}/message_templates`) and read every template's verdict
(`GET /{waba_id}/message_templates`). Used by `salonbot templates push|status`; the
`message_template_status_update` webhook brings later verdicts on its own.

A submitted template carries the body with {{n}} placeholders, an example value for each
(Meta requires one), and a quick-reply button per action, titled in the template's
language from the catalogue."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from salonbot import texts
from salonbot.errors import InvalidInput, SalonbotError
from salonbot.whatsapp.client import access_token_for

if TYPE_CHECKING:
    import httpx2

    from salonbot.booking.catalog import Salon
    from salonbot.config import Settings
    from salonbot.outbound.templates import Template


class GraphError(SalonbotError):
    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


def examples(salon: Salon, template: Template) -> list[str]:
    """An example value per body parameter, as a customer would read it."""
    t = texts.phrases(template.language[:2], salon.language)
    service = next(iter(salon.services.values()), None)
    master = next(iter(salon.masters.values()), None)
    values = {
        "start_date": t.day(salon.now().date()),
        "start_time": "11:00",
        "service": service.name(t.language) if service else "—",
        "master": master.name if master else "—",
        "code": "AB12CD",
        "salon": salon.name,
        "address": salon.address or salon.name,
    }
    return [values[name] for name in template.body_parameters]


def submission(salon: Salon, template: Template) -> dict[str, Any]:
    """The body of `POST /{waba_id}/message_templates` for one template."""
    if not template.body:
        raise InvalidInput(
            f"template {template.name} ({template.language}) has no body to submit",
            field="whatsapp_templates.body",
        )
    t = texts.phrases(template.language[:2], salon.language)
    body: dict[str, Any] = {"type": "BODY", "text": template.body}
    if template.body_parameters:
        body["example"] = {"body_text": [examples(salon, template)]}
    components: list[dict[str, Any]] = [body]
    if template.buttons:
        components.append(
            {
                "type": "BUTTONS",
                "buttons": [
                    {"type": "QUICK_REPLY", "text": t[f"reminder_{action}"]}
                    for action in template.buttons
                ],
            }
        )
    return {
        "name": template.name,
        "language": template.language,
        "category": template.category.upper(),
        "components": components,
    }


class TemplateAdmin:
    def __init__(self, settings: Settings, *, http: httpx2.Client | None = None) -> None:
        if http is None:
            import httpx2

            http = httpx2.Client(timeout=settings.whatsapp_timeout_s)
        self._http = http
        self._settings = settings
        self._base = settings.whatsapp_api_base_url.rstrip("/")

    def _headers(self, salon: Salon) -> dict[str, str]:
        token = access_token_for(self._settings, salon.whatsapp_phone_number_id or "default")
        return {"Authorization": f"Bearer {token}"}

    def _waba(self, salon: Salon) -> str:
        if not salon.whatsapp_business_account_id:
            raise InvalidInput(
                "the salon file has no whatsapp_business_account_id",
                field="whatsapp_business_account_id",
            )
        return salon.whatsapp_business_account_id

    def submit(self, salon: Salon, template: Template) -> dict[str, Any]:
        """Submit for approval; Meta's answer (`id`, `status`, `category`)."""
        response = self._http.post(
            f"{self._base}/{self._waba(salon)}/message_templates",
            json=submission(salon, template),
            headers=self._headers(salon),
        )
        return self._answer(response)

    def verdicts(self, salon: Salon) -> list[dict[str, Any]]:
        """Every template of the salon's WhatsApp Business Account, with its status."""
        url: str | None = f"{self._base}/{self._waba(salon)}/message_templates"
        params: dict[str, str] | None = {"fields": "name,language,status,category,id"}
        found: list[dict[str, Any]] = []
        while url:
            answer = self._answer(self._http.get(url, params=params, headers=self._headers(salon)))
            found.extend(answer.get("data") or [])
            url, params = (answer.get("paging") or {}).get("next"), None
        return found

    @staticmethod
    def _answer(response: httpx2.Response) -> dict[str, Any]:
        try:
            data = response.json()
        except ValueError:
            data = {}
        if not response.is_success:
            error = (data.get("error") or {}) if isinstance(data, dict) else {}
            raise GraphError(
                f"Graph API answered {response.status_code}: {error.get('message', '')}"[:300],
                status=response.status_code,
            )
        return data if isinstance(data, dict) else {}
