#!/usr/bin/python3
"""One point's server on the server host, and everything measured beside it.

    serve_point.py --dir DIR --point ID --parties 2 --barrier-port 8081 --cpus 0 \
        --warmup-s 1 --duration-s 3 [--idle] -- server-epoll --port 8080 ...

Starts the server pinned to --cpus (in a cgroup of its own where it can
make one) and waits until it listens and every client host's helper (a
"party": it runs a shard, holds idle connections, or both) has asked for
the start barrier (barrier.py, UDP --barrier-port). For an idle point it
reads the server's RSS, tells the parties to open their idle connections,
and reads it again once they all hold them (the memory each one costs).
Then it chooses T --lead-s ahead on this host's clock (the run's reference
clock) and tells them, and each runs its loadgen with `--start-at T`. The
measured window is then
[T + warm-up, T + warm-up + duration] on this clock: the server's CPU,
context switches, memory and per-CPU time are read at exactly its edges
(scripts/benchlib/accounting.py), its RSS/threads/fds sampled throughout
(samples.csv). --linger-s after the window it stops the server (SIGTERM;
wait4 gives its whole-life rusage) and packs server.json, accounting.json,
samples.csv and the logs into DIR/result.tgz.

It ends by itself: the server runs under `timeout`, this helper under the
playbook's, and SIGTERM (stop_run.py) stops the server first and still
writes what was measured.
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from dataclasses import asdict

import barrier
import hostlib
from benchlib import accounting, cgroups, procfs
from benchlib.procs import pin, wait_listening
from benchlib.sampler import Sampler

# How long a server may take to print `listening on` (threaded pools start
# their threads first).
LISTEN_TIMEOUT_S = 20.0


def parse_args(argv: list[str]) -> argparse.Namespace:
    ap = hostlib.point_parser(__doc__, "the server's command line")
    ap.add_argument("--cpus", required=True, help="the server's CPUs (taskset list)")
    ap.add_argument("--parties", type=int, required=True, help="how many client hosts take part")
    ap.add_argument("--idle", action="store_true", help="the parties hold idle connections first")
    ap.add_argument("--idle-timeout-s", type=float, default=120.0,
                    help="how long the parties may take to open them (default %(default)s)")
    ap.add_argument("--barrier-port", type=int, required=True, help="UDP port of the start barrier")
    ap.add_argument("--barrier-timeout-s", type=float, default=60.0,
                    help="how long to wait for every shard to ask (default %(default)s)")
    ap.add_argument("--lead-s", type=float, default=1.0,
                    help="the barrier lies this far ahead once every shard asked (default %(default)s)")
    ap.add_argument("--linger-s", type=float, default=0.5,
                    help="the server stays up this long after the window (default %(default)s)")
    ap.add_argument("--accounting", default="auto",
                    choices=["auto", "cgroup-v1", "cgroup-v2", "schedstat", "proc-ticks"])
    ap.add_argument("--no-announce", action="store_true",
                    help="the server prints no 'listening on' line: poll its port instead")
    ap.add_argument("--port", type=int, default=8080)
    args = hostlib.parse_point_args(ap, argv, cpus_required=True)
    if not args.command:
        ap.error("no server command line after --")
    return args


def bound_s(args) -> float:
    """The longest this point may take on this host, from start to stop."""
    return (LISTEN_TIMEOUT_S + args.barrier_timeout_s + (args.idle_timeout_s if args.idle else 0)
            + args.lead_s + args.warmup_s + args.duration_s + args.linger_s + 30)


def mono_at(unix_s: float) -> int:
    """A wall-clock instant of this host on CLOCK_MONOTONIC (both read together)."""
    return time.monotonic_ns() + int((unix_s - time.time()) * 1e9)


class Point:
    def __init__(self, args):
        self.args = args
        self.dir = hostlib.fresh_dir(args.dir)
        self.info: dict = {"role": "server", "host": os.uname().nodename, "cpus": args.cpu_list,
                           "status": "failed", "reason": "stopped before the server started", "notes": []}
        self.groups = self.group = self.server = self.sampler = None
        self.acct = self.barrier = None

    def run(self) -> None:
        args, info = self.args, self.info
        self.barrier = barrier.Barrier(args.barrier_port, args.point, args.parties)
        # A limit it could not raise is said once per host, in the run's
        # notices (hostinfo.py), not in every point.
        info["nofile"], info["nofile_note"] = hostlib.raise_nofile(args.nofile)
        hostlib.pin_self(args.agent_list)
        if args.accounting in ("auto", "cgroup-v1", "cgroup-v2"):
            self.groups, why = cgroups.setup(args.accounting)
            info["accounting"] = self.groups.note if self.groups else f"per process, no cgroup ({why})"
        self.group = self.groups.group("server") if self.groups else None

        argv = [str(hostlib.binary(args.command[0])), *args.command[1:]]
        pinned = pin(args.cpu_list, argv)
        info["server_argv"] = pinned
        wrapped = self.group.wrap(pinned) if self.group else pinned
        self.server, pid = hostlib.start_bounded(wrapped, self.dir, "server", bound_s(args), shown=pinned)
        info["pid"] = pid
        addr = wait_listening(self.server, not args.no_announce, args.port, timeout_s=LISTEN_TIMEOUT_S)
        if addr is None:
            info["reason"] = "server did not start: " + (self.server.stderr_tail() or "no output")
            self.barrier.fail(info["reason"])
            return
        pids = lambda: procfs.children(pid)  # noqa: E731
        self.sampler = Sampler(pid, args.sample_interval, pids=pids,
                               cpu_ns=self.group.cpu_total_ns if self.group else None).start()
        marks = info["marks"] = {"sampler_t0_unix": self.sampler.t0_unix}
        try:
            if args.idle:
                self._hold_idle(marks)
            else:
                self.barrier.gather({"wait": True}, "ask", args.barrier_timeout_s)
        except barrier.BarrierTimeout as e:
            info["reason"] = f"{e} (of {args.parties} client host(s))"
            return
        start_at = self.barrier.release(args.lead_s)
        start_unix = start_at + args.warmup_s
        end_unix = start_unix + args.duration_s
        window = accounting.Window(mono_at(start_unix), mono_at(end_unix), "start-at")
        info.update(listening=list(addr), start_at=start_at, window_unix={"start": start_unix, "end": end_unix})
        marks.update(loadgen_start_t=round(start_at - self.sampler.t0_unix, 3),
                     loadgen_end_t=round(end_unix - self.sampler.t0_unix, 3))

        forced = "" if args.accounting == "auto" else args.accounting
        acct = accounting.Accountant(
            accounting.Side(self.group, pids, ctx=True, forced=forced),
            accounting.Side(None, lambda: [], ctx=False, forced=forced),
            args.cpu_list, [], self.sampler)
        on_time = acct.edge(window.start_ns, self.server.alive)
        on_time = acct.edge(window.end_ns, self.server.alive) and on_time
        self.acct = acct.result(window, cut_short=not on_time)
        self.acct["window"]["start_unix_s"], self.acct["window"]["end_unix_s"] = start_unix, end_unix
        # The load generators close their connections at the window's end;
        # a moment later the server may go.
        accounting.sleep_until(mono_at(end_unix + args.linger_s), self.server.alive)
        if not self.server.alive():
            info["reason"] = (f"server died during the point (exit {self.server.exit.status}): "
                              + self.server.stderr_tail())
            return
        info["status"], info["reason"] = "ok", ""

    def _hold_idle(self, marks: dict) -> None:
        """The server's RSS before and after every party holds its idle
        connections, as the bench reads it on one machine (point.py)."""
        args = self.args
        before = self.sampler.sample_now()
        marks.update(idle_start_t=before["t_s"] if before else None,
                     rss_before_idle_kib=before["rss_kib"] if before else None)
        self.barrier.gather({"hold": True}, "ask", args.barrier_timeout_s)
        reports = self.barrier.gather({"hold": True}, "held", args.idle_timeout_s)
        time.sleep(0.3)  # let the server finish accepting and settle
        after = self.sampler.sample_now()
        problems = [f"{p}: {r['problem']}" for p, r in sorted(reports.items()) if r.get("problem")]
        marks.update(idle_ready_t=after["t_s"] if after else None,
                     rss_idle_kib=after["rss_kib"] if after else None,
                     idle_held=sum(int(r.get("held") or 0) for r in reports.values()),
                     idle_answered=sum(int(r.get("answered") or 0) for r in reports.values()))
        if problems:
            marks["idle_problem"] = "; ".join(problems)

    def finish(self) -> None:
        """Stops what runs, writes what was measured, packs it: also after
        a failure or SIGTERM."""
        info = self.info
        if self.server is not None:
            ex = self.server.stop()
            info["server_exit"] = asdict(ex)
            if ex.status not in (0, None) and info["status"] == "ok":
                # SPEC §4: SIGTERM stops a server cleanly with status 0.
                info["reason"] = f"server exit {ex.status} on SIGTERM"
            hostlib.forget_pid("server")
        if self.sampler is not None:
            self.sampler.stop()
            self.sampler.write_csv(self.dir / "samples.csv")
        if self.acct is not None:
            self.acct["harness"]["note"] = "the server host's helper (serve_point.py)"
            accounting.write(self.dir / "accounting.json", self.acct)
        if self.group is not None and not self.group.remove():
            info["notes"].append(f"cgroup {self.group.path} still busy after the point")
        if self.groups is not None:
            self.groups.close()
        if self.barrier is not None:
            self.barrier.close()
        hostlib.write_json(self.dir / "server.json", info)
        hostlib.pack(self.dir, self.dir / "result.tgz")


def main(argv: list[str]) -> int:
    point = Point(parse_args(argv))
    return hostlib.run_helper("serve", point, lambda why: point.info.update(reason=why))


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
