"""The AI HTTP API behind `ApiFunction`: health, process-message and stats.

`salonbot.api.routes.app` is the Powertools resolver the handler calls;
`openapi_schema()` is its OpenAPI document; `salonbot openapi` prints it with the staff
API's routes (`salonbot.staff.routes`, StaffFunction) added: `http_api_schema()`."""

from __future__ import annotations


def openapi_schema() -> str:
    """The API's OpenAPI 3 document as JSON."""
    from salonbot.api.routes import app

    return app.get_openapi_json_schema(title="salonbot AI API", version="1.0.0")


def http_api_schema() -> str:
    """The whole HTTP API's OpenAPI 3 document: the AI API's and the staff API's routes,
    schemas and security schemes in one."""
    import json

    from salonbot.staff.routes import app as staff_app

    document = json.loads(openapi_schema())
    staff = json.loads(
        staff_app.get_openapi_json_schema(title="salonbot staff API", version="1.0.0")
    )
    document["info"]["title"] = "salonbot HTTP API"
    document["paths"].update(staff["paths"])
    components = document.setdefault("components", {})
    for part, entries in staff.get("components", {}).items():
        components.setdefault(part, {}).update(entries)
    return json.dumps(document, indent=2, ensure_ascii=False)
