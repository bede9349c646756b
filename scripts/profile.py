#!/usr/bin/python3
"""make profile: one point's CPU flame graph, on its own, for a workshop host
who wants one picture live.

  profile.py --model epoll --scenario hello --connections 1000
  profile.py --model threaded-pool0 --scenario sleep --connections 1000 --count
  profile.py --model epoll --scenario hello --connections 100 --overhead 5

Starts the chosen server pinned to --server-cpus, drives it with loadgen
pinned to --client-cpus, records `perf record -e cpu-clock -g` over exactly
the load generator's measured window, folds the stacks and draws them
(profile.svg: open it in a browser, click to zoom; profile.png), and prints
where they are. --count also counts syscalls, context switches and the
scheduler delay per request over the same window (perfcount.json).
--overhead N measures what counting costs: the same point N times without
it and N times at each counting level (light, the bench's; full), rotated,
then the medians (run it under `flock /work/bench.lock` on a shared machine).

Without perf (or without the rights) it says what is missing and how to get
it, and exits 3.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from benchlib import perfcount, perfctl, profilerec, window  # noqa: E402
from benchlib.models import DEFAULT_POOL, find_binary, our_models  # noqa: E402
from benchlib.peers import peer_specs  # noqa: E402
from benchlib.procs import LISTENING, Child, free_port, pin  # noqa: E402
from benchlib.profiles import PATHS  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
# Closed-loop scenarios whose point is fully described by a connection count.
SCENARIOS = ("hello", "sleep", "cpu")
EXIT_NO_PERF = 3


def parse_args(argv: list[str]) -> argparse.Namespace:
    cores = os.cpu_count() or 2
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter,
                                 epilog=__doc__.split("\n\n", 1)[1])
    ap.add_argument("--model", required=True, help="a model id as in summary.csv: epoll, "
                    "threaded-pool0, threaded-pool64, blocking, uring, ... (peers: nginx, node, floor)")
    ap.add_argument("--scenario", default="hello", choices=SCENARIOS, help="default %(default)s")
    ap.add_argument("--connections", type=int, default=1000, help="default %(default)s")
    ap.add_argument("--duration", type=float, default=5.0, help="measured seconds (default %(default)s)")
    ap.add_argument("--warmup", type=float, default=1.0, help="seconds before the window (default %(default)s)")
    ap.add_argument("--build", type=Path, default=REPO / "build", help="build folder (default: build)")
    ap.add_argument("--out", type=Path, help="output folder (default: results/profiles/MODEL__SCENARIO__N)")
    ap.add_argument("--server-cpus", default="0" if cores <= 2 else f"0-{cores // 2 - 1}")
    ap.add_argument("--client-cpus", default="1" if cores <= 2 else f"{cores // 2}-{cores - 1}")
    ap.add_argument("--pool", type=int, default=DEFAULT_POOL, help="N of threaded-poolN")
    ap.add_argument("--count", action="store_true", help="also count syscalls and switches per request")
    ap.add_argument("--count-level", choices=perfcount.LEVELS, default="full",
                    help="light: the bench's (read and write from /proc/PID/io, no total); "
                         "full (default): every name by tracepoint, and the total")
    ap.add_argument("--keep-data", action="store_true",
                    help="keep perf.data (for `perf report -i OUT/perf.data`)")
    ap.add_argument("--overhead", type=int, metavar="N", default=0,
                    help="measure counting's cost: N runs with, N without (no profile)")
    args = ap.parse_args(argv)
    if not 1 <= args.connections <= 100000:
        ap.error("--connections must be 1..100000")
    if not 0.2 <= args.duration <= 600 or not 0 <= args.warmup <= 60:
        ap.error("--duration must be 0.2..600 s and --warmup 0..60 s")
    if not 0 <= args.overhead <= 50:
        ap.error("--overhead must be 0..50")
    return args


def find_spec(args):
    # Every variant of the registry (the full profile's), the peers beside them.
    specs, notices = our_models(args.build, args.pool, profile="full")
    peers, more, _ = peer_specs(args.build, args.out)
    specs, notices = specs + peers, notices + more
    for s in specs:
        if s.name == args.model:
            if not s.serves(args.scenario):
                sys.exit(f"profile.py: {s.name} does not serve the {args.scenario} scenario")
            return s
    known = ", ".join(s.name for s in specs) or "none (make build first)"
    print(f"profile.py: unknown model '{args.model}'; known here: {known}", file=sys.stderr)
    for n in notices:
        print(f"  ({n})", file=sys.stderr)
    sys.exit(2)


def run_point(args, spec, loadgen: Path, out: Path, profile: bool, count: bool,
              avail: perfctl.Availability, level: str = "full") -> dict:
    """One point: server, perf, loadgen, window; returns what it measured."""
    out.mkdir(parents=True, exist_ok=True)
    port = free_port()
    server = Child(pin(args.server_cpus, spec.make_argv(port, out)), out, "server")
    result: dict = {"model": spec.name, "scenario": args.scenario, "connections": args.connections}
    tools = []
    try:
        if not server.wait_for_line(LISTENING, 10) or not server.alive():
            raise SystemExit(f"profile.py: server did not start: {server.stderr_tail() or 'no output'}")
        if profile:
            tools.append(profilerec.Recording(server.pid, out, args.server_cpus, args.client_cpus,
                                              avail, keep_data=args.keep_data))
        # Counting without perf still reads the scheduler delay and the
        # server's CPU time (schedstat): the overhead runs' baseline.
        # Counted as the bench counts: everything on the server's CPUs, which
        # it has to itself here too (no cost at its context switches).
        counting = perfcount.Counting(server.pid, out, args.server_cpus, args.client_cpus,
                                      avail if count else _no_counting(avail), level=level,
                                      whole_cpus=True)
        tools.append(counting)
        for t in tools:
            t.start()
        url = f"http://127.0.0.1:{port}{PATHS[args.scenario]}"
        launched = time.monotonic_ns()
        lg = Child(pin(args.client_cpus, [
            str(loadgen), "-c", str(args.connections), "-t", "1",
            "-d", f"{int(args.duration * 1000)}ms", "--warmup", f"{int(args.warmup * 1000)}ms",
            "--timeout", f"{int(min(5.0, max(1.0, args.duration)) * 1000)}ms",
            "--quiet", "--json", str(out / "loadgen.json"), url]), out, "loadgen")
        w = window.await_window(lambda: [lg.stdout_text()], launched, args.warmup, args.duration,
                                lg.alive)
        if w.source == "estimated" and not lg.alive():
            raise SystemExit(f"profile.py: loadgen ended at once: {lg.stderr_tail()}")
        timers = [t.timer(w).start() for t in tools]
        lg.wait(args.warmup + args.duration + 30 + args.connections / 1000)
        lg.stop()
        for tm in timers:
            tm.close_now()
            tm.join(10)
        title = f"{spec.label}: {args.scenario}, {args.connections} connections"
        for t in tools:
            doc = t.finish(w, title) if isinstance(t, profilerec.Recording) else t.finish(w)
            result["profile" if isinstance(t, profilerec.Recording) else "count"] = doc
        try:
            lgj = json.loads((out / "loadgen.json").read_text())
        except (OSError, ValueError):
            raise SystemExit(f"profile.py: loadgen wrote no results: {lg.stderr_tail()}")
        result.update(requests=lgj.get("requests"), throughput_rps=lgj.get("throughput_rps"),
                      window_s=lgj.get("duration_s"), window_source=w.source)
        sd = (result["count"].get("sched_delay") or {}).get("tasks") or {}
        span = (result["count"].get("sched_delay") or {}).get("span_s")
        if sd.get("running_s") is not None and span and lgj.get("requests"):
            result["server_cpu_us_per_req"] = round(
                sd["running_s"] / span * lgj["duration_s"] * 1e6 / lgj["requests"], 2)
        return result
    finally:
        for t in tools:
            t.abort()
        server.stop()


def _no_counting(avail: perfctl.Availability) -> perfctl.Availability:
    from dataclasses import replace
    return replace(avail, counting=False, reason="counting not asked for", hint="")


def print_counts(result: dict) -> None:
    doc, req = result.get("count") or {}, result.get("requests")
    cols = perfcount.per_request_columns(doc, req, result.get("window_s"))
    if doc.get("status") != "ok":
        print(f"counting {doc.get('status')}: {doc.get('reason')}")
    shown = {k: v for k, v in cols.items() if v not in ("", 0, 0.0)}
    print("per request: " + ", ".join(f"{k.removesuffix('_per_req')} {v}" for k, v in shown.items()))


def overhead(args, spec, loadgen: Path, out: Path, avail: perfctl.Availability) -> None:
    """The same point without counting and with each level, rotated so that
    a drift of the machine falls on all three alike; medians at the end."""
    if not avail.counting:
        sys.exit(f"profile.py: cannot measure counting's overhead: {avail.skip_line()}")
    variants = [None] + list(perfcount.LEVELS)
    rows: dict = {v: [] for v in variants}
    for i in range(args.overhead):
        for k in range(len(variants)):
            v = variants[(i + k) % len(variants)]
            r = run_point(args, spec, loadgen, out / f"{v or 'without'}-{i}", False, v is not None,
                          avail, v or "light")
            rows[v].append(r)
            print(f"run {i} {v or 'without':8s}: {r['throughput_rps']:,.0f} requests/s, "
                  f"{r.get('server_cpu_us_per_req', float('nan')):.2f} server CPU µs/request", flush=True)
    summary: dict = {}
    for v, rs in rows.items():
        summary[v or "without"] = {
            "throughput_rps": statistics.median(r["throughput_rps"] for r in rs),
            "server_cpu_us_per_req": statistics.median(r.get("server_cpu_us_per_req") or 0 for r in rs),
            "runs": len(rs)}
    base = summary["without"]
    for v in perfcount.LEVELS:
        s = summary[v]
        s["throughput_change"] = round(s["throughput_rps"] / base["throughput_rps"] - 1, 4)
        s["cpu_per_request_change"] = (round(s["server_cpu_us_per_req"] / base["server_cpu_us_per_req"] - 1, 4)
                                       if base["server_cpu_us_per_req"] else None)
    (out / "overhead.json").write_text(json.dumps(summary, indent=1))
    print(f"medians: without {base['throughput_rps']:,.0f} requests/s, "
          f"{base['server_cpu_us_per_req']:.2f} µs/request; " + "; ".join(
              f"{v} {summary[v]['throughput_change']:+.1%} throughput, "
              f"{(summary[v]['cpu_per_request_change'] or 0):+.1%} CPU per request"
              for v in perfcount.LEVELS))
    print(f"written: {out / 'overhead.json'}")


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    args.out = args.out or REPO / "results" / "profiles" / f"{args.model}__{args.scenario}__{args.connections}"
    spec = find_spec(args)
    loadgen = find_binary(args.build, "loadgen")
    if loadgen is None:
        print(f"profile.py: loadgen not found under {args.build} (make build)", file=sys.stderr)
        return 2
    avail = perfctl.probe("perf", perfcount.TRACEPOINTS)
    if args.overhead:
        overhead(args, spec, loadgen, args.out, avail)
        return 0
    if not avail.profiling:
        print(f"profile.py: no profile: {avail.skip_line()}", file=sys.stderr)
        return EXIT_NO_PERF
    result = run_point(args, spec, loadgen, args.out, True, args.count, avail, args.count_level)
    prof = result.get("profile") or {}
    print(f"{spec.label}, {args.scenario}, {args.connections} connections: "
          f"{result['throughput_rps']:,.0f} requests/s over a {result['window_s']:g} s window "
          f"({result['window_source']})")
    if prof.get("status") != "ok":
        print(f"profile {prof.get('status')}: {prof.get('reason')}", file=sys.stderr)
        return 1
    total = sum(prof["categories_ns"].values()) or 1
    top = sorted(prof["categories_ns"].items(), key=lambda kv: -kv[1])[:5]
    print("on-CPU time: " + ", ".join(f"{k} {100 * v / total:.0f}%" for k, v in top if v))
    if args.count:
        print_counts(result)
    print(f"flame graph: {args.out / 'profile.svg'}  (open in a browser; click to zoom)")
    print(f"png:         {args.out / 'profile.png'}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
