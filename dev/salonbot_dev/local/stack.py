"""`salonbot local`: the whole system on one machine, from `template.yaml`.

Start order: the gateway's port checked free (before anything starts), PostgreSQL
(migrations, demo salon) → AWS endpoint (moto) and the template's
resources → fake WhatsApp send API → handler environment → gateway (enforcing the
template's JWT authorizers against the local issuer's key), SQS pollers, schedules →
`stack.json`. Stop runs the same steps backwards, whatever failed."""

from __future__ import annotations

import errno
import logging
import os
import socket
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from salonbot.errors import ConfigurationError
from salonbot_dev.local.authorizers import JwtVerifier
from salonbot_dev.local.aws_resources import (
    QUEUE,
    USER_POOL,
    AwsClients,
    CreatedResource,
    ResourceBuilder,
)
from salonbot_dev.local.database import LocalDatabase, prepare
from salonbot_dev.local.environment import (
    LOCAL_APP_SECRET,
    LOCAL_VERIFY_TOKEN,
    handler_environment,
    public_settings,
)
from salonbot_dev.local.functions import read_functions
from salonbot_dev.local.gateway import Gateway
from salonbot_dev.local.handlers import LocalFunction
from salonbot_dev.local.issuer import LocalIssuer
from salonbot_dev.local.moto_server import FAKE_CREDENTIALS, MotoServer
from salonbot_dev.local.poller import QueuePoller
from salonbot_dev.local.schedules import ScheduleRunner
from salonbot_dev.local.state import STACK_FILE, StackAddresses
from salonbot_dev.local.template import Resolver, Template

if TYPE_CHECKING:
    from collections.abc import Mapping

log = logging.getLogger("salonbot_dev.local")

DEFAULT_REGION = "eu-west-1"
DATABASE_URL_FILE = "database_url"


def find_project_root(start: Path | None = None) -> Path:
    """The folder holding template.yaml: the current one or a parent, else this checkout."""
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        if (folder / "template.yaml").is_file():
            return folder
    package_root = Path(__file__).resolve().parents[3]
    if (package_root / "template.yaml").is_file():
        return package_root
    raise ConfigurationError(f"template.yaml not found in {here} or its parents")


@dataclass
class StackOptions:
    root: Path
    state_dir: Path
    port: int = 3000
    host: str = "127.0.0.1"
    salon_file: Path | None = None
    run_schedules: bool = True
    environ: Mapping[str, str] = field(default_factory=lambda: dict(os.environ))


