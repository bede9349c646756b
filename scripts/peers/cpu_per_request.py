#!/usr/bin/python3
"""Server CPU microseconds per /hello request, measured with wrk: a quick
cross-check of the bench's figures for the peers and our models.

For each server: start it pinned to --server-cpu, warm up, then run
`taskset -c CLIENT wrk -t1 -cN -dD URL` and divide the server's CPU time
(utime + stime of all its threads, from /proc/PID/stat) by the requests wrk
counted. Repeats each point (round-robin over the servers) and prints the median
and the spread (min-max).

  scripts/peers/cpu_per_request.py --build build                  # everything found
  scripts/peers/cpu_per_request.py --build build --servers floor,nginx -c 100,1000

Servers: nginx, node, floor, uring, epoll (server-epoll --reactors 1),
threaded (--pool 64 would need --conn-requests; left out on purpose).
"""
from __future__ import annotations

import argparse
import os
import re
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from benchlib.models import ServerSpec, find_binary, our_models  # noqa: E402
from benchlib.peers import peer_specs  # noqa: E402

TICK_S = 1.0 / os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    # Fields 14 and 15 (utime, stime) of the process cover all its threads.
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) * TICK_S


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_listening(port: int, proc: subprocess.Popen, timeout: float = 10) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with status {proc.returncode}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError("server did not start listening")


def wrk(port: int, cpu: int, connections: int, seconds: float) -> int:
    out = subprocess.run(
        ["taskset", "-c", str(cpu), "wrk", "-t1", f"-c{connections}", f"-d{seconds:g}s",
         f"http://127.0.0.1:{port}/hello"], capture_output=True, text=True, check=True).stdout
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)|Socket errors: .*", out)
    if errors:
        print(f"    wrk reports: {errors.group(0)}", file=sys.stderr)
    return int(re.search(r"(\d+) requests in", out).group(1))


def measure(spec: ServerSpec, run_dir: Path, args, connections: int) -> tuple[float, float]:
    """One point: (server CPU us per request, requests per second)."""
    port = free_port()
    argv = ["taskset", "-c", str(args.server_cpu)] + spec.make_argv(port, run_dir)
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_listening(port, proc)
        wrk(port, args.client_cpu, connections, args.warmup)
        before = cpu_seconds(proc.pid)
        t0 = time.time()
        requests = wrk(port, args.client_cpu, connections, args.duration)
        elapsed = time.time() - t0
        used = cpu_seconds(proc.pid) - before
        return used * 1e6 / requests, requests / elapsed
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


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
        print("wrk not installed: run scripts/install-deps.sh --peers", file=sys.stderr)
        return 2

    with tempfile.TemporaryDirectory(prefix="iomodels-cpu-") as tmp:
        run_dir = Path(tmp)
        ours, notices = our_models(args.build)
        peers, peer_notices = peer_specs(args.build, run_dir)
        available = {s.name: s for s in ours + peers}
        for notice in notices + peer_notices:
            print(f"# {notice}", file=sys.stderr)
        print(f"# {os.uname().release}, server CPU {args.server_cpu}, wrk on CPU {args.client_cpu}, "
              f"{args.duration:g} s x {args.repeats}")
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
                    runs.setdefault((name, n), []).append(measure(available[name], run_dir, args, n))
        print(f"{'server':<10} {'conns':>6} {'us/req':>8} {'spread':>15} {'req/s':>9}")
        for (name, n), points in runs.items():
            us = sorted(p[0] for p in points)
            rps = statistics.median(p[1] for p in points)
            print(f"{name:<10} {n:>6} {statistics.median(us):>8.2f} "
                  f"{f'{us[0]:.2f}-{us[-1]:.2f}':>15} {rps:>9.0f}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
