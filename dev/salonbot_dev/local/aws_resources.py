"""Create the template's queues, tables, topics (with their subscriptions and filter
policies), secrets and Cognito user pools (with their clients and groups) on an AWS
endpoint (moto locally), from their own `Properties`, and record the physical ids
`!Ref`/`!GetAtt` see."""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from salonbot_dev.local.template import TemplateError

if TYPE_CHECKING:
    from salonbot_dev.local.template import Resolver

QUEUE = "AWS::SQS::Queue"
TABLE = "AWS::DynamoDB::Table"
SIMPLE_TABLE = "AWS::Serverless::SimpleTable"
TOPIC = "AWS::SNS::Topic"
SUBSCRIPTION = "AWS::SNS::Subscription"
SECRET = "AWS::SecretsManager::Secret"
USER_POOL = "AWS::Cognito::UserPool"
USER_POOL_CLIENT = "AWS::Cognito::UserPoolClient"
USER_POOL_GROUP = "AWS::Cognito::UserPoolGroup"
CREATED_TYPES = (
    QUEUE,
    TABLE,
    SIMPLE_TABLE,
    TOPIC,
    SUBSCRIPTION,
    SECRET,
    USER_POOL,
    USER_POOL_CLIENT,
    USER_POOL_GROUP,
)
# CloudFormation user pool properties CreateUserPool takes under the same name.
_USER_POOL_PROPERTIES = (
    "UsernameAttributes",
    "AutoVerifiedAttributes",
    "AdminCreateUserConfig",
    "Policies",
    "MfaConfiguration",
    "AccountRecoverySetting",
)
# CloudFormation user pool client properties CreateUserPoolClient takes as they are.
_USER_POOL_CLIENT_PROPERTIES = (
    "GenerateSecret",
    "AllowedOAuthFlowsUserPoolClient",
    "AllowedOAuthFlows",
    "AllowedOAuthScopes",
    "CallbackURLs",
    "LogoutURLs",
    "SupportedIdentityProviders",
    "ExplicitAuthFlows",
    "PreventUserExistenceErrors",
    "EnableTokenRevocation",
    "AccessTokenValidity",
    "IdTokenValidity",
    "RefreshTokenValidity",
    "TokenValidityUnits",
)
# CloudFormation subscription properties that are subscription attributes (JSON ones
# serialized), as SNS's Subscribe takes them.
_SUBSCRIPTION_ATTRIBUTES = (
    "DeliveryPolicy",
    "FilterPolicy",
    "FilterPolicyScope",
    "RawMessageDelivery",
    "RedrivePolicy",
)

# CloudFormation SQS properties that are queue attributes under the same name.
_QUEUE_ATTRIBUTES = (
    "ContentBasedDeduplication",
    "DeduplicationScope",
    "DelaySeconds",
    "FifoQueue",
    "FifoThroughputLimit",
    "MaximumMessageSize",
    "MessageRetentionPeriod",
    "ReceiveMessageWaitTimeSeconds",
    "VisibilityTimeout",
)


@dataclass
class CreatedResource:
    logical_id: str
    type: str
    physical_id: str  # queue URL, table name, topic ARN, subscription ARN, secret ARN


@dataclass
class AwsClients:
    """boto3 clients for one endpoint; `AwsClients.for_endpoint` builds them."""

    sqs: Any
    dynamodb: Any
    sns: Any
    secretsmanager: Any
    cognito: Any

    @classmethod
    def for_endpoint(cls, endpoint_url: str | None, region: str) -> AwsClients:
        import boto3

        session = boto3.session.Session(region_name=region)
        return cls(
            *(
                session.client(name, endpoint_url=endpoint_url)
                for name in ("sqs", "dynamodb", "sns", "secretsmanager", "cognito-idp")
            )
        )


