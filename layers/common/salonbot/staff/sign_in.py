"""The console's sign-in form: Cognito's user-password flow (`USER_PASSWORD_AUTH`).

Locally the stack's Cognito is moto's, and this is how `salonbot staff login` and the
console's form sign in. In AWS the console client allows only SRP and the hosted UI (the
code flow with PKCE, `STAFF_AUTH_DOMAIN`); a form sign-in there is refused by Cognito and
answered as a wrong password would be, never with the reason in detail."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from salonbot.errors import ConfigurationError, Unauthenticated

AUTH_FLOW = "USER_PASSWORD_AUTH"


@dataclass(frozen=True)
class StaffTokens:
    access_token: str
    expires_in: int


@lru_cache(maxsize=1)
def cognito_client() -> Any:
    import boto3

    return boto3.client("cognito-idp")


def password_sign_in(
    client_id: str | None, email: str, password: str, *, client: Any = None
) -> StaffTokens:
    """The user's access token; `Unauthenticated` for a wrong e-mail or password (and
    for a user who must first set a new password)."""
    if not client_id:
        raise ConfigurationError("STAFF_CLIENT_ID is not configured")
    cognito = client or cognito_client()
    try:
        answer = cognito.initiate_auth(
            ClientId=client_id,
            AuthFlow=AUTH_FLOW,
            AuthParameters={"USERNAME": email.strip(), "PASSWORD": password},
        )
    except cognito.exceptions.NotAuthorizedException:
        raise Unauthenticated("wrong e-mail or password") from None
    except cognito.exceptions.UserNotFoundException:
        raise Unauthenticated("wrong e-mail or password") from None
    result = answer.get("AuthenticationResult")
    if not result:  # a challenge (a new password, MFA): the hosted UI handles those
        raise Unauthenticated("this sign-in needs the hosted sign-in page")
    return StaffTokens(result["AccessToken"], int(result.get("ExpiresIn", 3600)))
