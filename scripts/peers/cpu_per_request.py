#!/usr/bin/python3
"""Server CPU microseconds per /hello request, measured with wrk: a quick
cross-check of the bench's figures for the peers and our models.

For each server: start it pinned to --server-cpu, warm up, then run
`taskset -c CLIENT wrk -t1 -cN -dD URL` and divide the server's CPU time
(its cgroup's counter where the bench's accounting can make one, in
nanoseconds; else utime + stime of all its threads from /proc/PID/stat) by
the requests wrk counted. Repeats each point (round-robin over the servers) and prints the median
and the spread (min-max).

  scripts/peers/cpu_per_request.py --build build                  # everything found
  scripts/peers/cpu_per_request.py --build build --servers floor,nginx -c 100,1000

Servers: any model or peer of the bench by its name (nginx, node, floor,
uring, epoll, threaded-pool0, ...).
"""
from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from benchlib import cgroups, procfs  # noqa: E402
from benchlib.models import ServerSpec, our_models  # noqa: E402
from benchlib.peers import peer_specs  # noqa: E402
from benchlib.procs import Child, free_port, pin, wait_listening  # noqa: E402


def cpu_seconds(pid: int, group) -> float:
    if group is not None:
        return group.cpu().total_ns / 1e9
    # Fields 14 and 15 (utime, stime) of each process cover all its threads.
    return sum(procfs.ticks(procfs.children(pid))) / procfs.USER_HZ


def wrk(port: int, cpu: int, connections: int, seconds: float) -> int:
    out = subprocess.run(
        ["taskset", "-c", str(cpu), "wrk", "-t1", f"-c{connections}", f"-d{seconds:g}s",
         f"http://127.0.0.1:{port}/hello"], capture_output=True, text=True, check=True).stdout
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)|Socket errors: .*", out)
    if errors:
        print(f"    wrk reports: {errors.group(0)}", file=sys.stderr)
    return int(re.search(r"(\d+) requests in", out).group(1))


def measure(spec: ServerSpec, run_dir: Path, args, connections: int, groups) -> tuple[float, float]:
    """One point: (server CPU us per request, requests per second)."""
    port = free_port()
    group = groups.group(f"{spec.name}-{connections}") if groups else None
    argv = pin(str(args.server_cpu), spec.make_argv(port, run_dir))
    server = Child(group.wrap(argv) if group else argv, run_dir, "server")
    try:
        if wait_listening(server, spec.announces, port) is None:
            raise RuntimeError(f"{spec.name} did not start: {server.stderr_tail()}")
        wrk(port, args.client_cpu, connections, args.warmup)
        before = cpu_seconds(server.pid, group)
        t0 = time.time()
        requests = wrk(port, args.client_cpu, connections, args.duration)
        elapsed = time.time() - t0
        used = cpu_seconds(server.pid, group) - before
        return used * 1e6 / requests, requests / elapsed
    finally:
        server.stop()
        if group:
            group.remove()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--build", type=Path, default=Path("build"), help="CMake build folder")
    ap.add_argument("--servers", default="floor,nginx,node,uring,epoll",
                    help="comma-separated names (default: %(default)s)")
    ap.add_argument("-c", "--connections", default="100,1000", help="comma-separated (default: %(default)s)")
    # Whole seconds: wrk takes no fractions.
    ap.add_argument("-d", "--duration", type=int, default=5, help="measured seconds (default: %(default)s)")
    ap.add_argument("--warmup", type=int, default=1, help="seconds before measuring (default: %(default)s)")
    ap.add_argument("-r", "--repeats", type=int, default=3, help="runs per point (default: %(default)s)")
    ap.add_argument("--server-cpu", type=int, default=0)
    ap.add_argument("--client-cpu", type=int, default=1)
    args = ap.parse_args()
    if not args.build.is_dir():
        ap.error(f"--build {args.build}: no such folder")
    try:
        counts = [int(c) for c in args.connections.split(",")]
    except ValueError:
        ap.error("--connections: comma-separated integers")
    if subprocess.run(["which", "wrk"], capture_output=True).returncode != 0:
        print("wrk not installed: run `make deps`", file=sys.stderr)
        return 2
    groups, why = cgroups.setup()
    try:
        return run(args, counts, groups, why)
    finally:
        if groups:
            groups.close()


def run(args, counts: list[int], groups, why: str) -> int:
    with tempfile.TemporaryDirectory(prefix="iomodels-cpu-") as tmp:
        run_dir = Path(tmp)
        ours, notices = our_models(args.build)
        peers, peer_notices, _ = peer_specs(args.build, run_dir)
        available = {s.name: s for s in ours + peers}
        for notice in notices + peer_notices:
            print(f"# {notice}", file=sys.stderr)
        print(f"# {os.uname().release}, server CPU {args.server_cpu}, wrk on CPU {args.client_cpu}, "
              f"{args.duration:g} s x {args.repeats}; CPU time from "
              + (groups.note if groups else f"/proc/PID/stat ticks ({why})"))
        names = [n for n in args.servers.split(",") if n in available]
        for name in args.servers.split(","):
            if name not in available:
                print(f"# {name}: not available", file=sys.stderr)
        # Round-robin over the servers, repeat by repeat: noise from other
        # work on the machine then falls on all of them alike, not on one.
        runs: dict[tuple[str, int], list[tuple[float, float]]] = {}
        for _ in range(args.repeats):
            for name in names:
                for n in counts:
                    runs.setdefault((name, n), []).append(measure(available[name], run_dir, args, n, groups))
        print(f"{'server':<10} {'conns':>6} {'us/req':>8} {'spread':>15} {'req/s':>9}")
        for (name, n), points in runs.items():
            us = sorted(p[0] for p in points)
            rps = statistics.median(p[1] for p in points)
            print(f"{name:<10} {n:>6} {statistics.median(us):>8.2f} "
                  f"{f'{us[0]:.2f}-{us[-1]:.2f}':>15} {rps:>9.0f}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
