"""The Lambda layer holds production code only: its ContentUri has no development code
and imports nothing from the dev package, and `.ci/check_layer_contents.py` (run on the
built layer by `make sam-build`) catches each way development code could get in."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

import pytest

from salonbot_dev.local.template import Template

ROOT = Path(__file__).resolve().parents[2]


def _load_check() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "check_layer_contents", ROOT / ".ci" / "check_layer_contents.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


check = _load_check()


def _layer(tmp_path: Path, files: dict[str, str]) -> Path:
    """A built layer's layout: the package under python/, beside a dependency."""
    layer = tmp_path / "CommonLayer"
    base = {
        "python/salonbot/__init__.py": '"""salonbot."""\n',
        "python/salonbot/config.py": "import os\n",
        "python/yaml/__init__.py": "",
    }
    for name, text in (base | files).items():
        path = layer / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return layer


def test_the_layer_s_content_uri_holds_no_development_code() -> None:
    layer = Template.load(ROOT / "template.yaml").resources["CommonLayer"]
    content_uri = ROOT / layer["Properties"]["ContentUri"]
    assert check.problems(content_uri) == []
    assert check.main(str(content_uri)) == 0


def test_the_functions_import_nothing_from_the_dev_package() -> None:
    handlers = sorted((ROOT / "functions").glob("*/app.py"))
    assert handlers
    assert [h for h in handlers if check._imports_dev_package(h)] == []


def test_a_clean_built_layer_passes(tmp_path: Path) -> None:
    assert check.problems(_layer(tmp_path, {})) == []


@pytest.mark.parametrize(
    ("files", "problem"),
    [
        ({"python/salonbot_dev/__init__.py": ""}, "python/salonbot_dev: the dev package"),
        ({"python/salonbot/local/__init__.py": ""}, "python/salonbot/local: development code"),
        ({"python/salonbot/cli/__init__.py": ""}, "python/salonbot/cli: development code"),
        ({"python/salonbot/fakes.py": ""}, "python/salonbot/fakes: development code"),
        (
            {"python/salonbot/stats.py": "from salonbot_dev.fakes import whatsapp\n"},
            "python/salonbot/stats.py: imports salonbot_dev",
        ),
        (
            {"python/salonbot/stats.py": "def f():\n    import salonbot_dev.local\n"},
            "python/salonbot/stats.py: imports salonbot_dev",
        ),
        (
            {"python/salonbot/stats.py": "import importlib as i\ni.import_module('salonbot_dev')"},
            "python/salonbot/stats.py: imports salonbot_dev",
        ),
    ],
)
def test_development_code_in_a_built_layer_fails_the_check(
    tmp_path: Path, files: dict[str, str], problem: str, capsys: pytest.CaptureFixture[str]
) -> None:
    layer = _layer(tmp_path, files)
    assert any(line.startswith(problem) for line in check.problems(layer)), check.problems(layer)
    assert check.main(str(layer)) == 1
    assert problem in capsys.readouterr().err


def test_a_layer_without_the_package_fails_the_check(tmp_path: Path) -> None:
    (tmp_path / "python").mkdir()
    assert check.problems(tmp_path) == [
        f"expected one salonbot package under {tmp_path}, found none"
    ]
