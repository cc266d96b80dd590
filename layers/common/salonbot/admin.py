"""AdminFunction: the database work a deploy needs, inside the VPC where the database is.

- As a CloudFormation custom resource (`Custom::DatabaseMigrations`), every `sam deploy`
  that changes the layer applies the pending migrations before the stack completes; a
  failure fails the deploy (and CloudFormation rolls back). Deleting the stack never
  touches the data.
- Invoked directly (`aws lambda invoke`, or `salonbot ... --function NAME`):
  `{"action": "migrate"}`, `{"action": "import_salon", "salon": {...salon file...}}`,
  `{"action": "forget_customer", "salon_id": ..., "phone": ...}` (erasure, from
  `salonbot forget --function NAME`; the DynamoDB tables come from the function's
  environment), `{"action": "ai_switch", "set": "off" | "on" | null, "salon_id": ID |
  null, "changed_by": ...}` (the kill switch; without `set` it only reads), `{"action":
  "doctor"}` (schema, salons and switches for `salonbot doctor`) and `{"action":
  "clear_sandbox"}` (deletes what the doctor's sandbox customer left).
  Bad input is answered with `{"ok": false, "error": ..., "field": ...}` and writes nothing.

Migrations run on a connection of their own without a statement timeout, so a long index
build is not cut at the functions' usual 5 s; the transaction-level advisory lock in
`salonbot.db.migrate` keeps two deploys from applying a migration twice."""

from __future__ import annotations

import json
import time
import urllib.request
from typing import Any

from salonbot.errors import InvalidInput, NotFound
from salonbot.observability import logger

PHYSICAL_ID = "salonbot-database-migrations"
RESPONSE_ATTEMPTS = 3
REASON_MAX = 1000
ADMIN_LOCK_TIMEOUT_S = 120


def handle(event: dict[str, Any], log_stream: str = "") -> dict[str, Any]:
    if "RequestType" in event and "ResponseURL" in event:
        return custom_resource(event, log_stream)
    return action(event)


# -- direct invocations -------------------------------------------------------------------


def action(event: dict[str, Any]) -> dict[str, Any]:
    name = event.get("action")
    try:
        if name == "migrate":
            return {"ok": True, "applied": run_migrations()}
        if name == "import_salon":
            return {"ok": True, **import_salon(event.get("salon"))}
        if name == "forget_customer":
            return {"ok": True, **forget(event.get("salon_id"), event.get("phone"))}
        if name == "ai_switch":
            return {"ok": True, **ai_switch(event)}
        if name == "doctor":
            return {"ok": True, **doctor_facts()}
        if name == "clear_sandbox":
            return {"ok": True, **clear_sandbox()}
        raise InvalidInput(
            "expected 'migrate', 'import_salon', 'forget_customer', 'ai_switch', 'doctor' "
            "or 'clear_sandbox'",
            field="action",
        )
    except InvalidInput as exc:
        logger.warning("admin action refused", extra={"action": name, "field": exc.field})
        return {"ok": False, "error": exc.detail, "field": exc.field}
    except NotFound as exc:
        logger.warning("admin action refused", extra={"action": name, "field": "salon_id"})
        return {"ok": False, "error": str(exc), "field": "salon_id", "not_found": True}


def run_migrations() -> list[str]:
    from salonbot.db.migrate import migrate

    with _admin_connection() as conn:
        applied = migrate(conn)
    names = [f"{m.version:04d}_{m.name}" for m in applied]
    logger.info("migrations applied", extra={"applied": names})
    return names


def import_salon(data: Any) -> dict[str, Any]:
    from salonbot.booking.importer import import_salon as import_into
    from salonbot.booking.salon_file import validate_salon

    salon = validate_salon(data)
    with _admin_connection() as conn:
        result = import_into(conn, salon)
    logger.info("salon imported", extra={"salon_id": str(result.salon_id)})
    return {
        "salon_id": str(result.salon_id),
        "created": result.created,
        "revision": result.revision,
        "services": result.services,
        "masters": result.masters,
    }


def forget(salon_id: Any, phone: Any) -> dict[str, Any]:
    import uuid

    from salonbot.config import get_settings
    from salonbot.privacy.customer_items import CustomerItems
    from salonbot.privacy.erasure import forget_customer

    try:
        salon = uuid.UUID(str(salon_id))
    except ValueError:
        raise InvalidInput("must be a salon id (UUID)", field="salon_id") from None
    if not isinstance(phone, str):
        raise InvalidInput("must be an E.164 phone number or a WhatsApp user id", field="phone")
    items = CustomerItems.from_settings(get_settings())
    with _admin_connection() as conn:
        report = forget_customer(conn, salon, phone, items=items)
    return report.as_dict()


