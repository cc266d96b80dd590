"""The backups check of `salonbot doctor --stack`: the RDS database's automated backups
(point-in-time restore) and the DynamoDB tables' point-in-time recovery, where a table
needs it (`TABLE_BACKUPS` says which do not, and why).

Kept apart from `aws.py`: finding the database behind the stack (its secret's RDS tags,
or its host) is a piece of its own. `StackDoctor.backups` calls `backups`.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from salonbot_dev.doctor import Outcome, fail, ok, warn
from salonbot_dev.doctor.aws_stack import error_code

if TYPE_CHECKING:
    from salonbot_dev.doctor.aws import StackDoctor

# DynamoDB tables and why each needs point-in-time recovery or not (template.yaml).
TABLE_BACKUPS = {
    "CostTable": None,  # needs it: spend counters and alert markers of the day
    "IdempotencyTable": "message-id claims kept 8 days; PostgreSQL's ledger dedupes too",
    "RateLimitTable": "one-minute rate windows",
}


def backups(doctor: StackDoctor) -> list[Outcome]:
    return [_database_backups(doctor), *_table_backups(doctor)]


def _database_backups(doctor: StackDoctor) -> Outcome:
    rds = doctor.aws("rds")
    env = doctor.environment("ProcessorFunction") or doctor.environment("AdminFunction")
    secret_arn = env.get("DB_SECRET_ARN")
    instance_arn = cluster_arn = None
    if secret_arn:
        try:
            tags = (
                doctor.aws("secretsmanager").describe_secret(SecretId=secret_arn).get("Tags") or []
            )
        except Exception:
            tags = []
        by_key = {t["Key"]: t["Value"] for t in tags}
        instance_arn = by_key.get("aws:rds:primaryDBInstanceArn")
        cluster_arn = by_key.get("aws:rds:primaryDBClusterArn")
    host = env.get("DB_HOST")
    if not host and secret_arn and not (instance_arn or cluster_arn):
        raw = doctor.secret_value(secret_arn)
        try:
            host = json.loads(raw or "{}").get("host")
        except ValueError:
            host = None
    for page in rds.get_paginator("describe_db_instances").paginate():
        for db in page["DBInstances"]:
            address = (db.get("Endpoint") or {}).get("Address")
            if db["DBInstanceArn"] == instance_arn or (host and address == host):
                if db.get("DBClusterIdentifier"):
                    cluster_arn = cluster_arn or db["DBClusterIdentifier"]
                    break
                return _retention(
                    "instance", db["DBInstanceIdentifier"], db["BackupRetentionPeriod"]
                )
    for page in rds.get_paginator("describe_db_clusters").paginate():
        for cluster in page["DBClusters"]:
            ids = (cluster["DBClusterArn"], cluster["DBClusterIdentifier"])
            if cluster_arn in ids or (
                host and host in (cluster.get("Endpoint"), cluster.get("ReaderEndpoint"))
            ):
                return _retention(
                    "cluster", cluster["DBClusterIdentifier"], cluster["BackupRetentionPeriod"]
                )
    return warn(
        "the database behind the stack is not an RDS instance or cluster these credentials "
        f"can see (host {host or 'unknown'})",
        "check its backups by hand: automated backups with point-in-time restore",
    )


def _retention(kind: str, name: str, days: int) -> Outcome:
    if days and days > 0:
        return ok(f"RDS {kind} {name}: automated backups kept {days} days (point-in-time restore)")
    option = "--db-cluster-identifier" if kind == "cluster" else "--db-instance-identifier"
    return fail(
        f"RDS {kind} {name} has automated backups off (retention 0)",
        f"aws rds modify-db-{kind} {option} {name} --backup-retention-period 7 --apply-immediately",
    )


def _table_backups(doctor: StackDoctor) -> list[Outcome]:
    found = []
    dynamodb = doctor.aws("dynamodb")
    for logical, name in sorted(doctor.stack.of_type("AWS::DynamoDB::Table").items()):
        why_not = TABLE_BACKUPS.get(logical)
        if why_not:
            found.append(ok(f"{logical}: no point-in-time recovery, by design ({why_not})"))
            continue
        try:
            described = dynamodb.describe_continuous_backups(TableName=name)
        except Exception as exc:
            found.append(
                fail(
                    f"{logical} ({name}) cannot be read ({error_code(exc)})",
                    doctor.fix("table", name),
                )
            )
            continue
        status = (
            described["ContinuousBackupsDescription"]
            .get("PointInTimeRecoveryDescription", {})
            .get("PointInTimeRecoveryStatus")
        )
        if status == "ENABLED":
            found.append(ok(f"{logical}: point-in-time recovery on"))
        else:
            found.append(
                fail(
                    f"{logical} ({name}): point-in-time recovery is off",
                    f"aws dynamodb update-continuous-backups --table-name {name} "
                    "--point-in-time-recovery-specification PointInTimeRecoveryEnabled=true",
                )
            )
    return found
