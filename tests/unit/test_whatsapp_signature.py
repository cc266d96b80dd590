"""X-Hub-Signature-256: HMAC-SHA256 of the raw body with the app secret."""

from __future__ import annotations

import hashlib
import hmac

from hypothesis import given
from hypothesis import strategies as st

from salonbot.whatsapp.signature import is_valid_signature, sign
from salonbot_dev.fakes import customer

BODY = '{"object":"whatsapp_business_account","entry":[{"text":"Привет"}]}'.encode()


def test_signature_is_hmac_sha256_hex_of_the_raw_body() -> None:
    expected = hmac.new(b"secret", BODY, hashlib.sha256).hexdigest()
    assert sign(BODY, "secret") == f"sha256={expected}"
    # the local customer's phone signs the same way
    assert customer.sign(BODY, "secret") == sign(BODY, "secret")


def test_meta_signature_is_accepted() -> None:
    assert is_valid_signature(BODY, sign(BODY, "secret"), "secret")
    # hex case and surrounding spaces do not matter
    assert is_valid_signature(BODY, "  " + sign(BODY, "secret").upper() + " ", "secret")


def test_wrong_secret_tampered_body_and_malformed_headers_are_refused() -> None:
    good = sign(BODY, "secret")
    assert not is_valid_signature(BODY, sign(BODY, "other"), "secret")
    assert not is_valid_signature(BODY + b" ", good, "secret")
    assert not is_valid_signature(BODY.replace(b"\xd0", b"\xd1", 1), good, "secret")
    for header in (None, "", "sha256=", good.removeprefix("sha256="), "sha1=" + good[7:]):
        assert not is_valid_signature(BODY, header, "secret"), header
    assert not is_valid_signature(BODY, good[:-1], "secret")
    assert not is_valid_signature(BODY, good + "0", "secret")
    assert not is_valid_signature(BODY, "sha256=" + "é" * 64, "secret")


def test_an_empty_app_secret_validates_nothing() -> None:
    assert not is_valid_signature(BODY, sign(BODY, ""), "")


@given(st.binary(max_size=2048), st.text(min_size=1, max_size=40))
def test_every_body_verifies_with_its_own_signature_only(body: bytes, secret: str) -> None:
    header = sign(body, secret)
    assert is_valid_signature(body, header, secret)
    assert not is_valid_signature(body + b"x", header, secret)
    assert not is_valid_signature(body, header, secret + "x")


@given(st.binary(max_size=512), st.text(max_size=80))
def test_no_header_string_crashes_the_check(body: bytes, header: str) -> None:
    assert is_valid_signature(body, header, "secret") is (
        header.strip().lower() == sign(body, "secret")
    )
