"""Who is calling the AI API, and may they: the claims of the token API Gateway verified.

API Gateway's JWT authorizer checks the signature, issuer, audience, expiry and the
route's `AuthorizationScopes` before the function runs, and passes the token's claims in
`requestContext.authorizer.jwt.claims` (every value a string: a list claim arrives as
`"[a b]"`). The function never sees a signature; it checks what only it can: that the
token is for the salon the request names, and (again, in case a route lost its scopes in
the template) the scope.

A token carries its salon in `salon_id`, or several in the list claim `salon_ids` (a
backend serving several salons), and its scopes in `scope` (space separated; `scp` is
read too, as API Gateway does). A route calls `require(claims, scope=..., salon_id=...)`
before it reads or changes anything."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from salonbot.errors import Forbidden, Unauthenticated

AI_READ = "ai:read"  # GET /api/v1/ai/stats
AI_WRITE = "ai:write"  # POST /api/v1/ai/process-message
AI_ADMIN = "ai:admin"  # erasure of a customer's data

SALON_CLAIM = "salon_id"
SALONS_CLAIM = "salon_ids"


@dataclass(frozen=True)
class Caller:
    subject: str | None
    salons: frozenset[uuid.UUID]
    scopes: frozenset[str]

    def may(self, scope: str) -> bool:
        return scope in self.scopes

    def serves(self, salon_id: uuid.UUID | str) -> bool:
        wanted = _uuid(str(salon_id))
        return wanted is not None and wanted in self.salons


def jwt_claims(event: Mapping[str, Any]) -> Mapping[str, Any] | None:
    """The verified claims of an HTTP API (payload 2.0) event; None without a JWT
    authorizer in front. `jwt.scopes`, where API Gateway sets it, joins the claims as
    the list claim `scopes`."""
    jwt = ((event.get("requestContext") or {}).get("authorizer") or {}).get("jwt") or {}
    claims = jwt.get("claims")
    if not isinstance(claims, Mapping) or not claims:
        return None
    scopes = jwt.get("scopes")
    return {**claims, "scopes": scopes} if isinstance(scopes, list) else claims


def caller(claims: Mapping[str, Any] | None) -> Caller:
    """The caller the claims describe; `Unauthenticated` without claims."""
    if not claims:
        raise Unauthenticated("no verified token")
    salons = {
        found
        for value in (*_values(claims.get(SALON_CLAIM)), *_values(claims.get(SALONS_CLAIM)))
        if (found := _uuid(value)) is not None
    }
    scopes = {
        *_values(claims.get("scope")),
        *_values(claims.get("scp")),
        *_values(claims.get("scopes")),
    }
    subject = claims.get("sub")
    return Caller(
        subject=str(subject) if subject is not None else None,
        salons=frozenset(salons),
        scopes=frozenset(scopes),
    )


def require(
    claims: Mapping[str, Any] | Caller | None,
    *,
    scope: str,
    salon_id: uuid.UUID | str | None = None,
) -> Caller:
    """The caller, if the token grants `scope` (and is for `salon_id` when given).

    Raises `Unauthenticated` without claims and `Forbidden` otherwise, with a message
    that names the scope wanted and never the salons the token is for."""
    who = claims if isinstance(claims, Caller) else caller(claims)
    if not who.may(scope):
        raise Forbidden(f"the token does not grant {scope}")
    if salon_id is not None and not who.serves(salon_id):
        raise Forbidden("the token is not for this salon")
    return who


def _values(claim: Any) -> list[str]:
    """A claim's values: a JSON list, API Gateway's `"[a b]"` for one, or a string of
    space- or comma-separated values."""
    if claim is None:
        return []
    if isinstance(claim, (list, tuple)):
        return [str(item).strip() for item in claim if str(item).strip()]
    text = str(claim).strip()
    if text.startswith("[") and text.endswith("]"):
        text = text[1:-1]
    parts = (part.strip("\"'") for part in text.replace(",", " ").split())
    return [part for part in parts if part]


def _uuid(value: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(value)
    except ValueError:
        return None
