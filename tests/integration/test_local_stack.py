"""The local stack in this process, on a small project of its own (template and three
functions): routes, queue, schedule, environment, state files, the template's JWT
authorizer enforced over HTTP, and a clean stop."""

from __future__ import annotations

import io
import json
import os
import socket
import textwrap
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest

from salonbot_dev.local.environment import LOCAL_APP_SECRET
from salonbot_dev.local.issuer import LocalIssuer
from salonbot_dev.local.stack import LocalStack, StackOptions
from salonbot_dev.local.state import StackAddresses
from tests.conftest import DEMO_SALON_FILE, DEMO_SALON_ID

pytestmark = pytest.mark.integration

TEMPLATE = """
Transform: AWS::Serverless-2016-10-31
Globals:
  Function:
    Timeout: 10
    Environment:
      Variables:
        LOG_LEVEL: INFO
        WHATSAPP_APP_SECRET_ARN: !Ref AppSecret
        OPENAI_API_KEY_SECRET_ARN: arn:aws:secretsmanager:eu-west-1:123456789012:secret:openai
Parameters:
  TokenIssuer: {Type: String, Default: "https://id.example.com/"}
Resources:
  Api:
    Type: AWS::Serverless::HttpApi
    Properties:
      Auth:
        DefaultAuthorizer: Backend
        Authorizers:
          Backend:
            IdentitySource: $request.header.Authorization
            JwtConfiguration: {issuer: !Ref TokenIssuer, audience: [hello-api]}
  AppSecret:
    Type: AWS::SecretsManager::Secret
    Properties: {GenerateSecretString: {PasswordLength: 20}}
  DeadLetterQueue:
    Type: AWS::SQS::Queue
    Properties: {FifoQueue: true}
  Queue:
    Type: AWS::SQS::Queue
    Properties:
      FifoQueue: true
      ContentBasedDeduplication: true
      VisibilityTimeout: 60
      RedrivePolicy: {deadLetterTargetArn: !GetAtt DeadLetterQueue.Arn, maxReceiveCount: 3}
  Seen:
    Type: AWS::DynamoDB::Table
    Properties:
      BillingMode: PAY_PER_REQUEST
      AttributeDefinitions: [{AttributeName: body, AttributeType: S}]
      KeySchema: [{AttributeName: body, KeyType: HASH}]
  HelloFunction:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: functions/hello/
      Handler: app.lambda_handler
      Environment:
        Variables:
          QUEUE_URL: !Ref Queue
      Events:
        Hello: {Type: HttpApi, Properties: {Path: "/hello/{name}", Method: GET}}
        Enqueue: {Type: HttpApi, Properties: {Path: /enqueue, Method: POST}}
        Secret:
          Type: HttpApi
          Properties:
            ApiId: !Ref Api
            Path: /secret
            Method: GET
            Auth: {AuthorizationScopes: [hello:read]}
  WorkerFunction:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: functions/worker/
      Handler: app.lambda_handler
      Environment:
        Variables:
          SEEN_TABLE: !Ref Seen
      Events:
        Jobs:
          Type: SQS
          Properties:
            Queue: !GetAtt Queue.Arn
            BatchSize: 10
            FunctionResponseTypes: [ReportBatchItemFailures]
  NightlyFunction:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: functions/nightly_job/
      Handler: app.lambda_handler
      Events:
        Nightly: {Type: Schedule, Properties: {Schedule: "cron(0 2 * * ? *)"}}
"""

HELLO = """
import os
import boto3

def lambda_handler(event, context):
    if event["routeKey"] == "GET /secret":
        return event["requestContext"]["authorizer"]
    if event["routeKey"] == "POST /enqueue":
        boto3.client("sqs").send_message(
            QueueUrl=os.environ["QUEUE_URL"], MessageBody=event["body"], MessageGroupId="g"
        )
        return {"statusCode": 202, "body": ""}
    return {
        "name": event["pathParameters"]["name"],
        "query": event.get("queryStringParameters"),
        "routeKey": event["routeKey"],
        "function": context.function_name,
        "app_secret": os.environ.get("WHATSAPP_APP_SECRET"),
        "openai_arn": os.environ.get("OPENAI_API_KEY_SECRET_ARN"),
        "log_level": os.environ.get("LOG_LEVEL"),
    }
"""