@dataclass
class ResourceBuilder:
    """Creates resources in dependency order (a queue's DLQ before the queue)."""

    resolver: Resolver
    clients: AwsClients
    # Values for generated secrets, by logical id (e.g. the local app secret).
    secret_values: dict[str, str] = field(default_factory=dict)
    created: list[CreatedResource] = field(default_factory=list)

    def physical_name(self, logical_id: str, *, fifo: bool = False, limit: int = 80) -> str:
        name = f"{self.resolver.stack_name}-{logical_id}"[: limit - (5 if fifo else 0)]
        return f"{name}.fifo" if fifo else name

    def create_all(self) -> list[CreatedResource]:
        pending = {
            logical_id: resource
            for logical_id, resource in self.resolver.template.resources_of_type(
                *CREATED_TYPES
            ).items()
            if self.resolver.included(resource)
        }
        while pending:
            ready = [lid for lid, res in pending.items() if not self._waits_on(res, pending)]
            if not ready:
                raise TemplateError(f"circular references between {sorted(pending)}")
            for logical_id in ready:
                resource = pending.pop(logical_id)
                self.created.append(self._create(logical_id, resource))
        return self.created

    def _waits_on(self, resource: dict[str, Any], pending: dict[str, Any]) -> bool:
        return bool(_referenced_ids(resource.get("Properties") or {}) & set(pending))

    def _create(self, logical_id: str, resource: dict[str, Any]) -> CreatedResource:
        properties = self.resolver.resolve(resource.get("Properties") or {})
        kind = resource["Type"]
        if kind == QUEUE:
            return self._queue(logical_id, properties)
        if kind in (TABLE, SIMPLE_TABLE):
            if kind == SIMPLE_TABLE:
                properties = _simple_table_properties(properties)
            return self._table(logical_id, properties)
        if kind == TOPIC:
            return self._topic(logical_id, properties)
        if kind == SUBSCRIPTION:
            return self._subscription(logical_id, properties)
        if kind == USER_POOL:
            return self._user_pool(logical_id, properties)
        if kind == USER_POOL_CLIENT:
            return self._user_pool_client(logical_id, properties)
        if kind == USER_POOL_GROUP:
            return self._user_pool_group(logical_id, properties)
        return self._secret(logical_id, properties)

    def _user_pool(self, logical_id: str, properties: dict[str, Any]) -> CreatedResource:
        name = properties.get("UserPoolName") or self.physical_name(logical_id, limit=128)
        request = {k: properties[k] for k in _USER_POOL_PROPERTIES if k in properties}
        pool = self.clients.cognito.create_user_pool(PoolName=name, **request)["UserPool"]
        self.resolver.refs[logical_id] = pool["Id"]
        self.resolver.attributes.update(
            {
                (logical_id, "Arn"): pool["Arn"],
                (logical_id, "UserPoolId"): pool["Id"],
                (logical_id, "ProviderName"): f"cognito-idp.{self.resolver.region}"
                f".amazonaws.com/{pool['Id']}",
            }
        )
        return CreatedResource(logical_id, USER_POOL, pool["Id"])

    def _user_pool_client(self, logical_id: str, properties: dict[str, Any]) -> CreatedResource:
        request = {k: properties[k] for k in _USER_POOL_CLIENT_PROPERTIES if k in properties}
        client = self.clients.cognito.create_user_pool_client(
            UserPoolId=properties["UserPoolId"],
            ClientName=properties.get("ClientName") or logical_id,
            **request,
        )["UserPoolClient"]
        self.resolver.refs[logical_id] = client["ClientId"]
        self.resolver.attributes[(logical_id, "ClientId")] = client["ClientId"]
        return CreatedResource(logical_id, USER_POOL_CLIENT, client["ClientId"])

    def _user_pool_group(self, logical_id: str, properties: dict[str, Any]) -> CreatedResource:
        name = properties.get("GroupName") or logical_id
        optional = {k: properties[k] for k in ("Description", "Precedence") if k in properties}
        self.clients.cognito.create_group(
            UserPoolId=properties["UserPoolId"], GroupName=name, **optional
        )
        self.resolver.refs[logical_id] = name
        return CreatedResource(logical_id, USER_POOL_GROUP, name)

    def _queue(self, logical_id: str, properties: dict[str, Any]) -> CreatedResource:
        fifo = str(properties.get("FifoQueue", "false")).lower() == "true"
        name = properties.get("QueueName") or self.physical_name(logical_id, fifo=fifo)
        attributes = {
            key: str(properties[key]).lower()
            if isinstance(properties[key], bool)
            else str(properties[key])
            for key in _QUEUE_ATTRIBUTES
            if key in properties
        }
        for policy in ("RedrivePolicy", "RedriveAllowPolicy"):
            if policy in properties:
                value = properties[policy]
                attributes[policy] = value if isinstance(value, str) else json.dumps(value)
        url = self.clients.sqs.create_queue(QueueName=name, Attributes=attributes)["QueueUrl"]
        arn = self.clients.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])[
            "Attributes"
        ]["QueueArn"]
        self.resolver.refs[logical_id] = url
        self.resolver.attributes.update(
            {
                (logical_id, "Arn"): arn,
                (logical_id, "QueueName"): name,
                (logical_id, "QueueUrl"): url,
            }
        )
        return CreatedResource(logical_id, QUEUE, url)

    def _table(self, logical_id: str, properties: dict[str, Any]) -> CreatedResource:
        name = properties.get("TableName") or self.physical_name(logical_id, limit=255)
        request: dict[str, Any] = {
            "TableName": name,
            "AttributeDefinitions": properties["AttributeDefinitions"],
            "KeySchema": properties["KeySchema"],
        }
        if "ProvisionedThroughput" in properties:
            request["BillingMode"] = properties.get("BillingMode", "PROVISIONED")
            request["ProvisionedThroughput"] = _throughput(properties["ProvisionedThroughput"])
        else:
            request["BillingMode"] = "PAY_PER_REQUEST"
        for index_kind in ("GlobalSecondaryIndexes", "LocalSecondaryIndexes"):
            if properties.get(index_kind):
                request[index_kind] = [
                    {
                        k: v
                        for k, v in index.items()
                        if k not in ("ContributorInsightsSpecification",)
                    }
                    for index in properties[index_kind]
                ]
        client = self.clients.dynamodb
        try:
            description = client.create_table(**request)["TableDescription"]
        except client.exceptions.ResourceInUseException:
            description = client.describe_table(TableName=name)["Table"]
        ttl = properties.get("TimeToLiveSpecification") or {}
        if str(ttl.get("Enabled", "false")).lower() == "true":
            client.update_time_to_live(
                TableName=name,
                TimeToLiveSpecification={"Enabled": True, "AttributeName": ttl["AttributeName"]},
            )
        self.resolver.refs[logical_id] = name
        self.resolver.attributes[(logical_id, "Arn")] = description["TableArn"]
        return CreatedResource(logical_id, TABLE, name)

    def _topic(self, logical_id: str, properties: dict[str, Any]) -> CreatedResource:
        fifo = str(properties.get("FifoTopic", "false")).lower() == "true"
        name = properties.get("TopicName") or self.physical_name(logical_id, fifo=fifo, limit=256)
        attributes = {"FifoTopic": "true"} if fifo else {}
        arn = self.clients.sns.create_topic(Name=name, Attributes=attributes)["TopicArn"]
        self.resolver.refs[logical_id] = arn
        self.resolver.attributes.update(
            {(logical_id, "TopicArn"): arn, (logical_id, "TopicName"): name}
        )
        return CreatedResource(logical_id, TOPIC, arn)

    def _subscription(self, logical_id: str, properties: dict[str, Any]) -> CreatedResource:
        """Subscribed with its filter policy, which the endpoint (moto) then applies to
        every publish, as SNS does."""
        attributes: dict[str, str] = {}
        for key in _SUBSCRIPTION_ATTRIBUTES:
            if key not in properties:
                continue
            value = properties[key]
            if isinstance(value, bool):
                attributes[key] = str(value).lower()
            elif isinstance(value, dict | list):
                attributes[key] = json.dumps(value)
            else:
                attributes[key] = str(value)
        arn = self.clients.sns.subscribe(
            TopicArn=properties["TopicArn"],
            Protocol=properties["Protocol"],
            Endpoint=properties["Endpoint"],
            Attributes=attributes,
            ReturnSubscriptionArn=True,
        )["SubscriptionArn"]
        self.resolver.refs[logical_id] = arn
        return CreatedResource(logical_id, SUBSCRIPTION, arn)

    def _secret(self, logical_id: str, properties: dict[str, Any]) -> CreatedResource:
        name = properties.get("Name") or self.physical_name(logical_id, limit=512)
        value = properties.get("SecretString")
        if value is None:
            value = self._generated_secret(logical_id, properties.get("GenerateSecretString") or {})
        client = self.clients.secretsmanager
        try:
            arn = client.create_secret(Name=name, SecretString=value)["ARN"]
        except client.exceptions.ResourceExistsException:
            arn = client.put_secret_value(SecretId=name, SecretString=value)["ARN"]
        self.resolver.refs[logical_id] = arn
        self.resolver.attributes[(logical_id, "Id")] = arn
        return CreatedResource(logical_id, SECRET, arn)

    def _generated_secret(self, logical_id: str, spec: dict[str, Any]) -> str:
        value = self.secret_values.get(logical_id) or secrets.token_urlsafe(24)
        template, key = spec.get("SecretStringTemplate"), spec.get("GenerateStringKey")
        if template and key:
            data = json.loads(template)
            data[key] = value
            return json.dumps(data)
        return value


