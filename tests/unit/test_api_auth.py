"""The function's own check of the caller (`salonbot.api.auth`): claims as API Gateway
passes them (strings, a list as `"[a b]"`), the salon and the scope."""

from __future__ import annotations

import uuid

import pytest

from salonbot.api.auth import AI_ADMIN, AI_READ, AI_WRITE, caller, jwt_claims, require
from salonbot.errors import Forbidden, Unauthenticated

A = uuid.UUID("3f0c1a52-0000-4000-8000-00000000000a")
B = uuid.UUID("3f0c1a52-0000-4000-8000-00000000000b")


@pytest.mark.parametrize(
    ("claims", "salons"),
    [
        ({"salon_id": str(A)}, {A}),
        ({"salon_id": str(A).upper()}, {A}),
        ({"salon_ids": f"[{A} {B}]"}, {A, B}),  # API Gateway's form of a JSON list
        ({"salon_ids": [str(A), str(B)]}, {A, B}),  # a test event's, or a real list
        ({"salon_ids": f'["{A}","{B}"]'}, {A, B}),  # a list written as JSON text
        ({"salon_ids": f"{A},{B}"}, {A, B}),
        ({"salon_id": str(A), "salon_ids": f"[{B}]"}, {A, B}),
        ({"salon_id": "not-a-uuid", "salon_ids": "[]"}, set()),
        ({"sub": "backend"}, set()),
    ],
)
def test_the_salons_a_token_is_for(claims: dict[str, object], salons: set[uuid.UUID]) -> None:
    assert caller(claims).salons == salons


@pytest.mark.parametrize(
    ("claims", "scopes"),
    [
        ({"scope": "ai:write ai:read"}, {AI_WRITE, AI_READ}),
        ({"scp": "[ai:admin]"}, {AI_ADMIN}),
        ({"scope": "openid", "scopes": [AI_READ]}, {"openid", AI_READ}),
        ({"sub": "x"}, set()),
    ],
)
def test_the_scopes_a_token_grants(claims: dict[str, object], scopes: set[str]) -> None:
    assert caller(claims).scopes == scopes


def test_require_passes_the_right_scope_for_the_right_salon() -> None:
    who = require({"salon_id": str(A), "scope": AI_WRITE, "sub": "b"}, scope=AI_WRITE, salon_id=A)
    assert who.subject == "b" and who.serves(str(A))


def test_another_salon_is_forbidden_without_naming_any() -> None:
    with pytest.raises(Forbidden) as refused:
        require({"salon_ids": f"[{A}]", "scope": AI_READ}, scope=AI_READ, salon_id=B)
    assert str(refused.value) == "the token is not for this salon"
    assert str(A) not in str(refused.value) and str(B) not in str(refused.value)


def test_a_missing_scope_is_forbidden_even_for_the_salon() -> None:
    with pytest.raises(Forbidden, match="does not grant ai:admin"):
        require({"salon_id": str(A), "scope": "ai:write ai:read"}, scope=AI_ADMIN, salon_id=A)
    # a scope is a whole word, not a prefix
    with pytest.raises(Forbidden):
        require({"salon_id": str(A), "scope": "ai:writer"}, scope=AI_WRITE, salon_id=A)


@pytest.mark.parametrize("claims", [None, {}])
def test_no_claims_is_unauthenticated(claims: dict[str, object] | None) -> None:
    with pytest.raises(Unauthenticated):
        require(claims, scope=AI_READ, salon_id=A)


def test_claims_come_from_the_jwt_authorizer_context() -> None:
    event = {"requestContext": {"authorizer": {"jwt": {"claims": {"salon_id": str(A)}}}}}
    assert jwt_claims(event) == {"salon_id": str(A)}
    scoped = {
        "requestContext": {"authorizer": {"jwt": {"claims": {"sub": "x"}, "scopes": [AI_READ]}}}
    }
    assert caller(jwt_claims(scoped)).scopes == {AI_READ}
    # A Lambda authorizer's context or none at all is not a verified JWT
    assert jwt_claims({"requestContext": {"authorizer": {"lambda": {"salon_id": str(A)}}}}) is None
    assert jwt_claims({"requestContext": {}}) is None
    assert jwt_claims({}) is None
