"""The sandbox customer `salonbot doctor` writes as to check that a message is processed
end to end, and the clean-up that leaves nothing of it behind.

The number's country code, 999, is not assigned to any country by the ITU, so no real
customer can have it; the clean-up deletes only this number's data."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import uuid

    from salonbot.db.connection import Connection

SANDBOX_PHONE = "+99900000001"
SANDBOX_WA_ID = SANDBOX_PHONE.removeprefix("+")


@dataclass(frozen=True)
class SandboxCleared:
    bookings: int
    conversations: int
    ledger_rows: int
    statuses: int
    clients: int

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def clear_sandbox(conn: Connection, salon_id: uuid.UUID | None = None) -> SandboxCleared:
    """Delete the sandbox customer's bookings, conversations (with their messages),
    processing-ledger rows, delivery statuses and client records, in every salon or in
    one. The caller commits."""
    salon = "" if salon_id is None else " AND salon_id = %(salon)s"
    params = {"phone": SANDBOX_PHONE, "wa_id": SANDBOX_WA_ID, "salon": salon_id}
    clients = f"SELECT id FROM clients WHERE phone = %(phone)s{salon}"

    def delete(sql: str) -> int:
        return conn.execute(sql, params).rowcount

    statuses = delete(
        "DELETE FROM message_statuses WHERE recipient = %(wa_id)s OR message_id IN "
        f"(SELECT reply_message_id FROM inbound_messages WHERE phone_number = %(phone)s{salon})"
    )
    ledger = delete(f"DELETE FROM inbound_messages WHERE phone_number = %(phone)s{salon}")
    bookings = delete(f"DELETE FROM bookings WHERE client_id IN ({clients})")
    conversations = delete(f"DELETE FROM ai_conversations WHERE phone_number = %(phone)s{salon}")
    removed_clients = delete(f"DELETE FROM clients WHERE phone = %(phone)s{salon}")
    return SandboxCleared(bookings, conversations, ledger, statuses, removed_clients)
