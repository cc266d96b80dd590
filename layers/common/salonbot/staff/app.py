"""The resolver StaffFunction calls: the staff API's routes, with the console's pages
included (they share its error handling and its one connection per container)."""

from __future__ import annotations

from salonbot.staff.console import router as console_router
from salonbot.staff.routes import app

app.include_router(console_router)

__all__ = ["app"]
