#!/usr/bin/python3
"""Runs the micro-benchmarks (build/microbench/microbench and parser-bench),
writes their Google Benchmark JSON into a run folder, one file per family,
draws the plots and writes summary.md (key figures) and claims.md (the
article's claims against them).

    scripts/microbench.py --build build [--out results/micro-<timestamp>]

Each family runs in its own process, the timing ones pinned to one CPU so
that a hand-off between two threads is a context switch on that CPU rather
than a wake-up on the other one. The whole suite takes well under three
minutes with the default --min-time.
"""
from __future__ import annotations

import argparse
import datetime
import json
import os
import subprocess
import sys
import time
from pathlib import Path

SCRIPTS = Path(__file__).resolve().parent
REPO = SCRIPTS.parent
sys.path.insert(0, str(SCRIPTS))

import micro_results  # noqa: E402
from benchlib import machine as machine_json  # noqa: E402

# family -> (program, --benchmark_filter, pinned to one CPU?, repeatable?)
FAMILIES = {
    "readiness": ("microbench", "^BM_(Select|Poll|EpollWait|EpollWaitReady)/", True, True),
    "thread_cost": ("microbench", "^BM_(FunctionCall|ThreadCreateJoin|PoolHandOff)(/|$)", True, True),
    # Memory deltas: pinning would only slow the start of 1 000 threads. Only
    # the first run in a process is clean: glibc keeps the stacks of exited
    # threads (up to 40 MiB) and hands them, already resident, to new ones.
    "thread_memory": ("microbench", "^BM_BlockedThreadsMemory", False, False),
    "context_switch": ("microbench", "^BM_PingPong/", True, True),
    # The same ping-pong free to use both CPUs: a wake-up across CPUs, which
    # is what the threads of a server on this machine mostly pay.
    "context_switch_unpinned": ("microbench", "^BM_PingPong/", False, True),
    "kernel_memory": ("microbench", "^BM_KernelMemory", False, True),
    "protocol": ("microbench", "^BM_ProtocolHello/", True, True),
    "parser": ("parser-bench", ".", True, True),
}

# Each family takes seconds; this bounds a hung one.
FAMILY_TIMEOUT_S = 120


def find_program(build: Path, name: str) -> Path:
    for candidate in (build / "microbench" / name, build / name):
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return candidate
    raise SystemExit(f"microbench: {name} not found under {build}/microbench; "
                     f"build it first (cmake --build {build} --target {name})")


def run_family(program: Path, family: str, bench_filter: str, cpu: int | None,
               out: Path, min_time: float, repetitions: int) -> bool:
    json_path = out / f"{family}.json"
    command = [str(program), f"--benchmark_filter={bench_filter}",
               f"--benchmark_min_time={min_time}", f"--benchmark_out={json_path}",
               "--benchmark_out_format=json", "--benchmark_counters_tabular=false"]
    if repetitions > 1:
        command.append(f"--benchmark_repetitions={repetitions}")
    pin = (lambda: os.sched_setaffinity(0, {cpu})) if cpu is not None else None
    where = f"CPU {cpu}" if cpu is not None else "any CPU"
    print(f"microbench: {family} ({program.name}, {where})", file=sys.stderr, flush=True)
    with open(out / f"{family}.txt", "w") as console:
        try:
            # A hung family (a lost wake-up would be a bug) must not hang the
            # bench: subprocess.run kills it at the timeout.
            done = subprocess.run(command, stdout=console, stderr=subprocess.STDOUT,
                                  preexec_fn=pin, timeout=FAMILY_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            print(f"microbench: {family} killed after {FAMILY_TIMEOUT_S} s", file=sys.stderr)
            return False
    if done.returncode != 0:
        print(f"microbench: {family} exited {done.returncode}, see {family}.txt", file=sys.stderr)
    return done.returncode == 0


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--build", type=Path, default=REPO / "build", help="CMake build folder")
    parser.add_argument("--out", type=Path, help="run folder (default results/micro-<timestamp>)")
    parser.add_argument("--min-time", type=float, default=0.1,
                        help="--benchmark_min_time in seconds (default %(default)s)")
    parser.add_argument("--repetitions", type=int, default=3,
                        help="runs of each benchmark; the median is used (default %(default)s)")
    parser.add_argument("--cpu", type=int, default=None,
                        help="CPU to pin the timing families to (default: the last one allowed)")
    parser.add_argument("--families", nargs="+", choices=sorted(FAMILIES), metavar="FAMILY",
                        help="run only these families: " + ", ".join(FAMILIES))
    parser.add_argument("--plots-only", action="store_true",
                        help="redraw plots and claims.md of --out from its JSON, run nothing")
    args = parser.parse_args(argv)
    if args.min_time <= 0 or args.repetitions < 1:
        parser.error("--min-time must be > 0 and --repetitions >= 1")
    allowed = sorted(os.sched_getaffinity(0))
    if args.cpu is None:
        args.cpu = allowed[-1]
    elif args.cpu not in allowed:
        parser.error(f"--cpu {args.cpu} is not one of the CPUs allowed here: {allowed}")
    if args.plots_only and args.out is None:
        parser.error("--plots-only needs --out RUN_FOLDER")
    return args


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    if args.out is None:
        stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
        args.out = REPO / "results" / f"micro-{stamp}"
    out: Path = args.out
    families = args.families or list(FAMILIES)
    build = args.build.resolve()
    # Before anything is created: a missing build leaves no empty run folder.
    programs = {} if args.plots_only else {
        f: find_program(build, FAMILIES[f][0]) for f in families}
    out.mkdir(parents=True, exist_ok=True)

    failed = []
    if not args.plots_only:
        started = time.monotonic()
        for family in families:
            _, bench_filter, pinned, repeatable = FAMILIES[family]
            program = programs[family]
            if not run_family(program, family, bench_filter, args.cpu if pinned else None, out,
                              args.min_time, args.repetitions if repeatable else 1):
                failed.append(family)
        machine = machine_json.describe(build, REPO)
        machine.update(pinned_cpu=args.cpu, min_time=args.min_time, repetitions=args.repetitions)
        (out / "machine.json").write_text(json.dumps(machine, indent=2) + "\n")
        print(f"microbench: ran in {time.monotonic() - started:.0f} s", file=sys.stderr)

    import micro_plots  # matplotlib is slow to import: only now
    import claims
    import micro_report
    for path in micro_plots.draw_all(out):
        print(f"microbench: wrote {path}", file=sys.stderr)
    (out / "claims.md").write_text(claims.claims_markdown(out) + "\n")
    print(f"microbench: wrote {micro_report.write(out)}", file=sys.stderr)
    print(f"microbench: results in {out}", file=sys.stderr)
    if failed:
        print(f"microbench: failed families: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
