"""The README and docs/ link only to files inside the repository (a checkout, a release
archive or a fork must not depend on what lies beside it), and every such link exists."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
# [text](target) or [text](target "title"); the target without its #anchor.
LINK = re.compile(r"\]\(\s*<?([^)\s>#]*)[^)]*\)")


def _local_targets(page: Path) -> list[str]:
    targets = [match.group(1) for match in LINK.finditer(page.read_text())]
    return [t for t in targets if t and not re.match(r"^[a-z][a-z0-9+.-]*:", t, re.I)]


@pytest.mark.parametrize("page", PAGES, ids=lambda page: str(page.relative_to(ROOT)))
def test_every_local_link_stays_in_the_repository_and_exists(page: Path) -> None:
    for target in _local_targets(page):
        resolved = (page.parent / target).resolve()
        assert resolved.is_relative_to(ROOT), f"{target} leaves the repository"
        assert resolved.exists(), f"{target} does not exist"


def test_links_are_found() -> None:
    readme = _local_targets(ROOT / "README.md")
    assert "docs/architecture.md" in readme
    assert "layers/common/salonbot/booking/salon_file.py" in readme
