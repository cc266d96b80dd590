"""The local gateway's authorizers: read from a template as SAM defines them, and each
token checked as API Gateway's JWT authorizer checks it (signature, kid, issuer,
audience, expiry, not-before, the route's scopes), with API Gateway's refusals."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from salonbot_dev.local.authorizers import (
    JwtAuthorizer,
    JwtVerifier,
    Refusal,
    RouteAuth,
    authorizers_under,
    route_auth,
)
from salonbot_dev.local.functions import HttpRoute
from salonbot_dev.local.gateway import Gateway
from salonbot_dev.local.http_api import Request
from salonbot_dev.local.issuer import LocalIssuer
from salonbot_dev.local.template import Resolver, Template, TemplateError, load_yaml

ISSUER = "https://auth.example.com/"
AUDIENCE = "salonbot-api"
NOW = 1_800_000_000.0

TEMPLATE = """
Parameters:
  Issuer: {Type: String, Default: "https://auth.example.com/"}
Resources:
  Api:
    Type: AWS::Serverless::HttpApi
    Properties:
      Auth:
        DefaultAuthorizer: Backend
        Authorizers:
          Backend:
            IdentitySource: $request.header.Authorization
            JwtConfiguration: {issuer: !Ref Issuer, audience: [salonbot-api, other-api]}
          Staff:
            JwtConfiguration: {issuer: "https://staff.example.com/", audience: [console]}
            AuthorizationScopes: [staff]
          Custom:
            FunctionArn: arn:aws:lambda:eu-west-1:123456789012:function:auth
  Fn:
    Type: AWS::Serverless::Function
    Properties:
      Events:
        Open: {Type: HttpApi, Properties: {ApiId: !Ref Api, Path: /open, Method: GET,
               Auth: {Authorizer: NONE}}}
        Default: {Type: HttpApi, Properties: {ApiId: !Ref Api, Path: /api/v1/ai/x, Method: GET}}
        Scoped: {Type: HttpApi, Properties: {ApiId: !Ref Api, Path: /api/v1/ai/y, Method: POST,
                 Auth: {AuthorizationScopes: [ai:write, ai:admin]}}}
        Staff: {Type: HttpApi, Properties: {ApiId: !Ref Api, Path: /staff, Method: GET,
                Auth: {Authorizer: Staff}}}
        Custom: {Type: HttpApi, Properties: {ApiId: !Ref Api, Path: /custom, Method: GET,
                 Auth: {Authorizer: Custom}}}
        Implicit: {Type: HttpApi, Properties: {Path: /implicit, Method: GET}}
