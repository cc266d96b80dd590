"""Staff users in the stack's Cognito user pool (moto's locally, the real one in AWS):
`salonbot staff add` and the local stack's demo user.

A user is an e-mail with a permanent password, in the group `salon:<salon id>` of each
salon they work for, and in `owner` when they own them. Adding a user who exists already
adds the salon (and the role) and sets the password: the command can be run again."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from salonbot.errors import InvalidInput
from salonbot.staff.identity import OWNER, OWNER_GROUP, STAFF, salon_group

if TYPE_CHECKING:
    import uuid

DEMO_STAFF_EMAIL = "staff@example.com"
DEMO_STAFF_PASSWORD = "Salonbot-demo-2026"


@dataclass(frozen=True)
class StaffUser:
    email: str
    salon_id: uuid.UUID
    role: str
    groups: tuple[str, ...]


def add_staff(
    cognito: Any,
    pool_id: str,
    *,
    salon_id: uuid.UUID,
    email: str,
    password: str,
    role: str = STAFF,
) -> StaffUser:
    if role not in (STAFF, OWNER):
        raise InvalidInput(f"must be {STAFF} or {OWNER}", field="--role")
    email = email.strip()
    if "@" not in email:
        raise InvalidInput("must be an e-mail address", field="--email")
    try:
        cognito.admin_create_user(
            UserPoolId=pool_id,
            Username=email,
            UserAttributes=[
                {"Name": "email", "Value": email},
                {"Name": "email_verified", "Value": "true"},
            ],
            MessageAction="SUPPRESS",
        )
    except cognito.exceptions.UsernameExistsException:
        pass
    except cognito.exceptions.InvalidParameterException as exc:
        raise InvalidInput(_reason(exc), field="--email") from None
    try:
        cognito.admin_set_user_password(
            UserPoolId=pool_id, Username=email, Password=password, Permanent=True
        )
    except cognito.exceptions.InvalidPasswordException as exc:
        raise InvalidInput(_reason(exc), field="--password") from None
    wanted = [salon_group(salon_id), *([OWNER_GROUP] if role == OWNER else [])]
    for group in wanted:
        with contextlib.suppress(cognito.exceptions.GroupExistsException):
            cognito.create_group(UserPoolId=pool_id, GroupName=group)
        cognito.admin_add_user_to_group(UserPoolId=pool_id, Username=email, GroupName=group)
    groups = cognito.admin_list_groups_for_user(UserPoolId=pool_id, Username=email)["Groups"]
    return StaffUser(
        email=email,
        salon_id=salon_id,
        role=role,
        groups=tuple(sorted(g["GroupName"] for g in groups)),
    )


def _reason(exc: Exception) -> str:
    response = getattr(exc, "response", {}) or {}
    return str((response.get("Error") or {}).get("Message") or exc)
