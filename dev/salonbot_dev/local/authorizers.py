"""The template's HTTP API authorizers, enforced by the local gateway as API Gateway
enforces them, so a request refused in AWS is refused locally too.

Which routes are protected, by which authorizer and with which scopes is read from the
template (SAM's `Auth` of each `HttpApi` event over its API's `DefaultAuthorizer` and
`Authorizers`), never configured here. A JWT authorizer's check follows API Gateway's:
the token from the identity source (with or without `Bearer `), an RSA signature by a
key of the issuer's key set found by `kid`, `iss` equal to the authorizer's issuer, `aud`
(or `client_id` when there is no `aud`) one of its audiences, `exp` after now, `nbf` and
`iat` before now, and at least one of the route's scopes in `scope` or `scp`. A refusal is
API Gateway's: 401 `{"message": "Unauthorized"}` or, for a missing scope, 403
`{"message": "Forbidden"}`, with a `WWW-Authenticate` header saying why. The function
then gets the claims as API Gateway passes them: every value a string, a list as
`"[a b]"`."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import jwt

from salonbot_dev.local.template import Resolver, TemplateError

log = logging.getLogger("salonbot_dev.local.authorizers")

HTTP_API = "AWS::Serverless::HttpApi"
DEFAULT_IDENTITY_SOURCE = "$request.header.Authorization"
# API Gateway verifies RSA signatures only.
RSA_ALGORITHMS = ("RS256", "RS384", "RS512")


@dataclass(frozen=True)
class JwtAuthorizer:
    name: str
    issuer: str
    audience: tuple[str, ...]
    identity_source: str = DEFAULT_IDENTITY_SOURCE


@dataclass(frozen=True)
class RouteAuth:
    """A protected route: its authorizer and the scopes it asks for (any one suffices)."""

    authorizer: JwtAuthorizer
    scopes: tuple[str, ...] = ()


class Refusal(Exception):
    """What API Gateway answers instead of invoking the route's function."""

    def __init__(self, status: int, description: str, *, scope: str = "") -> None:
        super().__init__(description)
        self.status = status
        self.description = description
        self.scope = scope

    @property
    def message(self) -> str:
        return "Unauthorized" if self.status == 401 else "Forbidden"

    @property
    def www_authenticate(self) -> str:
        error = "invalid_token" if self.status == 401 else "insufficient_scope"
        return (
            f'Bearer scope="{self.scope}" error="{error}" '
            f'error_description="{self.description.replace(chr(34), chr(39))}"'
        )


@dataclass(frozen=True)
class Authorized:
    """The authorizer context of the event: `requestContext.authorizer`."""

    claims: dict[str, str]
    scopes: list[str] | None

    def context(self) -> dict[str, Any]:
        return {"jwt": {"claims": self.claims, "scopes": self.scopes}}


# -- the template -----------------------------------------------------------------------


def route_auth(resolver: Resolver, event_properties: Mapping[str, Any]) -> RouteAuth | None:
    """The authorizer of one `HttpApi` event (its Properties as written, unresolved), or
    None for an open route."""
    api = _api_auth(resolver, event_properties.get("ApiId"))
    auth = resolver.resolve(event_properties.get("Auth") or {})
    name = auth.get("Authorizer", api.get("DefaultAuthorizer"))
    if name is None or name == "NONE":
        return None
    if name == "AWS_IAM":
        raise TemplateError("IAM authorization of HTTP API routes is not enforced locally")
    spec = (api.get("Authorizers") or {}).get(name)
    if not isinstance(spec, Mapping):
        raise TemplateError(f"a route uses the authorizer {name}, which its API does not define")
    configuration = spec.get("JwtConfiguration")
    if not isinstance(configuration, Mapping):
        raise TemplateError(f"authorizer {name}: only JWT authorizers are enforced locally")
    audience = configuration.get("audience") or []
    authorizer = JwtAuthorizer(
        name=str(name),
        issuer=str(configuration.get("issuer") or ""),
        audience=tuple(str(a) for a in (audience if isinstance(audience, list) else [audience])),
        identity_source=str(spec.get("IdentitySource") or DEFAULT_IDENTITY_SOURCE),
    )
    scopes = auth.get("AuthorizationScopes", spec.get("AuthorizationScopes")) or []
    return RouteAuth(authorizer, tuple(str(s) for s in scopes))


def _api_auth(resolver: Resolver, api_id: Any) -> dict[str, Any]:
    """The resolved `Auth` of the route's API: the `HttpApi` resource `ApiId` refers to,
    or SAM's implicit API (`Globals.HttpApi`) without one."""
    if api_id is None:
        implicit = (resolver.template.body.get("Globals") or {}).get("HttpApi") or {}
        return dict(resolver.resolve(implicit.get("Auth") or {}))
    if not (isinstance(api_id, Mapping) and set(api_id) == {"Ref"}):
        raise TemplateError(f"an HttpApi event's ApiId must be a !Ref to the API, not {api_id}")
    resource = resolver.template.resources.get(str(api_id["Ref"])) or {}
    if resource.get("Type") != HTTP_API:
        raise TemplateError(f"an HttpApi event's ApiId {api_id['Ref']} is not an {HTTP_API}")
    return dict(resolver.resolve((resource.get("Properties") or {}).get("Auth") or {}))


