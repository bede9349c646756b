#!/usr/bin/python3
"""The kernel settings a run needs on a host (docs/multi-host.md, "What to
tune"), applied so that they can be put back exactly.

    hostsettings.py apply --record FILE --set net.core.somaxconn=65535 --at-least fs.nr_open=1048576
    hostsettings.py restore --record FILE
    hostsettings.py show --record FILE

`apply` reads each setting's value, writes the new one where it differs
(`--at-least`: only where the current value is lower), and records the old
values in FILE *before* changing anything. A record that already exists
(an interrupted run never restored) is kept: its values are the host's
own, not the ones an earlier run set. `restore` writes back every value it
recorded and removes FILE; without FILE it changes nothing. Both print one
JSON line for the playbook ({"changed": [...], ...}).

Settings are sysctls under /proc/sys; the net.* ones belong to the network
namespace the command runs in, fs.nr_open to the whole machine.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

PROC_SYS = Path("/proc/sys")


def path_of(key: str) -> Path:
    if not key or ".." in key or key.startswith((".", "/")):
        raise ValueError(f"not a sysctl name: {key!r}")
    return PROC_SYS / key.replace(".", "/")


def read(key: str) -> str:
    # The kernel separates fields with tabs (ip_local_port_range): compare
    # and record them with single spaces, as sysctl and people write them.
    return " ".join(path_of(key).read_text().split())


def write(key: str, value: str) -> None:
    path_of(key).write_text(value + "\n")


def parse_pairs(pairs: list[str], what: str) -> dict[str, str]:
    out = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip() or not value.strip():
            raise ValueError(f"{what} {pair!r}: write KEY=VALUE")
        out[key.strip()] = " ".join(value.split())
    return out


def lower(current: str, wanted: str) -> bool:
    try:
        return int(current) < int(wanted)
    except ValueError:
        raise ValueError(f"--at-least needs numbers, got {current!r} and {wanted!r}")


def load_record(record: Path) -> dict:
    try:
        data = json.loads(record.read_text())
    except FileNotFoundError:
        return {}
    except ValueError as e:
        raise ValueError(f"{record}: not a settings record ({e}); move it away after checking the host")
    return data if isinstance(data, dict) else {}


def save_record(record: Path, data: dict) -> None:
    record.parent.mkdir(parents=True, exist_ok=True)
    tmp = record.with_name(record.name + ".tmp")
    tmp.write_text(json.dumps(data, indent=1))
    os.replace(tmp, record)


def apply(record: Path, exact: dict[str, str], at_least: dict[str, str]) -> dict:
    wanted: dict[str, str] = {}
    for key, value in exact.items():
        if read(key) != value:
            wanted[key] = value
    for key, value in at_least.items():
        if lower(read(key), value):
            wanted[key] = value
    data = load_record(record)
    before = data.setdefault("before", {})
    kept = bool(before)
    for key in wanted:
        # Only the first record of a key is the host's own value.
        before.setdefault(key, read(key))
    data.setdefault("created_unix", time.time())
    if wanted or kept:
        save_record(record, data)      # before the first write: a crash still restores
    for key, value in wanted.items():
        write(key, value)
    return {"changed": sorted(wanted), "before": before, "now": {k: read(k) for k in [*exact, *at_least]},
            "record": str(record), "kept_earlier_record": kept}


def restore(record: Path) -> dict:
    data = load_record(record)
    before = data.get("before") or {}
    restored, failed = [], {}
    for key, value in before.items():
        try:
            if read(key) != value:
                write(key, value)
                restored.append(key)
        except (OSError, ValueError) as e:
            failed[key] = str(e)
    if failed:
        # Kept, so that a second try (cleanup.yml) still knows the old values.
        return {"changed": sorted(restored), "failed": failed, "record": str(record)}
    if record.exists():
        record.unlink()
    return {"changed": sorted(restored), "now": {k: read(k) for k in before}, "record": str(record)}


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__)
    ap.add_argument("action", choices=["apply", "restore", "show"])
    ap.add_argument("--record", type=Path, required=True, help="where the old values are kept")
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                    help="a sysctl to set to exactly VALUE")
    ap.add_argument("--at-least", action="append", default=[], metavar="KEY=VALUE",
                    help="a numeric sysctl to raise to VALUE if it is lower")
    args = ap.parse_args(argv)
    try:
        if args.action == "apply":
            out = apply(args.record, parse_pairs(args.set, "--set"), parse_pairs(args.at_least, "--at-least"))
        elif args.action == "restore":
            out = restore(args.record)
        else:
            out = {"record": load_record(args.record), "changed": []}
    except (OSError, ValueError) as e:
        hint = " (the playbook needs root on the hosts: ansible_become=true)" if isinstance(e, PermissionError) else ""
        print(f"hostsettings.py: {e}{hint}", file=sys.stderr)
        return 1
    print(json.dumps(out))
    return 1 if out.get("failed") else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
