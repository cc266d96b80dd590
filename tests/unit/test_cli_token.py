"""`salonbot token`: a token the local gateway accepts for template.yaml's AI API routes,
for one salon or several, with the scopes asked for and the lifetime asked for."""

from __future__ import annotations

import time
from pathlib import Path

import jwt
import pytest

from salonbot_dev.cli import main, tokens
from salonbot_dev.local.authorizers import JwtVerifier, Refusal, route_auth
from salonbot_dev.local.issuer import LocalIssuer
from salonbot_dev.local.template import Resolver, Template
from tests.conftest import REPO_ROOT

A = "3f0c1a52-0000-4000-8000-000000000001"
B = "3f0c1a52-0000-4000-8000-0000000000b1"


@pytest.fixture
def state(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setattr(tokens, "LOCAL_STATE_DIR", tmp_path)
    return tmp_path


def make(capsys: pytest.CaptureFixture[str], *args: str) -> str:
    assert main(["token", *args]) == 0
    return capsys.readouterr().out.strip()


def gateway_check(state: Path, route: str, value: str) -> dict[str, str]:
    """What the local gateway makes of the token on this route of template.yaml."""
    resolver = Resolver(Template.load(REPO_ROOT / "template.yaml"))
    events = resolver.template.function_properties("ApiFunction")["Events"]
    (properties,) = [
        e["Properties"]
        for e in events.values()
        if f"{e['Properties']['Method']} {e['Properties']['Path']}" == route
    ]
    auth = route_auth(resolver, properties)
    assert auth is not None
    verifier = JwtVerifier({auth.authorizer.issuer: LocalIssuer.in_folder(state).jwks()})
    return verifier.authorize(auth, {"authorization": f"Bearer {value}"}, {}).claims


def test_a_token_for_one_salon_passes_the_gateway(
    state: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    token = make(capsys, "--salon", A, "--scope", "ai:write")
    claims = gateway_check(state, "POST /api/v1/ai/process-message", token)
    assert claims["salon_id"] == A and claims["scope"] == "ai:write"
    assert (claims["iss"], claims["aud"]) == ("https://auth.example.com/", "salonbot-api")
    assert int(claims["exp"]) - int(claims["iat"]) == 3600
    # Without ai:read it does not open stats
    with pytest.raises(Refusal) as refused:
        gateway_check(state, "GET /api/v1/ai/stats", token)
    assert refused.value.status == 403


def test_several_salons_scopes_and_a_lifetime(
    state: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    token = make(
        capsys, "--salon", A, "--salon", B, "--scope", "ai:read", "--scope", "ai:write",
        "--expires-in", "60",
    )  # fmt: skip
    payload = jwt.decode(token, options={"verify_signature": False})
    assert payload["salon_ids"] == [A, B] and "salon_id" not in payload
    assert payload["scope"] == "ai:read ai:write"
    assert payload["exp"] - payload["iat"] == 60 and payload["exp"] > time.time()
    assert gateway_check(state, "GET /api/v1/ai/stats", token)["salon_ids"] == f"[{A} {B}]"


def test_the_key_is_kept_for_the_next_token(
    state: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    first = make(capsys, "--salon", A, "--scope", "ai:write")
    second = make(capsys, "--salon", A, "--scope", "ai:write")
    assert jwt.get_unverified_header(first)["kid"] == jwt.get_unverified_header(second)["kid"]
    assert list(state.iterdir()) == [state / "api-signing-key.pem"]


@pytest.mark.parametrize(
    "args",
    [
        ["--salon", "demo", "--scope", "ai:write"],
        ["--salon", A, "--scope", "ai:write", "--expires-in", "0"],
    ],
)
def test_bad_arguments_are_refused(
    state: Path, capsys: pytest.CaptureFixture[str], args: list[str]
) -> None:
    assert main(["token", *args]) == 2
    assert capsys.readouterr().err.startswith("error: --")