def ai_switch(event: dict[str, Any]) -> dict[str, Any]:
    """Set the kill switch (`set`: "off" or "on"; `salon_id`, or none for every salon)
    and answer every switch's state; without `set`, only the states."""
    import uuid

    from salonbot.assistant.switch import read_switches, set_switch

    wanted = event.get("set")
    if wanted not in (None, "off", "on"):
        raise InvalidInput("expected 'off', 'on' or nothing", field="set")
    raw = event.get("salon_id")
    try:
        salon_id = uuid.UUID(str(raw)) if raw else None
    except ValueError:
        raise InvalidInput("not a salon id (UUID)", field="salon_id") from None
    changed = None
    with _admin_connection() as conn:
        if wanted is not None:
            changed = set_switch(
                conn,
                off=wanted == "off",
                salon_id=salon_id,
                changed_by=str(event.get("changed_by") or "AdminFunction"),
            )
        states = read_switches(conn)
        conn.commit()
    if changed is not None:
        logger.warning(
            "AI switch changed",
            extra={"scope": changed.scope, "off": changed.off, "changed_by": changed.changed_by},
        )
    return {
        "changed": changed.as_dict() if changed else None,
        "switches": [state.as_dict() for state in states],
    }


def doctor_facts() -> dict[str, Any]:
    """What `salonbot doctor --stack` needs from inside the VPC: the schema against this
    code's migrations, the salons, the kill switch. Reads only."""
    from salonbot.assistant.switch import read_switches
    from salonbot.booking.catalog import list_salons
    from salonbot.db.migrate import schema_status

    with _admin_connection() as conn:
        schema = schema_status(conn)
        salons = list_salons(conn) if "salons" not in schema.missing_tables else []
        switches = read_switches(conn) if "ai_switch" not in schema.missing_tables else []
        conn.rollback()
    return {
        "schema": {
            "applied": schema.applied,
            "pending": schema.pending,
            "unknown": schema.unknown,
            "missing_tables": schema.missing_tables,
        },
        "salons": [
            {"id": str(row["id"]), "name": row["name"], "ai_enabled": row["ai_enabled"]}
            for row in salons
        ],
        "switches": [state.as_dict() for state in switches],
    }


def clear_sandbox() -> dict[str, Any]:
    from salonbot.conversation.sandbox import clear_sandbox as clear

    with _admin_connection() as conn:
        cleared = clear(conn)
        conn.commit()
    return {"cleared": cleared.as_dict()}


def _admin_connection() -> Any:
    from salonbot.config import get_settings
    from salonbot.db.connection import Timeouts, connect, resolve_dsn

    settings = get_settings()
    # No statement timeout for long migrations, but a bounded wait for locks (another
    # deploy's migration, a busy table), so the function answers before it times out.
    # Through RDS Proxy like the other functions: set per transaction, nothing pins.
    timeouts = Timeouts(
        statement_ms=0,
        idle_in_transaction_ms=settings.db_idle_in_transaction_timeout_ms,
        lock_ms=ADMIN_LOCK_TIMEOUT_S * 1000,
    )
    return connect(resolve_dsn(settings), settings, timeouts=timeouts)


# -- CloudFormation custom resource -------------------------------------------------------


def custom_resource(event: dict[str, Any], log_stream: str = "") -> dict[str, Any]:
    """Apply migrations on Create and Update, nothing on Delete; always answer
    CloudFormation (a custom resource that never answers hangs the stack for an hour)."""
    request = event["RequestType"]
    applied: list[str] = []
    try:
        if request in ("Create", "Update"):
            applied = run_migrations()
        status, reason = "SUCCESS", f"{request}: {len(applied)} migration(s) applied"
    except Exception as exc:
        logger.exception("database migrations failed")
        status, reason = "FAILED", f"migrations failed: {type(exc).__name__}: {exc}"
    if log_stream:
        reason += f"; log stream {log_stream}"
    body = {
        "Status": status,
        "Reason": reason[:REASON_MAX],
        "PhysicalResourceId": event.get("PhysicalResourceId") or PHYSICAL_ID,
        "StackId": event["StackId"],
        "RequestId": event["RequestId"],
        "LogicalResourceId": event["LogicalResourceId"],
        "NoEcho": False,
        "Data": {"Applied": len(applied), "Migrations": ",".join(applied)},
    }
    send_response(event["ResponseURL"], body)
    return body


def send_response(url: str, body: dict[str, Any]) -> None:
    """PUT the result to CloudFormation's pre-signed S3 URL (no content type: the
    signature does not cover one)."""
    payload = json.dumps(body).encode()
    request = urllib.request.Request(
        url,
        data=payload,
        method="PUT",
        headers={"Content-Type": "", "Content-Length": str(len(payload))},
    )
    for attempt in range(1, RESPONSE_ATTEMPTS + 1):
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                response.read()
            return
        except OSError as exc:
            logger.warning(
                "custom resource response failed",
                extra={"attempt": attempt, "error": type(exc).__name__},
            )
            if attempt == RESPONSE_ATTEMPTS:
                raise
            time.sleep(0.5 * attempt)
