"""Fail when a Lambda layer holds development code: the dev package (`salonbot_dev`: the
CLI, the local stack, the fakes), a `salonbot/local` or `salonbot/cli` left behind, or a
shipped module that imports the dev package (it would fail in Lambda, where it is absent).

The dev package is kept out by where it lives (outside the layer's ContentUri), not by a
build-time filter; this check proves it on the built layer (`make sam-build`) and, in the
unit tests, on the ContentUri itself.

Usage: python .ci/check_layer_contents.py .aws-sam/build/CommonLayer"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

DEV_PACKAGE = "salonbot_dev"
# Subpackages of the layer's `salonbot` that are development code wherever they appear.
DEV_SUBPACKAGES = ("local", "cli", "fakes")


def _imports_dev_package(path: Path) -> bool:
    tree = ast.parse(path.read_bytes(), filename=str(path))
    for node in ast.walk(tree):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            names = [node.value]  # importlib.import_module("salonbot_dev....")
        if any(name == DEV_PACKAGE or name.startswith(DEV_PACKAGE + ".") for name in names):
            return True
    return False


def problems(layer: Path) -> list[str]:
    """What is wrong with the layer at `layer`, one line each (empty: nothing)."""
    packages = sorted(init.parent for init in layer.rglob("salonbot/__init__.py"))
    if len(packages) != 1:
        found = ", ".join(str(p.relative_to(layer)) for p in packages) or "none"
        return [f"expected one salonbot package under {layer}, found {found}"]
    (package,) = packages
    found = [
        f"{path.relative_to(layer)}: the dev package"
        for path in sorted(layer.rglob(DEV_PACKAGE + "*"))
    ]
    found += [
        f"{(package / name).relative_to(layer)}: development code in the layer"
        for name in DEV_SUBPACKAGES
        if (package / name).exists() or (package / f"{name}.py").exists()
    ]
    found += [
        f"{path.relative_to(layer)}: imports {DEV_PACKAGE}"
        for path in sorted(package.rglob("*.py"))
        if _imports_dev_package(path)
    ]
    return found


def main(layer: str) -> int:
    root = Path(layer)
    found = problems(root)
    if found:
        print(f"{root} holds development code:", file=sys.stderr)
        print("\n".join(f"  {line}" for line in found), file=sys.stderr)
        return 1
    modules = sum(1 for _ in next(root.rglob("salonbot/__init__.py")).parent.rglob("*.py"))
    print(f"{root}: {modules} salonbot modules, no development code")
    return 0


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    sys.exit(main(sys.argv[1]))
