"""`salonbot eval`: run evaluation task files (docs/evaluation.md) against the production
processor on a scratch database, and print each task's trials and pass^1..pass^K.

The engine's model comes from the usual settings (OPENAI_API_KEY, OPENAI_BASE_URL,
OPENAI_MODEL, or `--model`); a model customer (`--user model`) from EVAL_USER_MODEL,
EVAL_USER_BASE_URL and EVAL_USER_API_KEY (default: OPENAI_API_KEY). Exit 1 when pass^1
is below `--min-pass`, 2 for a bad task file or option."""

from __future__ import annotations

import contextlib
import os
import sys
from typing import TYPE_CHECKING, Any

from salonbot_dev.cli.common import add_json_flag, print_json

if TYPE_CHECKING:
    import argparse
    from collections.abc import Iterator

    from salonbot_dev.eval.users import ModelUserConfig

METRICS_FLAG = "POWERTOOLS_METRICS_DISABLED"


def register(subparsers: Any) -> None:
    from salonbot_dev.eval.engines import ENGINES
    from salonbot_dev.eval.users import DEFAULT_MAX_TURNS, USERS

    parser: argparse.ArgumentParser = subparsers.add_parser(
        "eval", help="measure the assistant on evaluation tasks (pass^k)"
    )
    parser.add_argument(
        "--tasks",
        nargs="+",
        action="extend",
        required=True,
        metavar="PATH",
        help="task files, or folders of them (*.yaml)",
    )
    parser.add_argument("--engine", choices=ENGINES, default="router", help="(router)")
    parser.add_argument("--user", choices=USERS, default="scripted", help="(scripted)")
    parser.add_argument("--trials", type=int, default=1, metavar="K", help="per task (1)")
    parser.add_argument("--model", help="the assistant's model (default: $OPENAI_MODEL)")
    parser.add_argument(
        "--max-turns",
        type=int,
        default=DEFAULT_MAX_TURNS,
        metavar="N",
        help=f"messages a model customer may send ({DEFAULT_MAX_TURNS})",
    )
    parser.add_argument(
        "--only", action="append", default=[], metavar="ID", help="run this task (repeat)"
    )
    parser.add_argument(
        "--min-pass",
        type=float,
        metavar="FLOAT",
        help="exit 1 when pass^1 is below this (a regression floor)",
    )
    add_json_flag(parser)
    parser.set_defaults(handler=run_eval)


def model_user_config(env: dict[str, str] | os._Environ[str]) -> ModelUserConfig | None:
    from salonbot_dev.eval.users import ModelUserConfig

    model = env.get("EVAL_USER_MODEL")
    if not model:
        return None
    return ModelUserConfig(
        model=model,
        base_url=env.get("EVAL_USER_BASE_URL") or None,
        api_key=env.get("EVAL_USER_API_KEY") or env.get("OPENAI_API_KEY") or None,
    )


@contextlib.contextmanager
def processor_output_on_stderr(level: str = "WARNING") -> Iterator[None]:
    """While the tasks run, the processor's JSON logs go to stderr (warnings and worse)
    and its metrics nowhere, so stdout holds only the table or the JSON; as they were
    after."""
    from salonbot.observability import logger

    handler = logger.registered_handler
    saved_stream = getattr(handler, "stream", None)
    saved_level = logger.log_level
    saved_flag = os.environ.get(METRICS_FLAG)
    os.environ[METRICS_FLAG] = "true"
    if saved_stream is not None:
        handler.stream = sys.stderr  # type: ignore[attr-defined]
    logger.setLevel(os.environ.get("LOG_LEVEL", level))
    try:
        yield
    finally:
        logger.setLevel(saved_level)
        if saved_stream is not None:
            handler.stream = saved_stream  # type: ignore[attr-defined]
        if saved_flag is None:
            os.environ.pop(METRICS_FLAG, None)
        else:
            os.environ[METRICS_FLAG] = saved_flag


def run_eval(args: argparse.Namespace) -> int:
    from salonbot.config import Settings
    from salonbot.errors import InvalidInput
    from salonbot_dev.eval.suite import EvalOptions, evaluate
    from salonbot_dev.eval.tasks import load_tasks

    if args.min_pass is not None and not 0.0 <= args.min_pass <= 1.0:
        raise InvalidInput("a share between 0 and 1", "--min-pass")
    files = load_tasks(args.tasks)
    if not files:
        raise InvalidInput("no task files there", "--tasks")
    settings = Settings.from_env()
    if args.model:
        settings = settings.model_copy(update={"openai_model": args.model})
    options = EvalOptions(
        engine=args.engine,
        user=args.user,
        trials=args.trials,
        model_user=model_user_config(os.environ),
        max_turns=args.max_turns,
        only=tuple(args.only),
    )

    def progress(line: str) -> None:
        print(line, file=sys.stderr, flush=True)

    with processor_output_on_stderr():
        report = evaluate(
            files,
            options,
            settings,
            server_url=args.database_url,
            progress=None if args.json else progress,
        )
    if args.json:
        print_json(report.as_dict())
    else:
        print(report.table())
    pass_1 = report.pass_hat()["1"]
    if args.min_pass is not None and pass_1 < args.min_pass:
        print(f"pass^1 {pass_1:.3f} is below the floor {args.min_pass:.3f}", file=sys.stderr)
        return 1
    return 0
