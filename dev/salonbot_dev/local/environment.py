"""The environment the handlers see locally: the template's function variables (resolved
against the local resources), with the local addresses and secrets in place.

All functions share one process locally, so their variables are merged; a name two
functions set differently is reported. Settings the user exported win over the template
(`LOG_LEVEL`, `OPENAI_MODEL`, ...), except the addresses of resources the stack created."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from salonbot.config import Settings

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping

    from salonbot_dev.local.functions import FunctionSpec

log = logging.getLogger("salonbot_dev.local")

# Documented local secrets: `salonbot chat` signs with the app secret, Meta's webhook
# verification (GET /webhook) is answered for the verify token.
LOCAL_APP_SECRET = "salonbot-local-app-secret"
LOCAL_VERIFY_TOKEN = "salonbot-local-verify-token"
LOCAL_ACCESS_TOKEN = "salonbot-local-access-token"
LOCAL_SECRETS = {
    "WHATSAPP_APP_SECRET": LOCAL_APP_SECRET,
    "WHATSAPP_VERIFY_TOKEN": LOCAL_VERIFY_TOKEN,
    "WHATSAPP_ACCESS_TOKEN": LOCAL_ACCESS_TOKEN,
}
# A secret's value setting and the setting that says where it lives in AWS. Locally the
# value is set (it wins, see salonbot.secrets); with no local value the pointer is
# removed, so the code sees the secret as not configured (no OpenAI key: guided flow).
SECRET_POINTERS = {
    "WHATSAPP_APP_SECRET": "WHATSAPP_APP_SECRET_ARN",
    "WHATSAPP_VERIFY_TOKEN": "WHATSAPP_VERIFY_TOKEN_ARN",
    "WHATSAPP_ACCESS_TOKEN": "WHATSAPP_ACCESS_TOKEN_SECRET_ARN",
    "OPENAI_API_KEY": "OPENAI_API_KEY_SECRET_ARN",
    "SLACK_WEBHOOK_URL": "SLACK_WEBHOOK_SECRET_ARN",
    "DATABASE_URL": "DB_SECRET_ARN",
}
# Quiet by default: handler logs and EMF metrics would drown the conversation the stack
# prints. `LOG_LEVEL=INFO make dev` shows them.
LOCAL_DEFAULTS = {
    "LOG_LEVEL": "WARNING",
    "POWERTOOLS_LOG_LEVEL": "WARNING",
    "POWERTOOLS_METRICS_DISABLED": "true",
    "POWERTOOLS_TRACE_DISABLED": "true",
    "POWERTOOLS_DEV": "false",
}
_SETTING_NAMES = {name.upper() for name in Settings.model_fields}


MASKED = "***"


def public_settings(variables: Mapping[str, str]) -> dict[str, str]:
    """The handlers' settings as `.local/stack.json` records them: secret values masked
    (the local app secret and verify token are there in clear already, as documented)."""
    return {
        name: MASKED if name in SECRET_POINTERS and name != "DATABASE_URL" else value
        for name, value in sorted(variables.items())
        if name in _SETTING_NAMES
    }


def merged_function_environment(functions: Iterable[FunctionSpec]) -> dict[str, str]:
    merged: dict[str, str] = {}
    for function in functions:
        for name, value in function.environment.items():
            if name in merged and merged[name] != value:
                log.warning(
                    "%s sets %s differently from another function; using %r",
                    function.logical_id,
                    name,
                    merged[name],
                )
                continue
            merged[name] = value
    return merged


def handler_environment(
    functions: Iterable[FunctionSpec],
    *,
    local: Mapping[str, str],
    user: Mapping[str, str],
    created: Iterable[str] = (),
) -> tuple[dict[str, str], set[str]]:
    """(variables to set, variables to remove) for the handlers.

    `local`: the stack's addresses (DATABASE_URL, AWS_ENDPOINT_URL, ...); `user`: the
    environment `salonbot local` was started with; `created`: physical ids of the
    resources the stack made (variables holding them are never taken from `user`)."""
    template = merged_function_environment(functions)
    created_ids = set(created)
    result = dict(template)
    for name, value in LOCAL_DEFAULTS.items():
        result.setdefault(name, value)
        if name in ("LOG_LEVEL", "POWERTOOLS_LOG_LEVEL"):
            result[name] = user.get("LOG_LEVEL") or value
    result.update(local)
    for name, value in user.items():
        if name in _SETTING_NAMES and value and name not in local:
            if template.get(name) in created_ids:
                continue
            result[name] = value
    removed: set[str] = set()
    for value_name, pointer in SECRET_POINTERS.items():
        secret = user.get(value_name) or local.get(value_name) or LOCAL_SECRETS.get(value_name)
        if secret:
            result[value_name] = secret
        else:
            removed.add(pointer)
            result.pop(pointer, None)
            result.pop(value_name, None)
    return result, removed
