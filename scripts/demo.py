#!/usr/bin/python3
"""make demo: the I/O models one after another under the same live load, in
one table redrawn once a second, for a room to watch.

  demo.py --build build                                  # the defaults, < 2 min
  demo.py --scenario hello --connections 1,10,100 --seconds 3
  demo.py --models blocking,epoll --scenario sleep

Each step is one model at one connection count: a fresh server on the
bench's server CPU, the load generator on the client CPUs (CPU 0 and CPU 1
on a 2-core machine), for --seconds. Every model gets the same load
generator command line (--conn-requests applies to all). While a step runs
the row shows the load generator's live requests/s, p50 (of the last second)
and p99 (so far) and
the server's RSS, threads, context switches/s and CPU % (from /proc, one
sample a second); when it ends the row gets the step's p50/p99 and averages.
Ctrl-C (or SIGTERM) stops the server and the load generator and exits 130.
"""
from __future__ import annotations

import argparse
import json
import re
import signal
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Optional

sys.path.insert(0, str(Path(__file__).resolve().parent))

from benchlib import cpus, procfs, procs, registry  # noqa: E402
from benchlib.models import find_binary, our_models  # noqa: E402
from benchlib.procs import Child, pin, wait_listening  # noqa: E402
from benchlib.sampler import Sampler  # noqa: E402
from demo_table import Row, Screen  # noqa: E402

SCENARIOS = {"hello": "/hello", "sleep": "/sleep/10", "cpu": "/cpu/100", "bytes": "/bytes/16384"}
DEFAULT_MODELS = "blocking,threaded-pool0,threaded-pool64,epoll"
# loadgen: "[   3s]   12345 req/s  errors 0  p99 so far 123.4 us  p50 45.6 us"
# (the p50 of that second; older loadgens end after the p99)
PROGRESS = re.compile(r"\[\s*(\d+)s\]\s+(\d+) req/s\s+errors (\d+)\s+p99 so far ([\d.]+) us"
                      r"(?:\s+p50 ([\d.]+) us)?")


class Stop(Exception):
    """SIGTERM, turned into the same clean stop as Ctrl-C."""


# While a child is being started and recorded, a signal is only noted and
# raised right after, so that procs' list of live processes misses none.
# (Not sigprocmask: a blocked signal mask is inherited through exec, and the
# server would then ignore the SIGTERM that stops it.)
_held = {"depth": 0, "pending": None}


def on_signal(signum, frame):
    exc = KeyboardInterrupt() if signum == signal.SIGINT else Stop()
    if _held["depth"]:
        _held["pending"] = exc
    else:
        raise exc


@contextmanager
def signals_held():
    _held["depth"] += 1
    try:
        yield
    finally:
        _held["depth"] -= 1
        pending, _held["pending"] = _held["pending"], None
        if pending is not None and not _held["depth"]:
            raise pending


