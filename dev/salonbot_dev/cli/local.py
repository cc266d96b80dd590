"""`salonbot local` (the whole system on this machine), `salonbot chat` (talk to it like a
customer's phone), `salonbot demo` (a scripted booking through it) and `salonbot run JOB`
(fire one of its schedules now)."""

from __future__ import annotations

import signal
import sys
import threading
from typing import TYPE_CHECKING, Any

from salonbot.errors import NotFound
from salonbot_dev.cli.common import LOCAL_STATE_DIR, add_json_flag, print_json

if TYPE_CHECKING:
    import argparse

    from salonbot_dev.local.state import StackAddresses


def register(subparsers: Any) -> None:
    local: argparse.ArgumentParser = subparsers.add_parser(
        "local", help="run the whole system locally in the foreground (what `make dev` runs)"
    )
    local.add_argument("--port", type=int, default=3000, help="HTTP gateway port (3000)")
    local.add_argument(
        "--salon-file",
        default="demo/salon.yaml",
        help="salon imported at start, relative to the project (demo/salon.yaml); '' for none",
    )
    local.add_argument(
        "--no-schedules", action="store_true", help="do not run the schedules on their own"
    )
    local.set_defaults(handler=run_local)

    chat: argparse.ArgumentParser = subparsers.add_parser(
        "chat", help="chat with the running local stack as a customer's WhatsApp"
    )
    chat.add_argument("--phone", default="+79001234567", help="the customer's number")
    chat.add_argument("--salon", help="salon id (default: the demo salon)")
    chat.add_argument("--name", default="Local customer", help="the customer's profile name")
    chat.set_defaults(handler=run_chat)

    demo: argparse.ArgumentParser = subparsers.add_parser(
        "demo", help="play a scripted Russian booking conversation through the running stack"
    )
    demo.add_argument("--phone", help="the customer's number (default: a fresh one)")
    add_json_flag(demo)
    demo.set_defaults(handler=run_demo)
    register_run(subparsers)


def run_local(args: argparse.Namespace) -> int:
    from salonbot_dev.local.stack import LocalStack, StackOptions, find_project_root

    root = find_project_root()
    salon_file = (root / args.salon_file) if args.salon_file else None
    stop = threading.Event()

    def request_stop(signum: int, frame: Any) -> None:
        stop.set()

    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, request_stop)
    stack = LocalStack(
        StackOptions(
            root=root,
            state_dir=LOCAL_STATE_DIR.resolve(),
            port=args.port,
            salon_file=salon_file,
            run_schedules=not args.no_schedules,
        ),
        out=sys.stdout,
    )
    print(f"starting salonbot locally from {root} …", flush=True)
    with stack:
        for line in stack.summary():
            print(line, flush=True)
        while not stop.wait(0.5):
            pass
        print("stopping …", flush=True)
    print("stopped", flush=True)
    return 0


def _addresses() -> StackAddresses:
    from salonbot_dev.local.state import StackAddresses

    return StackAddresses.read(LOCAL_STATE_DIR)


def _salon_number(addresses: StackAddresses, salon_id: str | None) -> tuple[str, str]:
    """(salon id, its WhatsApp phone number id)."""
    if salon_id is None and addresses.demo_salon_id and addresses.demo_phone_number_id:
        return addresses.demo_salon_id, addresses.demo_phone_number_id
    import psycopg

    with psycopg.connect(addresses.database_url) as conn:
        row = conn.execute(
            "SELECT id::text, whatsapp_phone_number_id FROM salons WHERE id::text = %s",
            ((salon_id or "").lower(),),
        ).fetchone()
    if row is None or not row[1]:
        raise NotFound(f"no salon {salon_id} with a WhatsApp number in the local database")
    return str(row[0]), str(row[1])


def _conversation(
    addresses: StackAddresses, phone: str, salon_id: str | None, name: str = "Local customer"
) -> Any:
    from salonbot_dev.fakes.conversation import Conversation, Outbox
    from salonbot_dev.fakes.customer import CustomerPhone

    _, number_id = _salon_number(addresses, salon_id)
    customer = CustomerPhone(
        gateway_url=addresses.gateway_url,
        app_secret=addresses.app_secret,
        phone_number_id=number_id,
        customer_phone=phone,
        name=name,
    )
    return Conversation(customer, Outbox(addresses.whatsapp_url))


def run_chat(args: argparse.Namespace) -> int:
    from salonbot.errors import ConfigurationError
    from salonbot_dev.cli.chat import LINGER_S, PROMPT, TerminalChat, why_waiting

    addresses = _addresses()
    salon_id, _ = _salon_number(addresses, args.salon)
    conversation = _conversation(addresses, args.phone, args.salon, args.name)
    print(
        f"Chatting as {args.phone} with salon number {conversation.phone.phone_number_id} "
        f"through {addresses.gateway_url}.\n"
        "Type a message; answer a numbered choice with its number. Replies show as they "
        "arrive. Ctrl-D to leave.\n"
    )

    def why() -> str:
        try:
            running = _addresses()
        except ConfigurationError:
            return "the local stack has stopped: start it again with `make dev`"
        return why_waiting(running.database_url, salon_id, conversation.phone.customer_phone)

    # Typed at a terminal, Ctrl-D leaves at once; piped, the replies to the last lines
    # are still shown (for up to LINGER_S).
    interactive = sys.stdin.isatty()
    chat = TerminalChat(
        conversation,
        why,
        prompt=PROMPT if interactive else "",
        linger_s=0 if interactive else LINGER_S,
    )
    return chat.run(lambda: input(PROMPT if interactive else ""))


def run_demo(args: argparse.Namespace) -> int:
    from salonbot_dev.local.demo import demo_phone, describe_booking, find_booking, play

    addresses = _addresses()
    phone = args.phone or demo_phone()
    conversation = _conversation(addresses, phone, None, "Demo customer")
    salon_id = addresses.demo_salon_id or ""

    def show(who: str, text: str) -> None:
        if not args.json:
            prefix = "customer> " if who == "customer" else "salon>    "
            print(prefix + text.replace("\n", "\n" + " " * len(prefix)), flush=True)

    result = play(conversation, lambda: find_booking(addresses.database_url, salon_id, phone), show)
    if args.json:
        print_json({"transcript": result.transcript, "booking": result.booking})
    elif result.booking is not None:
        print("\n" + describe_booking(result.booking))
    if result.booking is None:
        print("error: the conversation ended without a booking", file=sys.stderr)
        return 1
    return 0


def register_run(subparsers: Any) -> None:
    run: argparse.ArgumentParser = subparsers.add_parser(
        "run", help="fire a schedule of the running local stack now (cleanup, budget-alert)"
    )
    run.add_argument("job", help="the scheduled function: cleanup or budget-alert")
    add_json_flag(run)
    run.set_defaults(handler=run_scheduled)


def run_scheduled(args: argparse.Namespace) -> int:
    import json
    import urllib.error
    import urllib.request

    addresses = _addresses()
    request = urllib.request.Request(
        f"{addresses.gateway_url}/_local/schedules/{args.job}", data=b"", method="POST"
    )
    try:
        with urllib.request.urlopen(request, timeout=900) as response:
            result = json.load(response)["result"]
    except urllib.error.HTTPError as exc:
        message = json.load(exc).get("message", exc.reason)
        if exc.code == 404:
            raise NotFound(message) from exc
        print(f"error: {message}", file=sys.stderr)
        return 1
    if args.json:
        print_json(result)
    else:
        print(f"{args.job} ran in the local stack:")
        print_json(result)
    return 0
