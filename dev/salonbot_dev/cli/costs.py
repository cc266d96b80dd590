"""Admin views: `salonbot stats` and `salonbot cost-estimate`."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any

from salonbot.errors import InvalidInput
from salonbot.stats import window_bound
from salonbot_dev.cli.common import add_json_flag, open_connection, print_json

if TYPE_CHECKING:
    import argparse
    from zoneinfo import ZoneInfo

    from salonbot.experiment_stats import ArmStats


def register(subparsers: Any) -> None:
    stats: argparse.ArgumentParser = subparsers.add_parser(
        "stats", help="a salon's messages, tokens, cost, response times and bookings"
    )
    stats.add_argument("--salon", required=True, help="salon id")
    stats.add_argument(
        "--from",
        dest="since",
        help="YYYY-MM-DD (salon's local day) or ISO time with offset; default 30 days ago",
    )
    stats.add_argument(
        "--to", dest="until", help="YYYY-MM-DD (inclusive) or ISO time with offset; default now"
    )
    add_json_flag(stats)
    stats.set_defaults(handler=run_stats)

    estimate: argparse.ArgumentParser = subparsers.add_parser(
        "cost-estimate", help="monthly OpenAI cost from the price table the cost guard uses"
    )
    estimate.add_argument("--customers", type=int, required=True)
    estimate.add_argument("--messages-per-customer", type=int, required=True)
    estimate.add_argument("--model", required=True)
    estimate.add_argument("--tokens-per-message", type=int, default=500)
    estimate.add_argument(
        "--completion-share",
        default="0.2",
        help="share of each message's tokens that are completion tokens (default 0.2)",
    )
    estimate.add_argument(
        "--reminders-per-customer",
        type=int,
        default=1,
        help="reminder templates a customer gets a month (default 1)",
    )
    estimate.add_argument(
        "--phone-prefix",
        default="+7",
        help="the customers' country calling code, for WhatsApp's rates (default +7)",
    )
    add_json_flag(estimate)
    estimate.set_defaults(handler=run_cost_estimate)


def _bound(value: str | None, tz: ZoneInfo, *, end: bool, default: dt.datetime) -> dt.datetime:
    """A salon-local day (`--to DAY` includes it) or an ISO time, local when naive."""
    if value is None:
        return default
    field = "--to" if end else "--from"
    return window_bound(value, tz, end=end, field=field, naive_is_local=True)


def run_stats(args: argparse.Namespace) -> int:
    from salonbot.booking.catalog import load_salon
    from salonbot.stats import salon_stats

    with open_connection(args) as conn:
        # "no salon ID" or "'x' is not a salon id", as `bookings` and `slots` say it.
        tz = load_salon(conn, args.salon).tz
        now = dt.datetime.now(tz)
        until = _bound(args.until, tz, end=True, default=now)
        since = _bound(args.since, tz, end=False, default=until - dt.timedelta(days=30))
        stats = salon_stats(conn, args.salon, since, until)
    if args.json:
        print_json(stats.as_dict())
        return 0
    rows = [
        ("period", f"{since.isoformat()} .. {until.isoformat()}"),
        ("conversations", stats.conversations),
        ("  with a booking", stats.conversations_with_booking),
        ("  booking conversion", f"{stats.conversion_rate:.1%}"),
        ("messages received", stats.messages_received),
        ("replies", f"{stats.replies} ({stats.model_replies} from the model)"),
        (
            "tokens",
            f"{stats.tokens_used:,} ({stats.prompt_tokens:,} prompt + "
            f"{stats.completion_tokens:,} completion)",
        ),
        ("cost", f"${stats.cost_usd:.4f}"),
        (
            "WhatsApp messages",
            f"{stats.messages_sent} sent, ${stats.whatsapp_cost_usd:.4f} "
            f"({stats.reminders_sent} reminders)",
        ),
        ("response time avg", _ms(stats.avg_response_time_ms)),
        ("response time p95", _ms(stats.p95_response_time_ms)),
        (
            "bookings created",
            f"{stats.bookings_created} ({stats.bookings_by_assistant} by the assistant)",
        ),
        ("bookings cancelled", stats.bookings_cancelled),
        ("confirmed by the customer", stats.bookings_confirmed_by_customer),
        *(
            (f"rating of {code}", f"{r['average']:.2f} ({r['ratings']:.0f} ratings)")
            for code, r in stats.ratings_by_master.items()
        ),
    ]
    width = max(len(k) for k, _ in rows)
    for key, value in rows:
        print(f"{key.ljust(width)}  {value}")
    if stats.arms:
        print()
        _print_arms(stats.arms)
    return 0


def _print_arms(arms: list[ArmStats]) -> None:
    """One column per arm of the salon's model experiment."""
    lines: list[tuple[str, list[str]]] = [
        ("arm", [a.arm + ("" if a.in_salon_file else " (removed)") for a in arms]),
        ("model", [", ".join(a.models) or "-" for a in arms]),
        ("weight", ["-" if a.weight is None else f"{a.weight:g}" for a in arms]),
        ("conversations", [str(a.conversations) for a in arms]),
        ("bookings", [str(a.bookings) for a in arms]),
        (
            "conversion (95% CI)",
            [
                f"{a.conversion_rate:.1%} ({a.conversion_ci95[0]:.0%}-{a.conversion_ci95[1]:.0%})"
                for a in arms
            ],
        ),
        ("tokens", [f"{a.tokens_used:,}" for a in arms]),
        ("cost", [f"${a.cost_usd:.4f}" for a in arms]),
        (
            "cost per booking",
            [
                "-" if a.cost_per_booking_usd is None else f"${a.cost_per_booking_usd:.4f}"
                for a in arms
            ],
        ),
        ("response time p95", [_ms(a.p95_response_time_ms) for a in arms]),
        ("hand-offs", [str(a.handoffs) for a in arms]),
        ("model failures", [str(a.model_failures) for a in arms]),
        (
            "feedback rating",
            [
                "-" if a.feedback_rating is None else f"{a.feedback_rating:.2f} ({a.ratings})"
                for a in arms
            ],
        ),
    ]
    key_width = max(len(k) for k, _ in lines)
    widths = [max(len(values[i]) for _, values in lines) for i in range(len(arms))]
    for key, values in lines:
        cells = "  ".join(v.ljust(w) for v, w in zip(values, widths, strict=True))
        print(f"{key.ljust(key_width)}  {cells}".rstrip())


