"""`salonbot local`: the whole system on one machine, from `template.yaml`.

Start order: PostgreSQL (migrations, demo salon) → AWS endpoint (moto) and the template's
resources → fake WhatsApp send API → handler environment → gateway (enforcing the
template's JWT authorizers against the local issuer's key), SQS pollers, schedules →
`stack.json`. Stop runs the same steps backwards, whatever failed."""

from __future__ import annotations

import logging
import os
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from salonbot.errors import ConfigurationError
from salonbot_dev.local.authorizers import JwtVerifier
from salonbot_dev.local.aws_resources import QUEUE, AwsClients, CreatedResource, ResourceBuilder
from salonbot_dev.local.database import LocalDatabase, prepare
from salonbot_dev.local.environment import LOCAL_APP_SECRET, LOCAL_VERIFY_TOKEN, handler_environment
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
        self._restore_environment_on_stop()
        template = Template.load(opts.root / "template.yaml")

        database_url = self._start_database(env.get("DATABASE_URL") or None)
        imported = prepare(database_url, opts.salon_file)
        if imported is not None:
            self._say(f"demo salon: {imported.salon_id} (from {opts.salon_file})")

        region = env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION") or DEFAULT_REGION
        aws_endpoint = self._start_aws(env.get("AWS_ENDPOINT_URL") or None, region)
        resolver = Resolver(template, region=region)
        created = ResourceBuilder(
            resolver, AwsClients.for_endpoint(aws_endpoint, region), secret_values={}
        ).create_all()
        self._say(f"AWS resources from template.yaml: {', '.join(c.logical_id for c in created)}")

        whatsapp_url = env.get("WHATSAPP_API_BASE_URL") or self._start_fake_whatsapp()
        specs = read_functions(resolver, opts.root)
        local = {
            "DATABASE_URL": database_url,
            "AWS_ENDPOINT_URL": aws_endpoint,
            "AWS_REGION": region,
            "AWS_DEFAULT_REGION": region,
            "WHATSAPP_API_BASE_URL": whatsapp_url,
        }
        variables, removed = handler_environment(
            specs, local=local, user=env, created=[c.physical_id for c in created]
        )
        self._apply_environment(variables, removed)

        self.functions = [LocalFunction(spec, region=region) for spec in specs]
        for function in self.functions:
            function.handler()  # import now: a broken handler fails the start, not a request
        self._start_gateway(region)
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

    def _start_gateway(self, region: str) -> None:
        if not any(f.spec.routes for f in self.functions):
            return
        # The local issuer's key stands in for every JWT authorizer's issuer: tokens from
        # `salonbot token` name the template's issuer and audience and are signed with it.
        issuer = LocalIssuer.in_folder(self.options.state_dir)
        issuers = {
            route.auth.authorizer.issuer
            for function in self.functions
            for route in function.spec.routes
            if route.auth is not None
        }
        self.gateway = Gateway(
            self.functions,
            host=self.options.host,
            port=self.options.port,
            run_schedule=self.run_schedule,
            verifier=JwtVerifier(dict.fromkeys(issuers, issuer.jwks())),
            jwks=issuer.jwks(),
        )
        self.gateway.start()
        self._exit.callback(self.gateway.stop)

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


def _phone_number_id(salon_file: Path | None) -> str | None:
    if salon_file is None:
        return None
    from salonbot.booking.salon_file import load_salon_file

    return load_salon_file(salon_file).whatsapp_phone_number_id