"""


@pytest.fixture(scope="module")
def resolver() -> Resolver:
    return Resolver(Template(load_yaml(TEMPLATE)))


def event_properties(resolver: Resolver, name: str) -> dict[str, Any]:
    properties: dict[str, Any] = resolver.template.resources["Fn"]["Properties"]["Events"][name][
        "Properties"
    ]
    return properties


def test_routes_get_the_templates_authorizers(resolver: Resolver) -> None:
    backend = JwtAuthorizer("Backend", ISSUER, (AUDIENCE, "other-api"))
    assert route_auth(resolver, event_properties(resolver, "Open")) is None
    assert route_auth(resolver, event_properties(resolver, "Default")) == RouteAuth(backend)
    assert route_auth(resolver, event_properties(resolver, "Scoped")) == RouteAuth(
        backend, ("ai:write", "ai:admin")
    )
    # An authorizer's own AuthorizationScopes are its routes' default
    staff = route_auth(resolver, event_properties(resolver, "Staff"))
    assert staff is not None and staff.scopes == ("staff",)
    assert staff.authorizer.issuer == "https://staff.example.com/"
    # SAM's implicit API without Globals.HttpApi.Auth: open
    assert route_auth(resolver, event_properties(resolver, "Implicit")) is None
    assert set(authorizers_under(resolver, "/api/v1/ai/")) == {"Backend"}


def test_an_authorizer_the_gateway_cannot_enforce_fails_the_start(resolver: Resolver) -> None:
    with pytest.raises(TemplateError, match="only JWT authorizers"):
        route_auth(resolver, event_properties(resolver, "Custom"))
    with pytest.raises(TemplateError, match="does not define"):
        route_auth(resolver, {"ApiId": {"Ref": "Api"}, "Auth": {"Authorizer": "Nope"}})


@pytest.fixture(scope="module")
def issuer(tmp_path_factory: pytest.TempPathFactory) -> LocalIssuer:
    return LocalIssuer.in_folder(tmp_path_factory.mktemp("keys"))


@pytest.fixture(scope="module")
def verifier(issuer: LocalIssuer) -> JwtVerifier:
    return JwtVerifier({ISSUER: issuer.jwks()}, clock=lambda: NOW)


BACKEND = JwtAuthorizer("Backend", ISSUER, (AUDIENCE, "other-api"))
WRITE = RouteAuth(BACKEND, ("ai:write",))


def token(signer: LocalIssuer, **changes: Any) -> str:
    options: dict[str, Any] = {
        "issuer": ISSUER,
        "audience": AUDIENCE,
        "salons": ["3f0c1a52-0000-4000-8000-000000000001"],
        "scopes": ["ai:write", "ai:read"],
        "now": NOW - 10,
    }
    options.update(changes)
    return signer.issue(**options)


def authorize(verifier: JwtVerifier, value: str | None, auth: RouteAuth = WRITE) -> Any:
    headers = {} if value is None else {"Authorization": value}
    return verifier.authorize(auth, headers, {})


def test_a_valid_token_passes_with_its_claims_as_api_gateway_gives_them(
    issuer: LocalIssuer, verifier: JwtVerifier
) -> None:
    granted = authorize(verifier, "Bearer " + token(issuer, extra={"flag": True}))
    claims = granted.claims
    assert claims["salon_id"] == "3f0c1a52-0000-4000-8000-000000000001"
    assert claims["scope"] == "ai:write ai:read"
    assert claims["iat"] == str(int(NOW - 10)) and claims["flag"] == "true"
    assert granted.scopes == ["ai:write", "ai:read"]
    # Several salons: a list claim, passed on as "[a b]"
    several = authorize(verifier, token(issuer, salons=["a", "b"]))  # no "Bearer ": also fine
    assert several.claims["salon_ids"] == "[a b]"
    # A route without scopes: any valid token, and `scopes` stays null
    assert authorize(verifier, token(issuer, scopes=[]), RouteAuth(BACKEND)).scopes is None


def refusal(verifier: JwtVerifier, value: str | None, auth: RouteAuth = WRITE) -> Refusal:
    with pytest.raises(Refusal) as refused:
        authorize(verifier, value, auth)
    return refused.value


def test_no_token_is_401(verifier: JwtVerifier) -> None:
    for value in (None, "", "Bearer ", "Bearer not-a-jwt"):
        assert refusal(verifier, value).status == 401


def test_expired_or_not_yet_valid_tokens_are_401(
    issuer: LocalIssuer, verifier: JwtVerifier
) -> None:
    expired = refusal(verifier, token(issuer, now=NOW - 3600, expires_in_s=3600))
    assert (expired.status, expired.description) == (401, "the token has expired")
    assert 'error="invalid_token"' in expired.www_authenticate
    assert refusal(verifier, token(issuer, now=NOW + 60)).status == 401  # iat in the future
    early = token(issuer, extra={"nbf": int(NOW + 60)})
    assert refusal(verifier, early).description == "the token is not valid yet"
    assert refusal(verifier, token(issuer, extra={"exp": "soon"})).status == 401


def test_a_token_without_exp_is_401(issuer: LocalIssuer, verifier: JwtVerifier) -> None:
    claims = {"iss": ISSUER, "aud": AUDIENCE, "scope": "ai:write"}
    unsigned = jwt.encode(claims, issuer.private_key, "RS256", headers={"kid": issuer.key_id})
    assert refusal(verifier, unsigned).status == 401


def test_a_bad_signature_is_401(issuer: LocalIssuer, verifier: JwtVerifier) -> None:
    # Signed by another key that claims the issuer's kid
    stranger = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    claims = jwt.decode(token(issuer), options={"verify_signature": False})
    forged = jwt.encode(claims, stranger, "RS256", headers={"kid": issuer.key_id})
    assert refusal(verifier, forged).description == "the token's signature does not verify"
    # Its payload changed after signing
    head, _, signature = token(issuer).split(".")
    other = token(issuer, salons=["3f0c1a52-0000-4000-8000-0000000000b1"]).split(".")[1]
    assert refusal(verifier, f"{head}.{other}.{signature}").status == 401
    # A shared-secret token, or one with an unknown kid
    hs = jwt.encode(claims, "secret" * 8, "HS256", headers={"kid": issuer.key_id})
    assert refusal(verifier, hs).status == 401
    unknown = jwt.encode(claims, issuer.private_key, "RS256", headers={"kid": "other"})
    assert refusal(verifier, unknown).description == "no key of the issuer has the token's kid"


def test_wrong_audience_or_issuer_is_401(issuer: LocalIssuer, verifier: JwtVerifier) -> None:
    assert refusal(verifier, token(issuer, audience="someone-else")).status == 401
    assert authorize(verifier, token(issuer, audience="other-api")).claims["aud"] == "other-api"
    elsewhere = refusal(verifier, token(issuer, issuer="https://evil.example.com/"))
    assert elsewhere.description == "the token's issuer is not the authorizer's"
    # Without aud, client_id is the audience (API Gateway's rule)
    no_aud = jwt.decode(token(issuer), options={"verify_signature": False})
    del no_aud["aud"]
    for client_id, status in ((AUDIENCE, None), ("someone-else", 401)):
        signed = jwt.encode(
            {**no_aud, "client_id": client_id},
            issuer.private_key,
            "RS256",
            headers={"kid": issuer.key_id},
        )
        if status is None:
            assert authorize(verifier, signed).claims["client_id"] == AUDIENCE
        else:
            assert refusal(verifier, signed).status == status


def test_a_token_without_any_of_the_routes_scopes_is_403(
    issuer: LocalIssuer, verifier: JwtVerifier
) -> None:
    read_only = refusal(verifier, token(issuer, scopes=["ai:read"]))
    assert (read_only.status, read_only.message) == (403, "Forbidden")
    assert 'error="insufficient_scope"' in read_only.www_authenticate
    # Any one of the route's scopes is enough; `scp` counts as `scope`
    both = RouteAuth(BACKEND, ("ai:write", "ai:admin"))
    assert authorize(verifier, token(issuer, scopes=["ai:admin"]), both)
    scp = token(issuer, scopes=[], extra={"scp": ["ai:write"]})
    assert authorize(verifier, scp).scopes == ["ai:write"]


def test_an_issuer_without_keys_refuses_everything(issuer: LocalIssuer) -> None:
    verifier = JwtVerifier({}, clock=lambda: NOW)
    assert refusal(verifier, token(issuer)).description == "the issuer's keys are unknown"


def test_the_issuers_key_is_made_once_and_kept(tmp_path: Path) -> None:
    first = LocalIssuer.in_folder(tmp_path)
    again = LocalIssuer.in_folder(tmp_path)
    assert first.key_id == again.key_id
    assert (tmp_path / "api-signing-key.pem").stat().st_mode & 0o077 == 0
    assert first.jwks()["keys"][0]["kid"] == first.key_id
    assert "d" not in first.jwks()["keys"][0]  # the public half only


class Recorder:
    """A function behind a route: records the events it gets."""

    def __init__(self, route: HttpRoute) -> None:
        self.events: list[dict[str, Any]] = []
        self.name = "Fn"
        self.spec = type("Spec", (), {"routes": [route]})()

    def invoke(self, event: dict[str, Any]) -> dict[str, Any]:
        self.events.append(event)
        return {"statusCode": 200, "body": "ok"}


def test_the_gateway_refuses_before_the_function_and_passes_the_claims(
    issuer: LocalIssuer, verifier: JwtVerifier
) -> None:
    function = Recorder(HttpRoute("POST", "/api/v1/ai/y", auth=WRITE))
    gateway = Gateway([function], verifier=verifier)

    def call(headers: list[tuple[str, str]]) -> Any:
        return gateway.handle(Request("POST", "/api/v1/ai/y", headers, b"{}"))

    refused = call([])
    assert (refused.status, refused.body) == (401, b'{"message": "Unauthorized"}')
    forbidden = call([("Authorization", "Bearer " + token(issuer, scopes=["ai:read"]))])
    assert (forbidden.status, forbidden.body) == (403, b'{"message": "Forbidden"}')
    assert function.events == []
    passed = call([("authorization", "Bearer " + token(issuer))])
    assert passed.status == 200
    (event,) = function.events
    jwt_context = event["requestContext"]["authorizer"]["jwt"]
    assert jwt_context["claims"]["salon_id"] == "3f0c1a52-0000-4000-8000-000000000001"
    assert jwt_context["scopes"] == ["ai:write", "ai:read"]


def test_the_gateway_without_keys_refuses_protected_routes_only() -> None:
    protected = Recorder(HttpRoute("GET", "/p", auth=RouteAuth(BACKEND)))
    gateway = Gateway([protected])
    assert gateway.handle(Request("GET", "/p", [], b"")).status == 401
    open_route = Recorder(HttpRoute("GET", "/o"))
    assert Gateway([open_route]).handle(Request("GET", "/o", [], b"")).status == 200
    assert "authorizer" not in open_route.events[0]["requestContext"]


def test_a_real_clock_rejects_an_expired_token(issuer: LocalIssuer) -> None:
    verifier = JwtVerifier({ISSUER: issuer.jwks()})
    stale = token(issuer, now=time.time() - 7200, expires_in_s=3600)
    assert refusal(verifier, stale).status == 401