def _usd(value: Decimal | None) -> str:
    return "-" if value is None else f"${value:.4f}"


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.0f} ms"


def run_cost_estimate(args: argparse.Namespace) -> int:
    import sys

    from salonbot.config import Settings
    from salonbot.cost.estimate import messages_estimate, monthly_estimate

    try:
        share = Decimal(args.completion_share)
    except InvalidOperation as exc:
        raise InvalidInput("not a number", field="--completion-share") from exc
    settings = Settings.from_env()  # OPENAI_PRICE_* for a model the table does not know
    try:
        estimate = monthly_estimate(
            customers=args.customers,
            messages_per_customer=args.messages_per_customer,
            model=args.model,
            tokens_per_message=args.tokens_per_message,
            completion_share=share,
            input_per_mtok=settings.openai_price_input_per_mtok,
            output_per_mtok=settings.openai_price_output_per_mtok,
        )
        messages = messages_estimate(
            customers=args.customers,
            messages_per_customer=args.messages_per_customer,
            reminders_per_customer=args.reminders_per_customer,
            phone=args.phone_prefix,
        )
    except ValueError as exc:
        raise InvalidInput(str(exc)) from exc
    if estimate.warning:
        print(f"warning: {estimate.warning}", file=sys.stderr)
    if args.json:
        print_json({**estimate.as_dict(), "whatsapp": messages.as_dict()})
    else:
        total = estimate.monthly_usd + messages.monthly_usd
        print(
            f"Monthly cost estimate: ${total} "
            f"(model ${estimate.monthly_usd}, WhatsApp ${messages.monthly_usd})"
        )
        for line in estimate.explain() + messages.explain():
            print(line)
    return 0
