"""`salonbot openapi`: the HTTP API's OpenAPI document, the AI API and the staff API
(e.g. for schemathesis)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import argparse


def register(subparsers: Any) -> None:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "openapi", help="print the HTTP API's OpenAPI document (JSON): AI and staff API"
    )
    parser.add_argument("--out", type=Path, help="write it to this file instead")
    parser.set_defaults(handler=run_openapi)


def run_openapi(args: argparse.Namespace) -> int:
    from salonbot.api import http_api_schema

    document = http_api_schema()
    if args.out:
        args.out.write_text(document + "\n")
    else:
        print(document)
    return 0
