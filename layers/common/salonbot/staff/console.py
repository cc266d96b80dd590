"""The console's pages (`/console/...`): placeholder until the pages land."""

from __future__ import annotations

from aws_lambda_powertools.event_handler.api_gateway import Router

router = Router()  # type: ignore[no-untyped-call]