def _throughput(value: dict[str, Any]) -> dict[str, int]:
    return {k: int(v) for k, v in value.items()}


def _simple_table_properties(properties: dict[str, Any]) -> dict[str, Any]:
    key = properties.get("PrimaryKey") or {"Name": "id", "Type": "String"}
    type_code = {"String": "S", "Number": "N", "Binary": "B"}[key.get("Type", "String")]
    result: dict[str, Any] = {
        "AttributeDefinitions": [{"AttributeName": key["Name"], "AttributeType": type_code}],
        "KeySchema": [{"AttributeName": key["Name"], "KeyType": "HASH"}],
    }
    if "TableName" in properties:
        result["TableName"] = properties["TableName"]
    return result


def _referenced_ids(value: Any) -> set[str]:
    """Logical ids a (still unresolved) value refers to through Ref, GetAtt or Sub."""
    found: set[str] = set()
    if isinstance(value, list):
        for item in value:
            found |= _referenced_ids(item)
    elif isinstance(value, dict):
        for key, item in value.items():
            if key == "Ref" and isinstance(item, str):
                found.add(item)
            elif key == "Fn::GetAtt":
                target = item[0] if isinstance(item, list) else str(item).split(".")[0]
                found.add(str(target))
            elif key == "Fn::Sub":
                text = item[0] if isinstance(item, list) else item
                found |= {name.split(".")[0] for name in _sub_names(str(text))}
                found |= _referenced_ids(item[1] if isinstance(item, list) else None)
            else:
                found |= _referenced_ids(item)
    return found


def _sub_names(text: str) -> list[str]:
    import re

    return [n for n in re.findall(r"\$\{([^}!][^}]*)\}", text)]
