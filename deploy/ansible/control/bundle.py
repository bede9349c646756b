"""The one archive the playbook copies to every host: the build's binaries,
the bench's Python library and the host-side helpers (layout in
host/hostlib.py). Built on the control machine from its own build, so every
host runs exactly the binaries the run's machine.json names.

The archive is byte-for-byte the same for the same inputs (sorted names,
zero times and owners), so Ansible's copy sees an unchanged bundle as
unchanged and a second run does not unpack it again.
"""
from __future__ import annotations

import gzip
import hashlib
import io
import os
import tarfile
from pathlib import Path

from benchlib import registry
from benchlib.models import find_binary

HERE = Path(__file__).resolve().parent.parent          # deploy/ansible
REPO = HERE.parent.parent
BENCHLIB = REPO / "scripts" / "benchlib"


class BundleError(RuntimeError):
    pass


def binaries(build: Path) -> dict[str, Path]:
    """loadgen and every model's server binary found in the build."""
    names = ["loadgen"] + sorted({v.binary for v in registry.variants(1, 1)})
    found = {n: find_binary(build, n) for n in names}
    if found["loadgen"] is None:
        raise BundleError(f"no loadgen under {build}: build first (make)")
    return {n: p for n, p in found.items() if p is not None}


def members(build: Path) -> list[tuple[str, Path]]:
    """(name in the archive, file) for everything a host needs."""
    out = [(f"bin/{n}", p) for n, p in binaries(build).items()]
    # The library without its tests and recorded test data: the helpers
    # import the runner's pieces (procs, sampler, accounting, cgroups, cpus).
    out += [(f"lib/benchlib/{p.name}", p) for p in sorted(BENCHLIB.glob("*.py"))
            if not p.name.startswith("test_")]
    out += [(f"host/{p.name}", p) for p in sorted((HERE / "host").glob("*.py"))]
    out.append(("servers/models.json", registry.REGISTRY))
    return sorted(out)


def make(build: Path, out: Path) -> dict:
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w") as tar:
        for name, path in members(build):
            info = tarfile.TarInfo(name)
            data = path.read_bytes()
            info.size = len(data)
            info.mode = 0o755 if name.startswith(("bin/", "host/")) else 0o644
            tar.addfile(info, io.BytesIO(data))
    packed = gzip.compress(raw.getvalue(), mtime=0)
    out.parent.mkdir(parents=True, exist_ok=True)
    if not out.exists() or out.read_bytes() != packed:
        # Whole or not at all: two runs sharing a build may pack at once.
        tmp = out.with_name(f"{out.name}.{os.getpid()}.tmp")
        tmp.write_bytes(packed)
        os.replace(tmp, out)
    return {"bundle": str(out), "sha256": hashlib.sha256(packed).hexdigest(), "bytes": len(packed),
            "binaries": sorted(n for n, _ in members(build) if n.startswith("bin/"))}
