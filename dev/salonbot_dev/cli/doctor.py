"""`salonbot doctor [--local | --stack NAME] [--json]`: the deployment checklist, checked."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

from salonbot_dev.cli.common import LOCAL_STATE_DIR, add_json_flag, print_json

if TYPE_CHECKING:
    import argparse


def register(subparsers: Any) -> None:
    doctor: argparse.ArgumentParser = subparsers.add_parser(
        "doctor",
        help="check a deployment against the deployment guide's checklist, with the fixes",
    )
    where = doctor.add_mutually_exclusive_group()
    where.add_argument(
        "--local", action="store_true", help="the stack `make dev` runs (the default)"
    )
    where.add_argument("--stack", metavar="NAME", help="a deployed CloudFormation stack")
    doctor.add_argument("--salon", metavar="ID", help="the salon the test message goes to")
    doctor.add_argument(
        "--api-token",
        help="--stack: a JWT the AI API accepts, for the test message "
        "(default: $SALONBOT_API_TOKEN)",
    )
    doctor.add_argument(
        "--meta-app-id",
        help="--stack: the Meta app's id, to check its webhook subscription "
        "(default: $META_APP_ID)",
    )
    doctor.add_argument("--region", help="--stack: the stack's region (default: boto3's)")
    doctor.add_argument("--only", action="append", metavar="CHECK", help="run only this check")
    add_json_flag(doctor)
    doctor.set_defaults(handler=run_doctor)


def run_doctor(args: argparse.Namespace) -> int:
    from salonbot_dev.doctor import run_checks

    target: Any
    if args.stack:
        from salonbot_dev.doctor.aws import StackDoctor

        target = StackDoctor.for_stack(
            args.stack,
            region=args.region,
            salon_id=args.salon,
            api_token=args.api_token or os.environ.get("SALONBOT_API_TOKEN"),
            meta_app_id=args.meta_app_id or os.environ.get("META_APP_ID"),
        )
    else:
        from salonbot_dev.doctor.local import LocalDoctor
        from salonbot_dev.local.state import StackAddresses

        target = LocalDoctor(
            StackAddresses.read(LOCAL_STATE_DIR), salon_id=args.salon, state_dir=LOCAL_STATE_DIR
        )
    report = run_checks(target, target.description, only=args.only)
    if args.json:
        print_json(report.as_dict())
    else:
        for line in report.lines():
            print(line)
    return 1 if report.failed else 0
