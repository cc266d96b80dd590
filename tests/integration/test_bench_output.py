"""`make bench` prints its table and nothing else: no handler log lines, no EMF metric
JSON, no Powertools or platformdirs warnings. Run on the guided area (handlers' logic
with metrics and the keyless router, on fewer conversations), its report written
elsewhere."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO_ROOT

pytestmark = pytest.mark.integration

RUN_WITH_REPORT = """
import sys
from pathlib import Path
import benchmarks.__main__ as bench
import benchmarks.bench_guided as guided
bench.REPORT = Path(sys.argv[1])
guided.CONVERSATIONS = 6  # still past 100 values of a metric, where Powertools flushed
sys.exit(bench.main(["guided"]))
"""


def test_the_benchmarks_print_their_table_only(tmp_path: Path) -> None:
    report = tmp_path / "report.md"
    # As `make bench` runs: no log or metrics settings of the caller's, no XDG_RUNTIME_DIR
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("POWERTOOLS_") and k not in ("LOG_LEVEL", "DATABASE_URL")
    }
    code = [REPO_ROOT / "layers" / "common", REPO_ROOT / "dev", REPO_ROOT]
    env.update(PYTHONPATH=os.pathsep.join(map(str, code)), XDG_RUNTIME_DIR="")

    result = subprocess.run(
        [sys.executable, "-c", RUN_WITH_REPORT, str(report)],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )

    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stderr == "running guided ...\n", result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["area", "metric", "value", "target", "note"], result.stdout
    assert set(lines[1]) <= {"-", " "}
    rows, tail = lines[2:-2], lines[-2:]
    assert rows and all(row.startswith("guided ") for row in rows), result.stdout
    assert tail == ["", f"report written to {report}"]
    assert report.exists()
