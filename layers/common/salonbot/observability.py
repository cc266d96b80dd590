"""The one place that creates the Powertools Logger, Tracer and Metrics."""

from __future__ import annotations

from aws_lambda_powertools import Logger, Metrics, Tracer

SERVICE = "salonbot"
NAMESPACE = "Salonbot"

logger = Logger(service=SERVICE)
tracer = Tracer(service=SERVICE)
metrics = Metrics(namespace=NAMESPACE, service=SERVICE)


def mask_phone(phone: str | None) -> str:
    """+79001234567 -> +7900***4567: enough to correlate, not enough to call."""
    if not phone:
        return ""
    digits = phone.strip()
    if len(digits) <= 6:
        return "***"
    return f"{digits[:4]}***{digits[-4:]}"


def mask_secret(value: str | None) -> str:
    if not value:
        return ""
    return f"{value[:3]}***" if len(value) > 8 else "***"
