"""The local stack's token issuer for the AI API: an RSA key pair made on first use and
kept in the state folder (`api-signing-key.pem`, owner-only), so tokens made by
`salonbot token` stay valid across restarts. The gateway verifies with its public half
(also served as a JWKS at `/_local/jwks.json`); the issuer and audience a token names are
the template's authorizer's, so the template stays the one definition."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import time
import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

if TYPE_CHECKING:
    from collections.abc import Iterable
    from pathlib import Path

KEY_FILE = "api-signing-key.pem"
ALGORITHM = "RS256"
DEFAULT_LIFETIME_S = 3600
SUBJECT = "local-backend"


@dataclass(frozen=True)
class LocalIssuer:
    private_key: rsa.RSAPrivateKey

    @classmethod
    def in_folder(cls, state_dir: Path) -> LocalIssuer:
        """The folder's key pair, made there first if it has none (two processes racing
        to make it both end up with the one that was written first)."""
        path = state_dir / KEY_FILE
        if not path.exists():
            state_dir.mkdir(parents=True, exist_ok=True)
            key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
            pem = key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
            with contextlib.suppress(FileExistsError):
                descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
                with os.fdopen(descriptor, "wb") as out:
                    out.write(pem)
        loaded = serialization.load_pem_private_key(path.read_bytes(), password=None)
        if not isinstance(loaded, rsa.RSAPrivateKey):
            raise ValueError(f"{path} does not hold an RSA private key")
        return cls(loaded)

    @property
    def public_jwk(self) -> dict[str, Any]:
        jwk: dict[str, Any] = json.loads(
            jwt.algorithms.RSAAlgorithm.to_jwk(self.private_key.public_key())
        )
        jwk.update({"kid": self.key_id, "use": "sig", "alg": ALGORITHM})
        return jwk

    @property
    def key_id(self) -> str:
        """A digest of the public key: stable for the key, new for a new one."""
        der = self.private_key.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        return hashlib.sha256(der).hexdigest()[:16]

    def jwks(self) -> dict[str, Any]:
        return {"keys": [self.public_jwk]}

    def issue(
        self,
        *,
        issuer: str,
        audience: str,
        salons: Iterable[uuid.UUID | str],
        scopes: Iterable[str],
        expires_in_s: int = DEFAULT_LIFETIME_S,
        subject: str = SUBJECT,
        now: float | None = None,
        extra: dict[str, Any] | None = None,
    ) -> str:
        """A signed token: one salon as `salon_id`, several as the list `salon_ids`."""
        issued = int(time.time() if now is None else now)
        salon_ids = [str(salon) for salon in salons]
        claims: dict[str, Any] = {
            "iss": issuer,
            "aud": audience,
            "sub": subject,
            "iat": issued,
            "exp": issued + expires_in_s,
            "jti": uuid.uuid4().hex,
            "scope": " ".join(dict.fromkeys(scopes)),
        }
        if len(salon_ids) == 1:
            claims["salon_id"] = salon_ids[0]
        elif salon_ids:
            claims["salon_ids"] = salon_ids
        claims.update(extra or {})
        return jwt.encode(
            claims, self.private_key, algorithm=ALGORITHM, headers={"kid": self.key_id}
        )