@dataclass
class LocalStack:
    options: StackOptions
    out: TextIO
    addresses: StackAddresses | None = None
    functions: list[LocalFunction] = field(default_factory=list)
    schedules: dict[str, ScheduleRunner] = field(default_factory=dict)
    gateway: Gateway | None = None
    # The demo staff user's (e-mail, password), printed with the console's address.
    staff_login: tuple[str, str] | None = None
    _exit: ExitStack = field(default_factory=ExitStack)

    # -- lifecycle -----------------------------------------------------------------
    def start(self) -> StackAddresses:
        try:
            return self._start()
        except BaseException:
            self.stop()
            raise

    def stop(self) -> None:
        self._exit.close()

    def __enter__(self) -> LocalStack:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _say(self, text: str) -> None:
        print(text, file=self.out, flush=True)

    def _start(self) -> StackAddresses:
        opts = self.options
        env = opts.environ
        opts.state_dir.mkdir(parents=True, exist_ok=True)
        self._refuse_second_stack()
        refuse_busy_port(opts.host, opts.port)
        self._restore_environment_on_stop()
        template = Template.load(opts.root / "template.yaml")

        database_url = self._start_database(env.get("DATABASE_URL") or None)
        imported = prepare(database_url, opts.salon_file)
        if imported is not None:
            self._say(f"demo salon: {imported.salon_id} (from {opts.salon_file})")

        region = env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION") or DEFAULT_REGION
        aws_endpoint = self._start_aws(env.get("AWS_ENDPOINT_URL") or None, region)
        resolver = Resolver(template, region=region)
        aws = AwsClients.for_endpoint(aws_endpoint, region)
        created = ResourceBuilder(resolver, aws, secret_values={}).create_all()
        self._say(f"AWS resources from template.yaml: {', '.join(c.logical_id for c in created)}")

        whatsapp_url = env.get("WHATSAPP_API_BASE_URL") or self._start_fake_whatsapp()
        specs = read_functions(resolver, opts.root)
        local = {
            "DATABASE_URL": database_url,
            "AWS_ENDPOINT_URL": aws_endpoint,
            "AWS_REGION": region,
            "AWS_DEFAULT_REGION": region,
            "WHATSAPP_API_BASE_URL": whatsapp_url,
            "CONSOLE_URL": f"http://{opts.host}:{opts.port}/console/",
        }
        variables, removed = handler_environment(
            specs, local=local, user=env, created=[c.physical_id for c in created]
        )
        self._apply_environment(variables, removed)
        self._say_how_replies_are_made()

        self.functions = [LocalFunction(spec, region=region) for spec in specs]
        for function in self.functions:
            function.handler()  # import now: a broken handler fails the start, not a request
        self._start_gateway(region, pools=_user_pools(created), aws_endpoint=aws_endpoint)
        self.staff_login = self._add_demo_staff(aws, created, imported)
        self._start_pollers(resolver, created, aws_endpoint, region)
        self._start_schedules(region)

        self.addresses = StackAddresses(
            pid=os.getpid(),
            gateway_url=self.gateway.url if self.gateway else "",
            whatsapp_url=whatsapp_url,
            aws_endpoint_url=aws_endpoint,
            database_url=database_url,
            app_secret=variables.get("WHATSAPP_APP_SECRET", LOCAL_APP_SECRET),
            verify_token=variables.get("WHATSAPP_VERIFY_TOKEN", LOCAL_VERIFY_TOKEN),
            region=region,
            demo_salon_id=str(imported.salon_id) if imported else None,
            demo_phone_number_id=_phone_number_id(opts.salon_file),
            settings=public_settings(variables),
        )
        path = self.addresses.write(opts.state_dir)
        self._exit.callback(path.unlink, missing_ok=True)
        return self.addresses

    def _refuse_second_stack(self) -> None:
        try:
            running = StackAddresses.read(self.options.state_dir)
        except ConfigurationError:
            return
        raise ConfigurationError(
            f"a local stack is already running (pid {running.pid}, {running.gateway_url}); "
            f"stop it first or use another state folder ({self.options.state_dir / STACK_FILE})"
        )

    def _say_how_replies_are_made(self) -> None:
        """No key is the normal local mode: said once here, as a fact, not as an error."""
        from salonbot.assistant.agent import openai_api_key
        from salonbot.assistant.router import NO_KEY_NOTICE
        from salonbot.config import get_settings

        if openai_api_key(get_settings()) is None:
            self._say(f"{NO_KEY_NOTICE} (export OPENAI_API_KEY before `make dev` for the model)")

    def _start_database(self, external_url: str | None) -> str:
        database = LocalDatabase(self.options.state_dir / "pgdata", external_url)
        url = database.start()
        self._exit.callback(database.stop)
        url_file = self.options.state_dir / DATABASE_URL_FILE
        url_file.write_text(url + "\n")
        self._exit.callback(url_file.unlink, missing_ok=True)
        where = "embedded, data in " + str(database.pgdata) if database.embedded else "DATABASE_URL"
        self._say(f"PostgreSQL ({where})")
        return url

    def _start_aws(self, external_url: str | None, region: str) -> str:
        if external_url:
            return external_url
        server = MotoServer(host=self.options.host)
        url = server.start()
        self._exit.callback(server.stop)
        # Process-wide: the handlers' boto3 clients must never reach real AWS.
        os.environ.update(FAKE_CREDENTIALS)
        os.environ.pop("AWS_PROFILE", None)
        return url

    def _start_fake_whatsapp(self) -> str:
        from salonbot_dev.fakes.whatsapp import start_fake_whatsapp

        server = start_fake_whatsapp(host=self.options.host, out=self.out)
        self._exit.callback(server.stop)
        return str(server.url)

    def _restore_environment_on_stop(self) -> None:
        from salonbot.config import get_settings

        saved = dict(os.environ)

        def restore() -> None:
            os.environ.clear()
            os.environ.update(saved)
            get_settings.cache_clear()

        self._exit.callback(restore)

    def _apply_environment(self, variables: dict[str, str], removed: set[str]) -> None:
        from salonbot.config import get_settings

        os.environ.update(variables)
        for name in removed:
            os.environ.pop(name, None)
        # Settings may have been read (and cached) before the handlers' variables were set.
        get_settings.cache_clear()

    def _start_gateway(
        self, region: str, *, pools: dict[str, str] | None = None, aws_endpoint: str = ""
    ) -> None:
        if not any(f.spec.routes for f in self.functions):
            return
        # The local issuer's key stands in for every JWT authorizer's issuer (tokens from
        # `salonbot token` name the template's issuer and audience and are signed with
        # it), except a Cognito user pool's: moto's Cognito signs those, and its key set
        # is fetched from moto as API Gateway fetches a pool's.
        issuer = LocalIssuer.in_folder(self.options.state_dir)
        issuers = {
            route.auth.authorizer.issuer
            for function in self.functions
            for route in function.spec.routes
            if route.auth is not None
        }
        pools = pools or {}
        key_sets = {
            name: user_pool_key_set(aws_endpoint, pools[name]) if name in pools else issuer.jwks()
            for name in issuers
        }
        self.gateway = Gateway(
            self.functions,
            host=self.options.host,
            port=self.options.port,
            run_schedule=self.run_schedule,
            verifier=JwtVerifier(key_sets),
            jwks=issuer.jwks(),
        )
        try:
            self.gateway.start()
        except OSError as exc:  # taken since the check at start
            message = busy_port_message(self.options.host, self.options.port, exc)
            raise ConfigurationError(message) from None
        self._exit.callback(self.gateway.stop)

    def _add_demo_staff(
        self, aws: AwsClients, created: list[CreatedResource], imported: Any
    ) -> tuple[str, str] | None:
        """The demo salon's owner in the staff user pool, for the console's sign-in."""
        pool = next((c.physical_id for c in created if c.type == USER_POOL), None)
        if pool is None or imported is None:
            return None
        from salonbot_dev.staff_users import DEMO_STAFF_EMAIL, DEMO_STAFF_PASSWORD, add_staff

        add_staff(
            aws.cognito,
            pool,
            salon_id=imported.salon_id,
            email=DEMO_STAFF_EMAIL,
            password=DEMO_STAFF_PASSWORD,
            role="owner",
        )
        return DEMO_STAFF_EMAIL, DEMO_STAFF_PASSWORD

    def _start_pollers(
        self, resolver: Resolver, created: list[CreatedResource], endpoint: str, region: str
    ) -> None:
        import boto3
        from botocore.config import Config

        queue_urls = {
            resolver.get_att(c.logical_id, "Arn"): c.physical_id for c in created if c.type == QUEUE
        }
        # Long polls must not time out on the client side.
        sqs = boto3.client(
            "sqs", endpoint_url=endpoint, region_name=region, config=Config(read_timeout=30)
        )
        for function in self.functions:
            for source in function.spec.sqs_sources:
                if not source.enabled:
                    continue
                if source.queue_arn not in queue_urls:
                    raise ConfigurationError(
                        f"{function.name}: its SQS event source {source.queue_arn} is not a "
                        "queue of the template"
                    )
                poller = QueuePoller(
                    sqs,
                    queue_urls[source.queue_arn],
                    source,
                    function.invoke,
                    region=region,
                    name=f"{function.name}-poller",
                )
                poller.start()
                self._exit.callback(poller.stop)

    def _start_schedules(self, region: str) -> None:
        for function in self.functions:
            for source in function.spec.schedules:
                runner = ScheduleRunner(
                    source,
                    function.invoke,
                    rule_name=f"{function.spec.short_name}-{source.name}",
                    region=region,
                )
                self.schedules[function.spec.short_name] = runner
                if self.options.run_schedules:
                    runner.start()
                    self._exit.callback(runner.stop)

    def run_schedule(self, name: str) -> Any:
        """Run a scheduled function now (`salonbot run cleanup`); KeyError if unknown."""
        return self.schedules[name].run_now()

    # -- what the user sees --------------------------------------------------------
    def summary(self) -> list[str]:
        assert self.addresses is not None
        a = self.addresses
        lines = ["", "salonbot local stack is ready", ""]
        if self.gateway is not None:
            lines.append(f"  HTTP API        {a.gateway_url}")
            for function in self.functions:
                for route in function.spec.routes:
                    auth = route.auth
                    guard = f"  (JWT {' '.join(auth.scopes)})" if auth else ""
                    lines.append(f"    {route.route_key:<34} → {function.name}{guard}")
        lines += [
            f"  WhatsApp (fake) {a.whatsapp_url}",
            f"  AWS (moto)      {a.aws_endpoint_url}",
            f"  PostgreSQL      {a.database_url}",
            f"  demo salon id   {a.demo_salon_id or '-'}",
            f"  app secret      {a.app_secret}   verify token  {a.verify_token}",
        ]
        for name, runner in self.schedules.items():
            state = "on" if self.options.run_schedules and runner.source.enabled else "off"
            next_run = runner.next_run.isoformat() if runner.next_run else "never"
            lines.append(
                f"  schedule        {name}: {runner.source.expression} ({state}, next {next_run})"
            )
        if self.staff_login is not None:
            email, password = self.staff_login
            lines.append(f"  Console         {a.gateway_url}/console/")
            lines.append(f"    sign in as    {email}   password  {password}")
        lines += [
            "",
            "  Talk to it:     salonbot chat        (or: salonbot demo)",
            f"  Health:         curl {a.gateway_url}/api/v1/ai/health",
            "  API token:      salonbot token --salon "
            f"{a.demo_salon_id or 'SALON_ID'} --scope ai:write --scope ai:read",
            "  Stop:           Ctrl-C",
            "",
        ]
        return lines


