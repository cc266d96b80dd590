"""`salonbot token`: a token for the AI API that the local stack's gateway accepts.

It is signed with the local issuer's key in the state folder (made there if the stack
has not made it yet) and names the issuer and audience of the template's authorizer for
the AI API's routes (`/api/v1/ai/...`), as a salon's backend's identity provider would:

    curl -H "Authorization: Bearer $(salonbot token --salon ID --scope ai:write)" ..."""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Any

from salonbot.errors import ConfigurationError, InvalidInput
from salonbot_dev.cli.common import LOCAL_STATE_DIR

if TYPE_CHECKING:
    import argparse

AI_API_PREFIX = "/api/v1/ai/"
SCOPES = ("ai:write", "ai:read", "ai:admin")


def register(subparsers: Any) -> None:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "token", help="print an AI API token the local stack accepts"
    )
    parser.add_argument(
        "--salon",
        action="append",
        required=True,
        metavar="ID",
        help="a salon the token is for (repeat for a backend serving several)",
    )
    parser.add_argument(
        "--scope",
        action="append",
        required=True,
        metavar="SCOPE",
        help=f"a scope it grants ({', '.join(SCOPES)}); repeat for several",
    )
    parser.add_argument(
        "--expires-in", type=int, default=3600, metavar="S", help="lifetime in seconds (3600)"
    )
    parser.add_argument("--subject", default="local-backend", help="the `sub` claim")
    parser.set_defaults(handler=run_token)


def run_token(args: argparse.Namespace) -> int:
    from salonbot_dev.local.authorizers import authorizers_under
    from salonbot_dev.local.issuer import LocalIssuer
    from salonbot_dev.local.stack import find_project_root
    from salonbot_dev.local.template import Resolver, Template

    salons = []
    for salon in args.salon:
        try:
            salons.append(uuid.UUID(salon))
        except ValueError:
            raise InvalidInput("must be a salon id (a UUID)", field="--salon") from None
    if args.expires_in <= 0:
        raise InvalidInput("must be a positive number of seconds", field="--expires-in")
    root = find_project_root()
    found = authorizers_under(Resolver(Template.load(root / "template.yaml")), AI_API_PREFIX)
    if len(found) != 1:
        raise ConfigurationError(
            f"template.yaml should protect the {AI_API_PREFIX} routes with one JWT authorizer; "
            f"found {sorted(found) or 'none'}"
        )
    (authorizer,) = found.values()
    if not authorizer.audience:
        raise ConfigurationError(f"the authorizer {authorizer.name} has no audience")
    print(
        LocalIssuer.in_folder(LOCAL_STATE_DIR).issue(
            issuer=authorizer.issuer,
            audience=authorizer.audience[0],
            salons=salons,
            scopes=args.scope,
            expires_in_s=args.expires_in,
            subject=args.subject,
        )
    )
    return 0
