#!/usr/bin/env python3
"""Server CPU per request of one server built two (or more) ways, in one run.

    scripts/compare_builds.py --server before=/tmp/old/build/servers/epoll/server-epoll \
                              --server after=build/servers/epoll/server-epoll \
                              [--args=--reactors,1] [--path /hello] [-c 100 -c 1000]
                              [--rounds 5] [--seconds 5] [--json OUT]

Absolute CPU figures drift between days on a shared machine; what holds is
the ratio of two builds measured alternately in the same minutes. Each round
runs every (build, connections) pair once, in an order shuffled with --seed:
the server pinned to --server-cpu, the project's loadgen (closed loop) to
--client-cpu, a warm-up run first, then the measured run. CPU is the
server's user+system time from /proc/PID/stat (10 ms ticks: over 5 s runs
at tens of thousands of requests/s the tick is well under 1 %), read just
before and just after the measured run, divided by the answers the loadgen
counted. The printout gives each pair's median µs/request and each build's
ratio to the first one, with a bootstrap interval over the rounds and the
exact confidence of that interval (scripts/benchlib/stats.py: from 5
rounds it is their range, 94 %); "within the noise" means it holds 1.

Used for issues 15 and 16 (epoll before and after the session refactoring
and the RFC rules); the figures are in their closing notes.
"""
import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from benchlib import procfs, procs, stats  # noqa: E402

ROOT = os.path.dirname(HERE)


def cpu_seconds(pid):
    user, system = procfs.stat_ticks(pid)
    return (user + system) / procfs.USER_HZ


def loadgen(args, port, conns, seconds, out):
    cmd = procs.pin(str(args.client_cpu), [args.loadgen, "-q", "-c", str(conns), "-d",
                                           f"{seconds}s", "--json", out,
                                           f"http://127.0.0.1:{port}{args.path}"])
    try:
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, timeout=seconds + 60)
    except subprocess.CalledProcessError as e:
        # Exit 3: the run completed but is not valid (docs/loadgen.md): no figure to keep.
        raise SystemExit(f"loadgen exited {e.returncode} at {conns} connections: {' '.join(cmd)}")
    except subprocess.TimeoutExpired:
        raise SystemExit(f"loadgen did not end within {seconds + 60} s: {' '.join(cmd)}")
    with open(out) as f:
        result = json.load(f)
    return result


def answered(result):
    # docs/SPEC.md §5: requests answered 2xx inside the measured window.
    if result.get("format_version") != 2:
        raise SystemExit(f"loadgen wrote format_version {result.get('format_version')}, expected 2")
    return result["requests"]


def one(args, binary, conns, tmp, logs):
    # --port 0: the server says the port it got (SPEC §4), the bench's way.
    server = procs.Child(procs.pin(str(args.server_cpu), [binary, "--port", "0", *args.server_args]),
                         logs, "server")
    try:
        listening = procs.wait_listening(server, announces=True, port=0)
        if listening is None:
            raise SystemExit(f"{binary} did not listen: {server.stderr_tail()}")
        port = listening[1]
        loadgen(args, port, conns, 1, tmp)  # warm-up: caches, pools, the connections' first bytes
        before = cpu_seconds(server.pid)
        result = loadgen(args, port, conns, args.seconds, tmp)
        cpu = cpu_seconds(server.pid) - before
    finally:
        server.stop(grace_s=10.0)
    n = answered(result)
    if n == 0:
        raise SystemExit(f"{binary} at {conns} connections: no answers")
    return cpu / n * 1e6, n / args.seconds


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter,
                                epilog=__doc__.split("\n\n", 2)[2])
    p.add_argument("--server", action="append", required=True, metavar="NAME=BINARY",
                   help="a build to measure; the first is the reference of the ratios")
    p.add_argument("--args", default="--reactors,1",
                   help="server arguments after --port, comma-separated (default --reactors,1)")
    p.add_argument("--path", default="/hello")
    p.add_argument("-c", "--connections", type=int, action="append")
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--seconds", type=int, default=5)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--server-cpu", type=int, default=0)
    p.add_argument("--client-cpu", type=int, default=1)
    p.add_argument("--loadgen", default=os.path.join(ROOT, "build", "loadgen", "loadgen"))
    p.add_argument("--json", help="write every measurement here")
    args = p.parse_args()
    builds = []
    for spec in args.server:
        name, sep, binary = spec.partition("=")
        if not sep or not name:
            p.error(f"--server {spec!r}: expected NAME=BINARY")
        if not os.access(binary, os.X_OK):
            p.error(f"--server {spec!r}: {binary} is not an executable")
        builds.append((name, binary))
    if len({n for n, _ in builds}) != len(builds):
        p.error("--server names must differ")
    if not os.access(args.loadgen, os.X_OK):
        p.error(f"no loadgen at {args.loadgen} (make build)")
    if args.rounds < 2 or args.seconds < 1:
        p.error("--rounds must be at least 2 and --seconds at least 1")
    args.server_args = [a for a in args.args.split(",") if a]
    conns = args.connections or [100, 1000]
    rng = random.Random(args.seed)
    samples = {(n, c): {} for n, _ in builds for c in conns}
    with tempfile.TemporaryDirectory(prefix="compare_builds.") as work:
        tmp = os.path.join(work, "loadgen.json")
        for r in range(args.rounds):
            order = [(n, b, c) for n, b in builds for c in conns]
            rng.shuffle(order)
            for name, binary, c in order:
                us, rps = one(args, binary, c, tmp, Path(work))
                samples[(name, c)][r] = us
                print(f"round {r + 1}/{args.rounds} {name:>10} c={c:<5} {us:7.3f} µs/request "
                      f"{rps:9.0f} requests/s", file=sys.stderr, flush=True)
    ref = builds[0][0]
    print(f"server CPU per request (µs), median of {args.rounds} rounds; ratio to {ref} "
          f"with its bootstrap interval (confidence)")
    for c in conns:
        for name, _ in builds:
            line = f"c={c:<5} {name:>10} {statistics.median(samples[(name, c)].values()):7.3f}"
            if name != ref:
                # Paired by round: each round ran both builds within seconds.
                ratio = stats.ratio_interval(samples[(name, c)], samples[(ref, c)])
                verdict = "within the noise" if ratio.contains(1.0) else "differs"
                line += f"  x{ratio.text()} ({ratio.confidence_text()}) {verdict}"
            print(line)
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"args": vars(args) | {"server": args.server},
                       "samples": {f"{n} c={c}": list(v.values()) for (n, c), v in samples.items()}}, f, indent=1)


if __name__ == "__main__":
    main()
