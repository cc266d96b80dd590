"""`salonbot staff add|login`: the salon's people in the stack's Cognito user pool.

    salonbot staff add --salon ID --email E --password P [--role owner]
    salonbot staff login --email E --password P      # prints an access token

Locally both use the running stack's Cognito (moto; its addresses from `.local/stack.json`);
against AWS pass `--user-pool-id` / `--client-id` (the stack's outputs `StaffUserPoolId`,
`StaffConsoleClientId`) with AWS credentials in the environment. `login` uses the
user-password flow, which the deployed console client does not allow: in AWS staff sign
in through the hosted UI."""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Any

from salonbot.errors import ConfigurationError, InvalidInput
from salonbot_dev.cli.common import LOCAL_STATE_DIR, add_json_flag, print_json

if TYPE_CHECKING:
    import argparse


def register(subparsers: Any) -> None:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "staff", help="staff users of the console (Cognito)"
    )
    actions = parser.add_subparsers(dest="staff_action", required=True, metavar="ACTION")

    add = actions.add_parser("add", help="create a staff user (or add a salon to one)")
    add.add_argument("--salon", required=True, metavar="ID", help="the salon they work for")
    add.add_argument("--email", required=True)
    add.add_argument("--password", required=True)
    add.add_argument("--role", choices=("staff", "owner"), default="staff")
    add.add_argument("--user-pool-id", help="the user pool (default: the local stack's)")
    add_json_flag(add)
    add.set_defaults(handler=run_add)

    login = actions.add_parser("login", help="print the user's access token")
    login.add_argument("--email", required=True)
    login.add_argument("--password", required=True)
    login.add_argument("--client-id", help="the console client (default: the local stack's)")
    add_json_flag(login)
    login.set_defaults(handler=run_login)


def _local_pool() -> tuple[Any, dict[str, str]]:
    """A Cognito client for the running local stack and its staff settings."""
    import boto3

    from salonbot_dev.local.state import StackAddresses

    stack = StackAddresses.read(LOCAL_STATE_DIR)
    client = boto3.client(
        "cognito-idp",
        endpoint_url=stack.aws_endpoint_url,
        region_name=stack.region,
        aws_access_key_id="local",
        aws_secret_access_key="local",
    )
    return client, stack.settings


def run_add(args: argparse.Namespace) -> int:
    from salonbot_dev.staff_users import add_staff

    try:
        salon_id = uuid.UUID(args.salon)
    except ValueError:
        raise InvalidInput("must be a salon id (a UUID)", field="--salon") from None
    if args.user_pool_id:
        import boto3

        client, pool_id = boto3.client("cognito-idp"), args.user_pool_id
    else:
        client, settings = _local_pool()
        pool_id = settings.get("STAFF_USER_POOL_ID", "")
        if not pool_id:
            raise ConfigurationError("the local stack has no staff user pool")
    user = add_staff(
        client, pool_id, salon_id=salon_id, email=args.email, password=args.password, role=args.role
    )
    if args.json:
        print_json(
            {
                "email": user.email,
                "salon_id": str(user.salon_id),
                "role": user.role,
                "groups": list(user.groups),
            }
        )
    else:
        print(
            f"{user.email}: {user.role} of salon {user.salon_id} (groups {', '.join(user.groups)})"
        )
    return 0


def run_login(args: argparse.Namespace) -> int:
    from salonbot.staff.sign_in import password_sign_in

    if args.client_id:
        import boto3

        client, client_id = boto3.client("cognito-idp"), args.client_id
    else:
        client, settings = _local_pool()
        client_id = settings.get("STAFF_CLIENT_ID", "")
    tokens = password_sign_in(client_id, args.email, args.password, client=client)
    if args.json:
        print_json({"access_token": tokens.access_token, "expires_in": tokens.expires_in})
    else:
        print(tokens.access_token)
    return 0
