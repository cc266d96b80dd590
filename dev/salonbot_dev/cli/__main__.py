"""`python -m salonbot_dev.cli`, the same as the `salonbot` command."""

from __future__ import annotations

import sys

from salonbot_dev.cli import main

sys.exit(main())