def refuse_busy_port(host: str, port: int) -> None:
    """ConfigurationError (one line: the port, what to do) unless the gateway can listen on
    `port`: checked before PostgreSQL and moto start, so a busy port costs nothing."""
    if port == 0:
        return
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the gateway binds
        try:
            probe.bind((host, port))
        except OSError as exc:
            raise ConfigurationError(busy_port_message(host, port, exc)) from None


def busy_port_message(host: str, port: int, exc: OSError) -> str:
    other = _free_port_near(host, port)
    instead = f"make dev PORT={other} (salonbot local --port {other})"
    if exc.errno == errno.EADDRINUSE:
        return (
            f"port {port} on {host} is already in use (another `make dev`, or another "
            f"program): stop it, or start on another port: {instead}"
        )
    return f"port {port} on {host} cannot be used ({exc.strerror or exc}): try {instead}"


def _free_port_near(host: str, port: int) -> int:
    for candidate in range(port + 1, min(port + 50, 65536)):
        with socket.socket() as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                probe.bind((host, candidate))
            except OSError:
                continue
            return candidate
    return 3100


def _user_pools(created: list[CreatedResource]) -> dict[str, str]:
    """The issuer (as the template's Cognito authorizer names it) of each user pool: a
    pool's id starts with its region (`eu-west-1_…`)."""
    return {
        f"https://cognito-idp.{pool.partition('_')[0]}.amazonaws.com/{pool}": pool
        for pool in (c.physical_id for c in created if c.type == USER_POOL)
    }


def user_pool_key_set(aws_endpoint: str, pool_id: str) -> dict[str, Any]:
    """The user pool's JWKS document, from the Cognito endpoint (moto serves it)."""
    import json
    import urllib.request

    url = f"{aws_endpoint.rstrip('/')}/{pool_id}/.well-known/jwks.json"
    with urllib.request.urlopen(url, timeout=10) as response:
        document: dict[str, Any] = json.load(response)
    return document


def _phone_number_id(salon_file: Path | None) -> str | None:
    if salon_file is None:
        return None
    from salonbot.booking.salon_file import load_salon_file

    return load_salon_file(salon_file).whatsapp_phone_number_id