def parse_args(argv: list[str]) -> argparse.Namespace:
    ap = argparse.ArgumentParser(
        prog="demo.py", description=__doc__.split("\n\n")[0].split(": ", 1)[1],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="Models: the registry's (servers/models.json): "
        + ", ".join(i.replace("{pool}", "N") for i in registry.ids() if "{cpus}" not in i)
        + " (threaded-poolN for any N). Scenarios: "
        + ", ".join(f"{k} = {v}" for k, v in SCENARIOS.items()) + ".")
    ap.add_argument("--build", default="build", help="CMake build folder with the servers and loadgen")
    ap.add_argument("--scenario", default="sleep", choices=sorted(SCENARIOS),
                    help="what every request asks for (default sleep: /sleep/10)")
    ap.add_argument("--path", help="request this path instead of the scenario's, e.g. /cpu/1000")
    ap.add_argument("--connections", default="1,10,100,1000",
                    help="comma-separated connection counts (default 1,10,100,1000)")
    ap.add_argument("--models", default=DEFAULT_MODELS,
                    help="comma-separated models, in the order to run them (default %(default)s)")
    ap.add_argument("--conn-requests", type=int, default=0, metavar="N",
                    help="every model's clients reconnect after N requests (default 0: keep-alive "
                         "connections; the blocking server then serves one client at a time, "
                         "which is the lesson)")
    ap.add_argument("--seconds", type=float, default=4.0,
                    help="measured seconds per step (default 4: 16 steps in under 2 minutes)")
    ap.add_argument("--server-cpus", default=None,
                    help="CPU list for the server (default: the bench's split, CPU 0 on 2 cores)")
    ap.add_argument("--client-cpus", default=None,
                    help="CPU list for loadgen, one thread each (default: the bench's split)")
    args = ap.parse_args(argv)
    try:
        args.connections = [int(c) for c in args.connections.split(",") if c.strip()]
    except ValueError:
        ap.error(f"--connections: expected numbers like 1,10,100, got {args.connections!r}")
    if not args.connections or min(args.connections) < 1:
        ap.error("--connections: at least one count, each >= 1")
    if not 0.5 <= args.seconds <= 600:
        ap.error("--seconds: between 0.5 and 600")
    if args.conn_requests < 0:
        ap.error("--conn-requests must be >= 0")
    args.models = [m.strip() for m in args.models.split(",") if m.strip()]
    bad = [m for m in args.models if not registry.ours(m) or "-cpus" in m]
    if bad or not args.models:
        ap.error(f"--models: unknown {', '.join(bad) or '(none given)'}; choose from "
                 + ", ".join(i.replace("{pool}", "N") for i in registry.ids() if "{cpus}" not in i))
    if args.path is not None and not args.path.startswith("/"):
        ap.error("--path must start with /")
    try:
        _, split = cpus.from_machine(args.server_cpus, args.client_cpus)
    except cpus.CpuSetError as e:
        ap.error(str(e))
    # The one-core comparison, as in the bench; on one CPU both share it
    # (the table still teaches).
    args.server_cpus, args.client_cpus = split.headline, split.client
    return args


def pick_models(build: Path, names: list[str]) -> tuple[list, list[str]]:
    """The bench's ServerSpecs for the names asked for, in that order."""
    pools = {int(n[len("threaded-pool"):]) for n in names
             if n.startswith("threaded-pool") and n[len("threaded-pool"):].isdigit()} - {0}
    specs = {}
    for pool in pools or {64}:
        found, _ = our_models(build, pool=pool)
        specs.update({s.name: s for s in found if s.cpus == "one"})
    missing = [n for n in names if n not in specs]
    return [specs[n] for n in names if n in specs], missing


def live(sampler: Sampler) -> Optional[dict]:
    """A sample with what the table shows each second: the bench's sampler
    row, plus CPU seconds (/proc/PID/stat) and context switches summed over
    the threads. The bench takes those over the measured window instead
    (accounting.py); once a second at the demo's scale they are cheap."""
    row = sampler.sample_now()
    if row is None:
        return None
    pids = procfs.children(sampler.pid)
    row["cpu_s"] = sum(procfs.ticks(pids)) / procfs.USER_HZ
    sweep = procfs.sweep(pids, run_time=False, ctx=True)
    row["vol_ctx"] = sum(v for v, _ in sweep.ctx.values())
    row["invol_ctx"] = sum(i for _, i in sweep.ctx.values())
    return row


def last_progress(child: Child) -> Optional[re.Match]:
    try:
        text = child.stderr_path.read_text(errors="replace")
    except OSError:
        return None
    found = PROGRESS.findall(text)
    return found[-1] if found else None


