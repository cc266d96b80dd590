"""The AI HTTP API behind `ApiFunction`: health, process-message and stats.

`salonbot.api.routes.app` is the Powertools resolver the handler calls;
`openapi_schema()` is its OpenAPI document (also `salonbot openapi`)."""

from __future__ import annotations


def openapi_schema() -> str:
    """The API's OpenAPI 3 document as JSON."""
    from salonbot.api.routes import app

    return app.get_openapi_json_schema(title="salonbot AI API", version="1.0.0")
