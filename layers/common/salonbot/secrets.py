"""Secret values: a plain setting locally, Secrets Manager (cached) in AWS.

Every secret has two settings: `X` (the value, for local runs and tests) and `X_ARN`
or `X_SECRET_ARN` (where it lives in AWS). The value wins when both are set."""

from __future__ import annotations

import json

SECRET_MAX_AGE_S = 300


def resolve_secret(
    value: str | None, secret_id: str | None, *, key: str | None = None
) -> str | None:
    """The secret's value, or None when neither setting is present.

    With `key`, a JSON secret is read and that field returned (a plain-string secret is
    returned as is)."""
    if value:
        return value
    if not secret_id:
        return None
    from aws_lambda_powertools.utilities import parameters

    raw = parameters.get_secret(secret_id, max_age=SECRET_MAX_AGE_S)
    text = raw if isinstance(raw, str) else raw.decode()
    if key is None:
        return text
    try:
        data = json.loads(text)
    except ValueError:
        return text
    found = data.get(key) if isinstance(data, dict) else None
    return str(found) if found is not None else None