class StepRunner:
    def __init__(self, args, loadgen: Path, screen: Screen, rows: list[Row], logs: Path):
        self.args, self.loadgen, self.screen, self.rows, self.logs = args, loadgen, screen, rows, logs
        self.notes: list[str] = []

    def run(self, spec, connections: int) -> None:
        row = Row(registry.short(spec.name) or spec.name, connections)
        self.rows.append(row)
        tag = f"{spec.name}-{connections}"
        with signals_held():
            server = Child(pin(self.args.server_cpus, spec.make_argv(0, self.logs)), self.logs,
                           f"{tag}-server")
        try:
            self._measure(spec, connections, row, tag, server)
        finally:
            server.stop(signal.SIGTERM, grace_s=3.0)
        if server.exit and server.exit.status not in (0, None) and row.state == "done":
            self.notes.append(f"{row.model} at {connections}: server exited {server.exit.status}")

    def _measure(self, spec, connections: int, row: Row, tag: str, server: Child) -> None:
        addr = wait_listening(server, True, 0)
        if not addr:
            row.state = "failed"
            self.notes.append(f"{row.model} at {connections}: server did not start: "
                              f"{server.stderr_tail(2) or 'no listening line'}")
            self.screen.draw(self.rows)
            return
        url = f"http://{addr[0]}:{addr[1]}{self.args.path or SCENARIOS[self.args.scenario]}"
        out = self.logs / f"{tag}.json"
        threads = max(1, min(connections, len(self.args.client_cpus)))
        argv = [str(self.loadgen), "-c", str(connections), "-t", str(threads),
                "-d", f"{int(self.args.seconds * 1000)}ms", "--timeout", "5s", "--json", str(out)]
        if self.args.conn_requests:
            argv += ["--conn-requests", str(self.args.conn_requests)]
        argv.append(url)
        sampler = Sampler(server.pid)
        first = prev = live(sampler)
        with signals_held():
            client = Child(pin(self.args.client_cpus, argv), self.logs, f"{tag}-loadgen")
        try:
            rss_max = threads_max = 0
            # loadgen prints second N at N s after its start: draw a little
            # after that, so each redraw has a fresh line to show.
            next_tick = time.monotonic() + 1.25
            # A closed loop ends on time; the margin covers connecting and the
            # last requests' timeout, so a stuck step cannot hang the demo.
            deadline = time.monotonic() + self.args.seconds + 10
            while client.alive() and time.monotonic() < deadline:
                time.sleep(max(0.0, min(0.1, next_tick - time.monotonic())))
                if time.monotonic() < next_tick:
                    continue
                next_tick += 1.0
                now = live(sampler)
                if now and prev:
                    dt = max(1e-3, now["t_s"] - prev["t_s"])
                    row.rss_kib, row.threads = now["rss_kib"], now["threads"]
                    rss_max, threads_max = max(rss_max, now["rss_kib"]), max(threads_max, now["threads"])
                    row.ctx_per_s = (now["vol_ctx"] + now["invol_ctx"] - prev["vol_ctx"] - prev["invol_ctx"]) / dt
                    row.cpu_pct = 100 * (now["cpu_s"] - prev["cpu_s"]) / dt
                    prev = now
                p = last_progress(client)
                if p:
                    row.rps, row.errors, row.p99_us = float(p[1]), int(p[2]), float(p[3])
                    if p[4]:
                        row.p50_us = float(p[4])
                self.screen.draw(self.rows, f"running {row.model} at {connections} connections")
            # Once the load generator has gone, a thread per connection has
            # gone with its connection, and its context switches with it: the
            # step's averages end at the last sample taken under load, unless
            # the step was too short to take one (then at this last sample).
            under_load = client.alive()
            last = live(sampler)
            if last:
                rss_max, threads_max = max(rss_max, last["rss_kib"]), max(threads_max, last["threads"])
            if not under_load and prev is not first:
                last = prev
        finally:
            client.stop(signal.SIGTERM, grace_s=3.0)
        self._finish(row, out, client, first, last or prev, rss_max, threads_max)

    def _finish(self, row: Row, out: Path, client: Child, first, last, rss_max, threads_max) -> None:
        # The step's own figures replace the live ones: the JSON's p50/p99 and
        # throughput over the whole window, averages of CPU and switches.
        if first and last and last["t_s"] > first["t_s"]:
            dt = last["t_s"] - first["t_s"]
            row.cpu_pct = 100 * (last["cpu_s"] - first["cpu_s"]) / dt
            row.ctx_per_s = (last["vol_ctx"] + last["invol_ctx"] - first["vol_ctx"] - first["invol_ctx"]) / dt
            row.rss_kib = max(rss_max, last["rss_kib"])
            row.threads = max(threads_max, last["threads"])
        try:
            res = json.loads(out.read_text())
        except (OSError, ValueError):
            row.state = "failed"
            self.notes.append(f"{row.model} at {row.connections}: loadgen wrote no results "
                              f"(exit {client.exit.status if client.exit else '?'}): "
                              f"{client.stderr_tail(1)[-200:]}")
            self.screen.draw(self.rows)
            return
        # The percentiles cover every measured request, the unanswered ones
        # with their age when the window closed (SPEC §5): such a figure is a
        # lower bound, drawn "≥".
        lat = res.get("latency_us") or {}
        bound = lat.get("lower_bound") or {}
        row.rps = res.get("throughput_rps")
        row.p50_us, row.p99_us = lat.get("p50"), lat.get("p99")
        row.p50_lower_bound, row.p99_lower_bound = bool(bound.get("p50")), bool(bound.get("p99"))
        errors = res.get("errors") or {}
        row.errors = errors.get("total", sum(errors.values()))
        row.state = "done"
        fair = res.get("fairness") or {}
        if fair.get("connections"):
            row.served_share = fair.get("answered_share")
            waiting = fair["connections"] - fair.get("answered", 0)
            if waiting > 0:
                self.notes.append(
                    f"{row.model} at {row.connections}: {waiting:,} of {fair['connections']:,} "
                    "connections got no answer in the whole step (served column); their "
                    "wait is in p50/p99 as a lower bound (≥)")
        if client.exit and client.exit.status == 3:
            # loadgen's "ran but invalid": say why in a note, keep the figures.
            row.state = "invalid"
            why = client.stderr_tail(1)[-160:]
            self.notes.append(f"{row.model} at {row.connections}: loadgen says the run is invalid"
                              + (f": {why}" if why else ""))
        self.screen.draw(self.rows)


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    build = Path(args.build)
    loadgen = find_binary(build, "loadgen")
    if loadgen is None:
        print(f"demo.py: no loadgen under {build}: run `make` first (or pass --build)", file=sys.stderr)
        return 1
    specs, missing = pick_models(build, args.models)
    if missing:
        print(f"demo.py: not built under {build}: {', '.join(missing)} (run `make` first)",
              file=sys.stderr)
        return 1
    path = args.path or SCENARIOS[args.scenario]
    title = (f"iomodels demo: GET {path}, {args.seconds:g} s per step, server on CPU "
             f"{args.server_cpus or 'any'}, loadgen on CPU {args.client_cpus or 'any'}")
    screen = Screen(title)
    rows: list[Row] = []
    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    interrupted = False
    with tempfile.TemporaryDirectory(prefix="iomodels-demo-") as tmp:
        runner = StepRunner(args, loadgen, screen, rows, Path(tmp))
        try:
            for spec in specs:
                for c in args.connections:
                    runner.run(spec, c)
        except (KeyboardInterrupt, Stop):
            interrupted = True
        finally:
            # A second Ctrl-C must not cut the clean-up short.
            signal.signal(signal.SIGINT, signal.SIG_IGN)
            signal.signal(signal.SIGTERM, signal.SIG_IGN)
            procs.stop_all()
        notes = runner.notes + (["interrupted: every server and loadgen was stopped"] if interrupted else [])
        notes.append("live rows: requests/s and p50 of the last second, p99 so far; a finished "
                     "step: its whole window")
        screen.final(rows, notes)
    return 130 if interrupted else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
