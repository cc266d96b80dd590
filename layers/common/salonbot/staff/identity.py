"""Who a staff member is, from the claims of their Cognito access token.

API Gateway's `StaffCognito` authorizer has checked the token (signature by the user
pool's key, issuer, the console client, expiry, the scope `aws.cognito.signin.user.admin`)
before the function runs; the function reads the groups: `salon:<salon id>` for each
salon the user works for, and `owner` for the owner of those salons. API Gateway passes
the list claim `cognito:groups` as one string, `"[salon:… owner]"`."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from salonbot.errors import Forbidden, Unauthenticated

if TYPE_CHECKING:
    from collections.abc import Mapping

GROUPS_CLAIM = "cognito:groups"
SALON_GROUP_PREFIX = "salon:"
OWNER_GROUP = "owner"
STAFF, OWNER = "staff", "owner"


def salon_group(salon_id: uuid.UUID | str) -> str:
    return f"{SALON_GROUP_PREFIX}{salon_id}"


@dataclass(frozen=True)
class StaffMember:
    subject: str
    username: str | None
    salons: frozenset[uuid.UUID]
    role: str  # staff | owner

    @property
    def is_owner(self) -> bool:
        return self.role == OWNER

    def salon_for(self, requested: uuid.UUID | str | None) -> uuid.UUID:
        """The salon a request acts on: the one it names, if the user works there, or
        their only salon when it names none. `Forbidden` otherwise (403)."""
        if requested is None:
            if len(self.salons) == 1:
                return next(iter(self.salons))
            raise Forbidden("name the salon (salon_id): this user works for several")
        try:
            wanted = requested if isinstance(requested, uuid.UUID) else uuid.UUID(str(requested))
        except ValueError:
            raise Forbidden("the user does not work for this salon") from None
        if wanted not in self.salons:
            raise Forbidden("the user does not work for this salon")
        return wanted

    def require_owner(self) -> None:
        if not self.is_owner:
            raise Forbidden("only the salon's owner may do this")


def staff_member(claims: Mapping[str, Any] | None) -> StaffMember:
    """The staff member the verified claims describe: `Unauthenticated` without claims,
    `Forbidden` for a user of no salon."""
    if not claims or not claims.get("sub"):
        raise Unauthenticated("no verified staff token")
    groups = _values(claims.get(GROUPS_CLAIM))
    salons = set()
    for group in groups:
        if group.startswith(SALON_GROUP_PREFIX):
            try:
                salons.add(uuid.UUID(group.removeprefix(SALON_GROUP_PREFIX)))
            except ValueError:
                continue
    if not salons:
        raise Forbidden("the user works for no salon")
    username = claims.get("username")
    return StaffMember(
        subject=str(claims["sub"]),
        username=str(username) if username is not None else None,
        salons=frozenset(salons),
        role=OWNER if OWNER_GROUP in groups else STAFF,
    )


def _values(claim: Any) -> list[str]:
    if claim is None:
        return []
    if isinstance(claim, (list, tuple)):
        return [str(item) for item in claim]
    text = str(claim).strip()
    if text.startswith("[") and text.endswith("]"):
        text = text[1:-1]
    return [part.strip("\"'") for part in text.replace(",", " ").split() if part.strip("\"'")]
