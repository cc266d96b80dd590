"""`.local/stack.json`: where a running local stack is, for `salonbot chat`, `demo`, `run`
and tests. Written when the stack is ready, removed when it stops."""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING

from salonbot.errors import ConfigurationError

if TYPE_CHECKING:
    from pathlib import Path

STACK_FILE = "stack.json"


@dataclass(frozen=True)
class StackAddresses:
    pid: int
    gateway_url: str  # the HTTP API: /webhook, /api/v1/ai/...
    whatsapp_url: str  # the fake WhatsApp send API (WHATSAPP_API_BASE_URL)
    aws_endpoint_url: str
    database_url: str
    app_secret: str  # signs webhook POSTs (X-Hub-Signature-256)
    verify_token: str
    region: str
    demo_salon_id: str | None = None
    demo_phone_number_id: str | None = None
    # The handlers' settings (`salonbot doctor --local` checks them); secret values masked.
    settings: dict[str, str] = field(default_factory=dict)

    def write(self, state_dir: Path) -> Path:
        path = state_dir / STACK_FILE
        temporary = path.with_suffix(".tmp")
        temporary.write_text(json.dumps(asdict(self), indent=2))
        temporary.replace(path)
        return path

    @classmethod
    def read(cls, state_dir: Path) -> StackAddresses:
        """The running stack's addresses; a clear error when none is running."""
        path = state_dir / STACK_FILE
        try:
            data = json.loads(path.read_text())
        except FileNotFoundError:
            raise ConfigurationError(
                f"no local stack is running ({path} not found): start it with `make dev`"
            ) from None
        addresses = cls(**data)
        if not process_alive(addresses.pid):
            raise ConfigurationError(
                f"the local stack in {path} (pid {addresses.pid}) is not running: "
                "start it with `make dev`"
            )
        return addresses


def process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
