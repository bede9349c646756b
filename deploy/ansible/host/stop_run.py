#!/usr/bin/python3
"""Stops whatever the playbook's helpers left running on this host, by the
pids they recorded (ROOT/pids/*.pid), never by name.

    stop_run.py            # SIGTERM, a grace, then SIGKILL; prints what it stopped

A pid file names one process by its pid *and* its start time, so a pid the
kernel has since given to another process is left alone. The helpers go
first (serve_point.py, run_shard.py stop their own server or loadgen and
still write what was measured), then any server or loadgen whose helper
was already gone; a process started in a group of its own (the servers and
loadgens, under `timeout`) is signalled with its whole group.
"""
from __future__ import annotations

import json
import os
import signal
import sys
import time

import hostlib

HELPERS = ("serve", "shard", "clocksync")
GRACE_S = 5.0


def recorded() -> list[tuple[str, int, str]]:
    """(name, pid, start) of the recorded processes still running, helpers first."""
    out = []
    for f in sorted(hostlib.PIDS.glob("*.pid")):
        name = f.stem
        try:
            data = json.loads(f.read_text())
            pid = int(data["pid"])
        except (OSError, ValueError, KeyError, TypeError):
            f.unlink(missing_ok=True)
            continue
        if data.get("start") is None or hostlib.start_time(pid) != data["start"]:
            f.unlink(missing_ok=True)      # gone, or the pid now names another process
            continue
        out.append((name, pid, data["start"]))
    return sorted(out, key=lambda r: (r[0] not in HELPERS, r[0]))


def signal_one(pid: int, sig: int) -> None:
    try:
        if os.getpgid(pid) == pid:
            os.killpg(pid, sig)
        else:
            os.kill(pid, sig)
    except ProcessLookupError:
        pass


def alive(pid: int, start: str) -> bool:
    return hostlib.start_time(pid) == start and not zombie(pid)


def zombie(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] == "Z"
    except OSError:
        return True


def stop(name: str, pid: int, start: str) -> str:
    signal_one(pid, signal.SIGTERM)
    deadline = time.monotonic() + GRACE_S
    while time.monotonic() < deadline and alive(pid, start):
        time.sleep(0.05)
    how = "SIGTERM"
    if alive(pid, start):
        signal_one(pid, signal.SIGKILL)
        how = "SIGKILL"
    hostlib.forget_pid(name)
    return how


def main(argv: list[str]) -> int:
    if argv and argv[0] in ("-h", "--help"):
        print(__doc__)
        return 0
    stopped = {}
    for name, pid, start in recorded():
        # A helper stops its own children: look again before each.
        if alive(pid, start):
            stopped[name] = {"pid": pid, "signal": stop(name, pid, start)}
    # What the helpers' exits left behind (their children's pid files).
    for name, pid, start in recorded():
        stopped[name] = {"pid": pid, "signal": stop(name, pid, start)}
    print(json.dumps({"changed": sorted(stopped), "stopped": stopped}))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
