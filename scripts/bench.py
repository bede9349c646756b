#!/usr/bin/python3
"""make bench: measure every I/O model under every scenario, then write
summary.csv, the plots and REPORT.md into results/<run-id>/.

  bench.py --profile quick --build build        # measure, then report
  bench.py --plots-only results/<run-id>        # redraw from the raw files

SPEC.md §5-§6 describe the method; scripts/benchlib/ holds the pieces.
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import signal
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from benchlib import (cgroups, cpus, machine, network, peers, perfcount, perfctl, perfhooks,  # noqa: E402
                      report, summary)
from benchlib.models import find_binary, our_models, DEFAULT_POOL  # noqa: E402
from benchlib.point import Settings  # noqa: E402
from benchlib.profiles import PROFILES, SCENARIOS, point_estimate_s  # noqa: E402
from benchlib.progress import fmt  # noqa: E402
from benchlib.run import describe_plan, measure, planned, record_timing, total_estimate_s  # noqa: E402

REPO = Path(__file__).resolve().parent.parent


ACCOUNTING = ["auto", "cgroup-v1", "cgroup-v2", "schedstat", "proc-ticks"]


def parse_args(argv: list[str]) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter,
                                 epilog=__doc__.split("\n\n", 1)[1])
    ap.add_argument("--profile", choices=sorted(PROFILES), default="quick",
                    help="smoke: tiny, every scenario; quick (default): < 15 min on 2 cores; "
                         "full: repeats and up to 16384 connections")
    ap.add_argument("--build", type=Path, default=REPO / "build",
                    help="build folder holding server-* and loadgen (default: build)")
    ap.add_argument("--out", type=Path, default=REPO / "results",
                    help="folder for results/<run-id>/ (default: results)")
    ap.add_argument("--run-id", help="name of the run folder (default: date-time-profile)")
    ap.add_argument("--plots-only", type=Path, metavar="RUN_DIR",
                    help="measure nothing: redraw summary.csv, plots and REPORT.md of RUN_DIR")
    ap.add_argument("--server-cpus", metavar="LIST",
                    help="CPUs for the server, e.g. 0-3 (default: the first half of the cores, SMT "
                         "siblings together; CPU 0 on a 2-core machine). The one-core models run on "
                         "its first CPU, the all-cores variants on all of it")
    ap.add_argument("--client-cpus", metavar="LIST",
                    help="CPUs for the load generator, one loadgen thread each (default: the CPUs "
                         "the server does not get)")
    ap.add_argument("--accounting", choices=ACCOUNTING, default="auto",
                    help="how CPU time is counted over each window: auto (default: a cgroup per "
                         "point and side where the bench can make one, else per-thread schedstat), "
                         "or one method forced")
    ap.add_argument("--sample-interval", type=float, default=0.1, metavar="S",
                    help="seconds between the server's RSS/threads/fds samples (default %(default)s)")
    ap.add_argument("--models", help="comma-separated model names to keep (default: all found)")
    ap.add_argument("--scenarios", help=f"comma-separated subset of {','.join(SCENARIOS)}")
    ap.add_argument("--pool", type=int, default=DEFAULT_POOL, help="N of threaded --pool N (default %(default)s)")
    ap.add_argument("--network", choices=["auto", "loopback", "isolated", "netns"], default="auto",
                    help="auto (default): a fresh namespace per point (isolated) where possible, "
                         "else plain loopback; netns: server and --clients load generators "
                         "as emulated hosts joined by veth pairs")
    ap.add_argument("--clients", type=int, default=2,
                    help="load generators (emulated hosts) in --network netns (default %(default)s)")
    ap.add_argument("--rate-limit", help="--network netns: limit the server's link, e.g. 1gbit (tc tbf)")
    ap.add_argument("--delay", help="--network netns: one-way delay on each client link, e.g. 1ms (tc netem)")
    ap.add_argument("--no-peers", action="store_true", help="leave out nginx, Node.js, the floor, ...")
    ap.add_argument("--no-perf", action="store_true",
                    help="count no syscalls and draw no flame graphs (perf's tracepoints cost every "
                         "system call of the machine a little while they are held); the report says so")
    ap.add_argument("--no-micro", action="store_true", help="do not run scripts/microbench.py")
    ap.add_argument("--dry-run", action="store_true",
                    help="print the points and the time estimate, measure nothing")
    ap.add_argument("--repeats", type=int, metavar="N",
                    help="rounds of the headline points (default: the profile's, "
                         "quick 3, full 5)")
    ap.add_argument("--seed", type=int,
                    help="seed of the shuffled order of each round (default: a new one, "
                         "recorded in plan.json)")
    args = ap.parse_args(argv)
    if args.plots_only and not (args.plots_only / "points").is_dir():
        ap.error(f"{args.plots_only} is not a bench run folder (no points/ inside)")
    if not 1 <= args.clients <= 8:
        ap.error("--clients must be 1..8")
    if (args.rate_limit or args.delay) and args.network != "netns":
        ap.error("--rate-limit and --delay need --network netns")
    if not 0.01 <= args.sample_interval <= 10:
        ap.error("--sample-interval must be 0.01..10 seconds")
    if not args.plots_only:
        try:
            args.topology, args.cpus = cpus.from_machine(args.server_cpus, args.client_cpus)
        except cpus.CpuSetError as e:
            ap.error(str(e))
    if args.pool < 1:
        ap.error("--pool must be at least 1")
    if args.repeats is not None and not 1 <= args.repeats <= 50:
        ap.error("--repeats must be 1..50")
    if args.scenarios:
        bad = set(args.scenarios.split(",")) - set(SCENARIOS)
        if bad:
            ap.error(f"unknown scenario(s): {', '.join(sorted(bad))}")
    return args


def finish(run_dir: Path, notices: list[str]) -> None:
    """summary.csv, plots and REPORT.md from the raw files of run_dir."""
    rows = summary.collect(run_dir)
    summary.write_csv(rows, run_dir / "summary.csv")
    report.write(run_dir, rows, notices)
    print(f"bench: {run_dir / 'REPORT.md'}", file=sys.stderr)


def raise_fd_limit() -> int:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return hard


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    if args.plots_only:
        run_dir = args.plots_only.resolve()
        notices = report.load_notices(run_dir)
        finish(run_dir, notices)
        return 0

    build = args.build.resolve()
    loadgen = find_binary(build, "loadgen")
    if loadgen is None:
        print(f"bench.py: no loadgen under {build}: build first (make)", file=sys.stderr)
        return 2
    split = args.cpus
    specs, notices = our_models(build, args.pool, profile=args.profile, server_cpus=len(split.server))
    notices += [f"cpus: {n}" for n in split.notes]
    keep = set(args.models.split(",")) if args.models else None
    if keep:
        specs = [s for s in specs if s.name in keep]

    profile = PROFILES[args.profile]
    if args.repeats is not None:
        profile.repeats = max(args.repeats, profile.sweep_repeats)
    seed = args.seed if args.seed is not None else int.from_bytes(os.urandom(4), "big")
    if args.scenarios:
        profile.scenarios = [s for s in SCENARIOS if s in args.scenarios.split(",")]
    run_id = args.run_id or time.strftime("%Y%m%d-%H%M%S") + f"-{profile.name}"
    run_dir = (args.out / run_id).resolve()

    missing: list[dict] = []
    if not args.no_peers:
        found, peer_notices, missing = peers.peer_specs(build, run_dir, len(split.server))
        if keep:
            found = [p for p in found if p.name in keep]
            missing = [m for m in missing if m["peer"] in keep]
            peer_notices = [n for n in peer_notices if n.split(":")[0] in keep]
        notices += peer_notices
        specs += found
    if not specs:
        print("bench.py: no server to measure (see the notices above)", file=sys.stderr)
        for n in notices:
            print("  " + n, file=sys.stderr)
        return 2
    if args.dry_run:
        return dry_run(profile, specs, notices, split, seed, not args.no_micro)
    (run_dir / "points").mkdir(parents=True, exist_ok=True)
    peers.save_missing(run_dir, missing, args.no_peers)

    open_net, net_notice = network.choose(args.network, args.clients, args.rate_limit, args.delay)
    notices.append(net_notice)
    fd_limit = raise_fd_limit()
    notices.append(f"fd limit per process: {fd_limit}")
    groups, why = (cgroups.setup(args.accounting) if args.accounting in ("auto", "cgroup-v1", "cgroup-v2")
                   else (None, f"--accounting {args.accounting}"))
    if groups is None and args.accounting.startswith("cgroup"):
        print(f"bench.py: --accounting {args.accounting}: {why}", file=sys.stderr)
        return 2
    notices.append("accounting: " + (groups.note if groups else
                                     f"per process, no cgroup ({why}): schedstat, else clock ticks"))
    # Issue 17: perf over each point's window (syscalls, switches, the wait
    # for a CPU; flame graphs at the reference points). Without perf, or
    # without the rights, the points run unchanged and the report says so.
    avail = (perfctl.Availability(None, False, False, "perf not used (--no-perf)",
                                  "drop --no-perf to count them")
             if args.no_perf else perfctl.probe("perf", perfcount.TRACEPOINTS))
    hook = perfhooks.PerfHook(avail, profiled=profile.profiled)
    notices.append("perf: " + (hook.avail.skip_line() or
                               f"perf {hook.avail.version} counts syscalls on the server's CPUs "
                               f"over each window of {', '.join(perfhooks.COUNTED)} (the wait for a CPU "
                               "from schedstat, the switches from the accounting); flame graphs at "
                               + ", ".join(f"{sc} {c}" for sc, c in profile.profiled)
                               + "; one idle perf holds the tracepoints for the run"))
    notices.append(f"cpus: server {cpus.format_list(split.server)} (one-core models on CPU "
                   f"{split.headline[0]}), load generator {cpus.format_list(split.client)} "
                   f"({len(split.client)} loadgen threads); the bench itself runs beside the load generator")
    for n in notices:
        print("bench: " + n, file=sys.stderr)
    print(f"bench: run folder {run_dir}", file=sys.stderr)

    (run_dir / "machine.json").write_text(json.dumps(
        dict(machine.describe(build, REPO, args.topology, split), profile=profile.name,
             accounting=groups.note if groups else why), indent=1))
    report.save_notices(run_dir, notices)
    settings = Settings(loadgen, split, fd_limit, open_net, groups, args.accounting,
                        point_hooks=[hook], sample_interval_s=args.sample_interval)
    # The bench's own work (sampling, reading counters) runs on the client's
    # CPUs: the server's must carry the server alone. Its CPU time is in each
    # point's accounting.json. The micro-benchmarks after it choose their
    # own CPUs, so the whole set is given back then.
    allowed = os.sched_getaffinity(0)
    os.sched_setaffinity(0, split.client)

    # A Ctrl-C must reach only this process: the children run in sessions of
    # their own, and measure() stops them before the report is written.
    # SIGTERM (a CI timeout, docker stop) is treated the same way.
    signal.signal(signal.SIGTERM, _interrupt)
    try:
        complete = measure(profile, specs, settings, run_dir, seed, not args.no_micro)
    finally:
        hook.abort()  # Ctrl-C: no perf left running (a no-op after a whole run)
        if groups:
            groups.close()
        os.sched_setaffinity(0, allowed)
    if not complete:
        notices.append("run interrupted: the report shows only the points measured before Ctrl-C")
        report.save_notices(run_dir, notices)
    elif not args.no_micro:
        t0 = time.monotonic()
        run_micro(build, run_dir, notices)
        record_timing(run_dir, micro_s=time.monotonic() - t0)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the report is quick: let it finish
    t0 = time.monotonic()
    finish(run_dir, notices)
    record_timing(run_dir, report_s=time.monotonic() - t0)
    latest = args.out.resolve() / "latest"
    if latest.is_symlink() or not latest.exists():
        if latest.is_symlink():
            latest.unlink()
        latest.symlink_to(run_dir.name)
    return 0 if complete else 130


def dry_run(profile, specs, notices: list[str], split, seed: int, micro: bool) -> int:
    print(f"bench: server CPUs {cpus.format_list(split.server)} (one-core models on CPU "
          f"{split.headline[0]}), load generator CPUs {cpus.format_list(split.client)}")
    points, runnable, _ = planned(profile, specs, seed)
    info = describe_plan(profile, points, runnable, seed, micro)
    for n in notices:
        print("bench: " + n)
    for p in runnable:
        rate = f"{p.rate_fraction:g} x the reference capacity" if p.rate_fraction is not None else ""
        print(f"{p.id}: {p.connections} connections, {p.idle} idle{', ' + rate if rate else ''}, "
              f"warm-up {p.warmup_s:g} s, {p.duration_s:g} s"
              + (", headline" if p.headline else "")
              + (f", A/A copy of {p.control_of}" if p.control_of else "")
              + (f", reconnect every {p.conn_requests}" if p.conn_requests else "")
              + f" (~{point_estimate_s(p):.1f} s)")
    print(f"{len(runnable)} points to measure ({info['headline_points']} of them headline points "
          f"repeated over {profile.repeats} rounds, shuffle seed {seed}; "
          f"{len(points) - len(runnable)} more recorded as not applicable)")
    for t in profile.thinned:
        print(f"thinned: {t}")
    print(f"estimate on a 2-core machine: {fmt(info['estimate_s'])} of points"
          + (f" + {fmt(info['micro_estimate_s'])} of micro-benchmarks" if micro else "")
          + f" + the report = {fmt(total_estimate_s(runnable, micro))}")
    return 0


def _interrupt(signum, _frame):
    raise KeyboardInterrupt


def run_micro(build: Path, run_dir: Path, notices: list[str]) -> None:
    script = REPO / "scripts" / "microbench.py"
    if not script.exists():
        notices.append("micro: scripts/microbench.py not available, no micro results")
        return
    print("bench: running scripts/microbench.py", file=sys.stderr, flush=True)
    rc = subprocess.run([sys.executable, str(script), "--build", str(build),
                         "--out", str(run_dir / "micro")]).returncode
    if rc != 0:
        notices.append(f"micro: scripts/microbench.py exited {rc}")
    report.save_notices(run_dir, notices)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
