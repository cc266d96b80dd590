"""`python -m salonbot.cli`, the same as the `salonbot` command."""

from __future__ import annotations

import sys

from salonbot.cli import main

sys.exit(main())
