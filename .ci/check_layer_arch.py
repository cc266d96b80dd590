"""Fail when the built layer holds a compiled module for another architecture than the
template declares (SAM silently ships x86_64 wheels without BuildArchitecture: arm64).

Usage: python .ci/check_layer_arch.py .aws-sam/build/CommonLayer arm64"""

from __future__ import annotations

import struct
import sys
from pathlib import Path

# ELF e_machine values.
MACHINES = {"arm64": 183, "x86_64": 62}
NAMES = {value: name for name, value in MACHINES.items()}


def elf_machine(path: Path) -> int | None:
    with path.open("rb") as handle:
        header = handle.read(20)
    if len(header) < 20 or header[:4] != b"\x7fELF":
        return None
    byte_order = "<" if header[5] == 1 else ">"
    return int(struct.unpack(f"{byte_order}H", header[18:20])[0])


def main(layer: str, architecture: str) -> int:
    expected = MACHINES[architecture]
    root = Path(layer)
    checked, wrong = 0, []
    for path in sorted(root.rglob("*")):
        if not path.is_file() or not (path.suffix == ".so" or ".so." in path.name):
            continue
        machine = elf_machine(path)
        if machine is None:
            continue
        checked += 1
        if machine != expected:
            wrong.append(f"{path.relative_to(root)}: {NAMES.get(machine, machine)}")
    if checked == 0:
        print(f"no compiled modules under {root}: is the layer built?", file=sys.stderr)
        return 1
    if wrong:
        print(f"{len(wrong)} of {checked} compiled modules are not {architecture}:")
        print("\n".join(f"  {line}" for line in wrong))
        return 1
    print(f"{checked} compiled modules in {root}, all {architecture}")
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:3]))