def authorizers_under(resolver: Resolver, path_prefix: str) -> dict[str, JwtAuthorizer]:
    """The JWT authorizers protecting the template's routes whose path starts with
    `path_prefix`, by name."""
    found: dict[str, JwtAuthorizer] = {}
    for resource in resolver.template.resources_of_type("AWS::Serverless::Function").values():
        for event in ((resource.get("Properties") or {}).get("Events") or {}).values():
            properties = event.get("Properties") or {}
            if event.get("Type") != "HttpApi":
                continue
            if not str(resolver.resolve(properties.get("Path", ""))).startswith(path_prefix):
                continue
            auth = route_auth(resolver, properties)
            if auth is not None:
                found[auth.authorizer.name] = auth.authorizer
    return found


# -- requests ---------------------------------------------------------------------------


class JwtVerifier:
    """Checks tokens as API Gateway's JWT authorizers do, against the key sets (JWKS
    documents) of the issuers it knows."""

    def __init__(
        self,
        key_sets: Mapping[str, Mapping[str, Any]],
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._keys = {
            issuer: jwt.PyJWKSet.from_dict(dict(keys)) for issuer, keys in key_sets.items()
        }
        self._documents = {issuer: dict(keys) for issuer, keys in key_sets.items()}
        self._clock = clock

    def key_set(self, issuer: str) -> dict[str, Any] | None:
        return self._documents.get(issuer)

    def authorize(
        self,
        auth: RouteAuth,
        headers: Mapping[str, str],
        query: Mapping[str, str],
    ) -> Authorized:
        """The authorizer context for the event; `Refusal` when API Gateway would refuse."""
        token = _identity(auth.authorizer.identity_source, headers, query)
        claims = self._verified(auth.authorizer, token)
        granted = _scopes(claims)
        if auth.scopes and not set(auth.scopes) & set(granted):
            raise Refusal(
                403,
                "the token has none of the route's scopes",
                scope=" ".join(auth.scopes),
            )
        return Authorized(
            claims={name: _claim_text(value) for name, value in claims.items()},
            scopes=granted if auth.scopes else None,
        )

    def _verified(self, authorizer: JwtAuthorizer, token: str) -> dict[str, Any]:
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError:
            raise Refusal(401, "the token is not a JWT") from None
        algorithm = header.get("alg")
        if algorithm not in RSA_ALGORITHMS:
            raise Refusal(401, f"the token's algorithm {algorithm} is not RSA")
        keys = self._keys.get(authorizer.issuer)
        if keys is None:
            log.warning(
                "no key set for issuer %s (authorizer %s)", authorizer.issuer, authorizer.name
            )
            raise Refusal(401, "the issuer's keys are unknown")
        kid = header.get("kid")
        key = next((k for k in keys.keys if kid is not None and k.key_id == kid), None)
        if key is None:
            raise Refusal(401, "no key of the issuer has the token's kid")
        try:
            # The times are checked below, on the gateway's clock (a test's, maybe).
            claims: dict[str, Any] = jwt.decode(
                token,
                key.key,
                algorithms=[str(algorithm)],
                issuer=authorizer.issuer,
                options={
                    "require": ["exp"],
                    "verify_aud": False,
                    "verify_exp": False,
                    "verify_nbf": False,
                    "verify_iat": False,
                },
            )
        except jwt.InvalidIssuerError:
            raise Refusal(401, "the token's issuer is not the authorizer's") from None
        except jwt.InvalidSignatureError:
            raise Refusal(401, "the token's signature does not verify") from None
        except jwt.PyJWTError as exc:
            raise Refusal(401, f"the token is invalid: {exc}") from None
        now = self._clock()
        if _time(claims, "exp") <= now:
            raise Refusal(401, "the token has expired")
        if any(name in claims and _time(claims, name) > now for name in ("nbf", "iat")):
            raise Refusal(401, "the token is not valid yet")
        audiences = claims.get("aud", claims.get("client_id"))
        given = audiences if isinstance(audiences, list) else [audiences]
        if not set(map(str, given)) & set(authorizer.audience):
            raise Refusal(401, "the token's audience is not the authorizer's")
        return claims


def _identity(source: str, headers: Mapping[str, str], query: Mapping[str, str]) -> str:
    kind, _, name = source.removeprefix("$request.").partition(".")
    if kind == "header":
        value = next((v for k, v in headers.items() if k.lower() == name.lower()), "")
    elif kind == "querystring":
        value = query.get(name, "")
    else:
        raise TemplateError(f"identity source {source} is not enforced locally")
    value = value.strip()
    if value[:7].lower() == "bearer ":
        value = value[7:].strip()
    if not value:
        raise Refusal(401, "no token")
    return value


def _time(claims: Mapping[str, Any], name: str) -> float:
    value = claims[name]
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise Refusal(401, f"the token's {name} is not a number")
    return float(value)


def _scopes(claims: Mapping[str, Any]) -> list[str]:
    found: dict[str, None] = {}
    for name in ("scope", "scp"):
        value = claims.get(name)
        items = value if isinstance(value, list) else str(value or "").split()
        found.update(dict.fromkeys(str(item) for item in items))
    return list(found)


def _claim_text(value: Any) -> str:
    """A claim as API Gateway passes it to the function: always a string."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return "[" + " ".join(_claim_text(item) for item in value) + "]"
    if isinstance(value, dict):
        return json.dumps(value, separators=(",", ":"))
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)