WORKER = """
import os
import boto3

def lambda_handler(event, context):
    table = os.environ["SEEN_TABLE"]
    for record in event["Records"]:
        boto3.client("dynamodb").put_item(
            TableName=table, Item={"body": {"S": record["body"]}}
        )
    return {"batchItemFailures": []}
"""

NIGHTLY = """
def lambda_handler(event, context):
    return {"detail_type": event["detail-type"], "function": context.function_name}
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def project(root: Path) -> Path:
    root.mkdir(parents=True)
    (root / "template.yaml").write_text(TEMPLATE)
    for folder, code in [("hello", HELLO), ("worker", WORKER), ("nightly_job", NIGHTLY)]:
        (root / "functions" / folder).mkdir(parents=True)
        (root / "functions" / folder / "app.py").write_text(textwrap.dedent(code))
    return root


@pytest.fixture
def stack(tmp_path: Path, database_url: str) -> Iterator[LocalStack]:
    root = project(tmp_path / "project")
    environ = {
        "DATABASE_URL": database_url,
        "WHATSAPP_API_BASE_URL": "http://127.0.0.1:9/not-used",
        "PATH": os.environ.get("PATH", ""),
    }
    options = StackOptions(
        root=root,
        state_dir=tmp_path / "state",
        port=free_port(),
        salon_file=DEMO_SALON_FILE,
        run_schedules=False,
        environ=environ,
    )
    local = LocalStack(options, out=io.StringIO())
    local.start()
    yield local
    local.stop()


def get_json(url: str, method: str = "GET", body: bytes | None = None) -> Any:
    request = urllib.request.Request(url, data=body, method=method)
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.load(response)


def test_routes_reach_the_function_with_its_environment(stack: LocalStack) -> None:
    assert stack.addresses is not None
    # When the gateway gets a request for a route of the template
    result = get_json(f"{stack.addresses.gateway_url}/hello/anna?x=1")
    # Then the route's function got the v2 event and the template's resolved environment
    assert result["name"] == "anna"
    assert result["query"] == {"x": "1"}
    assert result["routeKey"] == "GET /hello/{name}"
    assert result["function"] == "HelloFunction"
    # with the local app secret, and no pointer to an OpenAI key that is not configured
    assert result["app_secret"] == LOCAL_APP_SECRET
    assert result["openai_arn"] is None
    assert result["log_level"] == "WARNING"
    # And an unknown path is API Gateway's 404
    with pytest.raises(urllib.error.HTTPError) as missing:
        get_json(f"{stack.addresses.gateway_url}/nope")
    assert missing.value.code == 404


def fetch(url: str, token: str | None = None) -> tuple[int, Any, dict[str, str]]:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    try:
        with urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=10) as r:
            return r.status, json.load(r), dict(r.headers)
    except urllib.error.HTTPError as refused:
        return refused.code, json.load(refused), dict(refused.headers)


def test_the_templates_jwt_authorizer_guards_its_route(stack: LocalStack) -> None:
    assert stack.addresses is not None
    url = f"{stack.addresses.gateway_url}/secret"
    issuer = LocalIssuer.in_folder(stack.options.state_dir)

    def token(**changes: Any) -> str:
        options: dict[str, Any] = {
            "issuer": "https://id.example.com/",
            "audience": "hello-api",
            "salons": [str(DEMO_SALON_ID)],
            "scopes": ["hello:read"],
        }
        return issuer.issue(**{**options, **changes})

    # No token: API Gateway's 401, before the function
    status, body, headers = fetch(url)
    assert (status, body) == (401, {"message": "Unauthorized"})
    assert headers["www-authenticate"].startswith("Bearer ")
    # A token of the stack's issuer for the template's issuer and audience: the function
    # gets its claims as API Gateway passes them
    status, body, _ = fetch(url, token())
    assert status == 200
    assert body["jwt"]["claims"]["salon_id"] == str(DEMO_SALON_ID)
    assert body["jwt"]["claims"]["aud"] == "hello-api" and body["jwt"]["scopes"] == ["hello:read"]
    # Expired, signed by another key, for another audience or issuer: 401
    stranger = LocalIssuer.in_folder(stack.options.state_dir / "elsewhere")
    for refused in (
        token(now=time.time() - 7200),
        stranger.issue(
            issuer="https://id.example.com/", audience="hello-api", salons=[], scopes=["hello:read"]
        ),
        token(audience="another-api"),
        token(issuer="https://other.example.com/"),
    ):
        assert fetch(url, refused)[:2] == (401, {"message": "Unauthorized"})
    # Valid, but without the route's scope: 403
    assert fetch(url, token(scopes=["hello:write"]))[:2] == (403, {"message": "Forbidden"})
    # The issuer's public key is served for backends that verify tokens themselves
    status, jwks, _ = fetch(f"{stack.addresses.gateway_url}/_local/jwks.json")
    assert status == 200 and jwks == issuer.jwks()


def test_a_queued_message_reaches_the_worker(stack: LocalStack) -> None:
    assert stack.addresses is not None
    body = f"job-{time.monotonic_ns()}".encode()
    request = urllib.request.Request(
        f"{stack.addresses.gateway_url}/enqueue",
        data=body,
        method="POST",
        headers={"Content-Type": "text/plain"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.status == 202
    dynamodb = boto3.client(
        "dynamodb", endpoint_url=stack.addresses.aws_endpoint_url, region_name="eu-west-1"
    )
    # moto's backends are per process: other tests' tables may be listed too
    (table,) = [name for name in dynamodb.list_tables()["TableNames"] if name.endswith("-Seen")]
    deadline = time.monotonic() + 30
    item = None
    while item is None and time.monotonic() < deadline:
        item = dynamodb.get_item(TableName=table, Key={"body": {"S": body.decode()}}).get("Item")
        time.sleep(0.05)
    assert item == {"body": {"S": body.decode()}}


def test_a_schedule_runs_on_demand(stack: LocalStack) -> None:
    assert stack.addresses is not None
    result = get_json(
        f"{stack.addresses.gateway_url}/_local/schedules/nightly-job", method="POST", body=b""
    )
    assert result == {"result": {"detail_type": "Scheduled Event", "function": "NightlyFunction"}}


def test_state_files_and_demo_salon(stack: LocalStack, database_url: str) -> None:
    state_dir = stack.options.state_dir
    addresses = StackAddresses.read(state_dir)
    assert addresses == stack.addresses
    assert addresses.demo_salon_id == str(DEMO_SALON_ID)
    assert (state_dir / "database_url").read_text().strip() == database_url
    import psycopg

    with psycopg.connect(database_url) as conn:
        row = conn.execute("SELECT name FROM salons WHERE id = %s", (DEMO_SALON_ID,)).fetchone()
    assert row == ("Nail Studio Aurora",)


def test_stop_closes_ports_removes_state_and_restores_the_environment(
    tmp_path: Path, database_url: str
) -> None:
    root = project(tmp_path / "project")
    before = dict(os.environ)
    port = free_port()
    options = StackOptions(
        root=root,
        state_dir=tmp_path / "state",
        port=port,
        run_schedules=True,
        environ={"DATABASE_URL": database_url, "WHATSAPP_API_BASE_URL": "http://127.0.0.1:9"},
    )
    local = LocalStack(options, out=io.StringIO())
    addresses = local.start()
    assert os.environ["AWS_ENDPOINT_URL"] == addresses.aws_endpoint_url
    # When it stops
    local.stop()
    # Then nothing listens any more, its files are gone and the environment is as before
    for url in (addresses.gateway_url, addresses.aws_endpoint_url):
        host, _, url_port = url.removeprefix("http://").partition(":")
        with pytest.raises(OSError), socket.create_connection((host, int(url_port)), timeout=2):
            pass
    assert not (tmp_path / "state" / "stack.json").exists()
    assert not (tmp_path / "state" / "database_url").exists()
    assert dict(os.environ) == before
