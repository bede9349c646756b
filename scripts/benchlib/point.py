"""Measures one point: a fresh server in a cgroup of its own, optional idle
connections, the load generator(s) in the client's cgroup, the accounting
at the edges of the measured window, the samples, and the exits. Everything
it learns goes to files in the point's folder (point.json, loadgen.json,
accounting.json, samples.csv, the logs), so that the summary and the plots
can be redrawn from them alone.

The same runner serves every network mode (network.py): plain loopback, a
fresh namespace per point, or emulated hosts with several load generators
whose results are merged exactly and checked (merge.py).
"""
from __future__ import annotations

import json
import re
import time
from dataclasses import asdict
from pathlib import Path
from typing import Callable, Optional

from . import accounting, hooks, merge, procfs, window as windows
from .cpus import CpuSplit
from .models import ServerSpec
from .network import Net
from .procs import Child, free_port, pin, wait_listening
from .profiles import IDLE_SETTLE_S, STALL_LEAD_S, Point
from .sampler import Sampler

# loadgen --idle's one line once its connections are open (docs/loadgen.md).
HOLDING = re.compile(r"holding (\d+) answered (\d+)(?: of (\d+): (.*))?")
# Room for the listener, logs, epoll and eventfds beside the connections.
FD_MARGIN = 64


class Settings:
    """What every point of a run shares."""

    def __init__(self, loadgen: Path, cpus: CpuSplit, fd_limit: int, open_net: Callable,
                 cgroups=None, accounting_method: str = "auto", point_hooks=(),
                 sample_interval_s: float = 0.1):
        self.loadgen = loadgen
        self.cpus = cpus
        self.fd_limit = fd_limit
        self.open_net = open_net  # name -> context manager yielding a Net
        self.cgroups = cgroups    # cgroups.Cgroups, or None: per-process accounting
        # "auto", or a method to force: cgroup-v1, cgroup-v2, schedstat, proc-ticks
        self.accounting_method = accounting_method
        self.hooks = list(point_hooks)
        self.sample_interval_s = sample_interval_s

    def server_cpus(self, spec: ServerSpec) -> list[int]:
        """One CPU for the one-core comparison, the whole set for "all"."""
        return self.cpus.server if spec.cpus == "all" else self.cpus.headline

    @property
    def client_cpus(self) -> list[int]:
        return self.cpus.client


def _ms(s: float) -> str:
    return f"{int(round(s * 1000))}ms"


def loadgen_argv(settings: Settings, pt: Point, url: str, out: Path, connections: int,
                 rate: Optional[float], n_loadgens: int = 1) -> list[str]:
    """The measured loadgen's command line. It takes no server: every model
    of a point gets the same line but for the target (issue 13)."""
    threads = max(1, min(connections, len(settings.client_cpus) // n_loadgens))
    argv = [str(settings.loadgen), "-c", str(connections), "-t", str(threads),
            "-d", _ms(pt.duration_s), "--warmup", _ms(pt.warmup_s),
            # A request unanswered this long is a timeout. It must fall inside
            # the point, or a connection the server never serves (blocking, a
            # full pool) is invisible: the latency of the answered ones looks
            # fine. So: the measured duration, at least 1 s, at most 5 s.
            "--timeout", _ms(min(5.0, max(1.0, pt.duration_s))), "--quiet", "--json", str(out)]
    if rate is not None:
        argv += ["--rate", f"{rate:g}"]
    if pt.pipeline > 1:
        argv += ["--pipeline", str(pt.pipeline)]
    if pt.connect_rate:
        argv += ["--connect-rate", str(pt.connect_rate)]
    if pt.conn_requests:
        # The scenario's connection policy, the same for every model.
        argv += ["--conn-requests", str(pt.conn_requests)]
    argv.append(url)
    return argv


def background_argv(settings: Settings, pt: Point, url: str, out: Path) -> list[str]:
    """stall's background: closed loop on /cpu/{us}, measuring from when the
    measured loadgen starts, and running well past its end (it is stopped
    with SIGTERM then, and still writes its JSON). Its timeout is loose: a
    /cpu request queued behind the others may legitimately take several x."""
    run_s = STALL_LEAD_S + pt.warmup_s + pt.duration_s + 10
    return [str(settings.loadgen), "-c", str(pt.background_connections), "-t", "1",
            "-d", _ms(run_s), "--warmup", _ms(STALL_LEAD_S), "--timeout", "5000ms",
            "--quiet", "--json", str(out), url]


def split(total: int, parts: int) -> list[int]:
    """total connections over `parts` load generators, as evenly as possible."""
    return [total // parts + (1 if i < total % parts else 0) for i in range(parts)]


def run_point(settings: Settings, spec: ServerSpec, pt: Point, run_dir: Path, pdir: Path) -> dict:
    """Runs one point and writes pdir/point.json; returns its contents."""
    pdir.mkdir(parents=True, exist_ok=True)
    info: dict = {"point": asdict(pt), "id": pt.id, "model": spec.name, "label": spec.label,
                  "peer": spec.peer, "started_at": time.time(),
                  # Overwritten when the point ends; stays if Ctrl-C cuts it short.
                  "status": "interrupted", "reason": "stopped by Ctrl-C before it finished"}

    def done(status: str, reason: str = "") -> dict:
        info["status"], info["reason"] = status, reason
        (pdir / "point.json").write_text(json.dumps(info, indent=1))
        return info

    if not spec.serves(pt.scenario):
        # Not a failure: a peer that answers /hello only. Recorded, not drawn.
        # stall's /hello needs /cpu beside it, at x = 0 too (the baseline of a
        # line that cannot be drawn is no result).
        needs = "/cpu (the background of stall)" if pt.scenario == "stall" else pt.path
        return done("n/a", spec.why_not.get(pt.scenario) or f"{spec.name} does not serve {needs}")
    if (pt.idle + pt.connections + FD_MARGIN > settings.fd_limit * spec.processes
            or pt.connections + FD_MARGIN > settings.fd_limit):
        return done("skipped", f"{pt.idle + pt.connections} connections exceed the per-process "
                               f"fd limit {settings.fd_limit} x {spec.processes} process(es)")
    try:
        with settings.open_net(f"iom-{pt.scenario[:4]}") as net:
            info["network"] = net.kind
            if net.needs_listen_any and spec.listen_any is None:
                return done("n/a", f"{spec.name} cannot listen beyond 127.0.0.1 (network mode)")
            return _Run(settings, spec, pt, run_dir, pdir, net, info, done).measure()
    except KeyboardInterrupt:
        raise
    except Exception as e:  # a broken point must not end the run
        return done("failed", f"{type(e).__name__}: {e}")


class _Run:
    """The processes and readings of one point, stopped in order at the end."""

    def __init__(self, settings: Settings, spec: ServerSpec, pt: Point, run_dir: Path, pdir: Path,
                 net: Net, info: dict, done):
        self.s, self.spec, self.pt, self.run_dir, self.pdir, self.net = settings, spec, pt, run_dir, pdir, net
        self.info, self.done = info, done
        self.marks: dict = {}
        info["marks"] = self.marks
        self.holders: list[Child] = []
        self.loadgens: list[Child] = []
        self.background: Optional[Child] = None
        self.bg_sampler: Optional[Sampler] = None
        self.sampler: Optional[Sampler] = None
        self.server: Optional[Child] = None
        self.ctx: Optional[hooks.PointContext] = None
        cg = settings.cgroups
        name = pt.id.replace("/", "_")
        self.server_group = cg.group(f"{name}--server") if cg else None
        self.client_group = cg.group(f"{name}--client") if cg else None
        self.server_cpus = settings.server_cpus(spec)
        info["cpus"] = {"server": self.server_cpus, "client": settings.client_cpus}
        if cg:
            info["cgroups"] = {"server": self.server_group.path, "client": self.client_group.path}

    # Each side's processes, found from the pids we started through their
    # main threads' children. Not from cgroup.procs: on cgroup v1 reading it
    # walks (and sorts) every thread of the group, 9 ms at 16384 threads;
    # the cgroup counts whatever the list misses anyway.
    def server_pids(self) -> list[int]:
        return procfs.children(self.server.pid)

    def client_pids(self) -> list[int]:
        pids: list[int] = []
        for c in [*self.loadgens, *self.holders, *([self.background] if self.background else [])]:
            if c.alive():
                pids += procfs.children(c.pid)
        return pids

    def client(self, argv: list[str], name: str, i: int = 0) -> Child:
        """A client-side process: its network, the client CPUs, the client's
        cgroup. Its `shown_argv` leaves out the cgroup's wrapper (the same
        for every process of the side, and in point.json's `cgroups`)."""
        wrapped = self.net.client_wrap(i, pin(self.s.client_cpus, argv))
        return Child(self.client_group.wrap(wrapped) if self.client_group else wrapped, self.pdir, name,
                     shown=wrapped)

    def measure(self) -> dict:
        pt, info, done = self.pt, self.info, self.done
        port = self.net.fixed_port or free_port()
        argv = self.spec.make_argv(port, self.run_dir) + (self.spec.listen_any if self.net.needs_listen_any else [])
        full = self.net.server_wrap(pin(self.server_cpus, argv))
        info["server_argv"] = full
        try:
            self.server = Child(self.server_group.wrap(full) if self.server_group else full, self.pdir,
                                "server", shown=full)
            self.ctx = hooks.PointContext(self.pdir, pt, self.spec, self.server.pid, self.server_pids,
                                          self.server_group, self.server_cpus, self.s.client_cpus, info=info)
            addr = wait_listening(self.server, self.spec.announces, port, self.net.server_wrap)
            if addr is None:
                return done("failed", "server did not start: " + (self.server.stderr_tail() or "no output"))
            ip = self.net.target_ip or addr[0]
            port = addr[1]
            self.sampler = Sampler(self.server.pid, self.s.sample_interval_s, pids=self.server_pids,
                                   cpu_ns=self.server_group.cpu_total_ns
                                   if self.server_group else None).start()
            hooks.call(self.s.hooks, "server_started", self.ctx)
            if pt.idle:
                self._hold_idle(ip, port)
            if pt.background_connections and not self._start_background(ip, port):
                return info  # done() was called
            reason = self._run_loadgens(f"http://{ip}:{port}{pt.path}")
            if reason is None:
                return info
            if not self.server.alive():
                return done("failed", f"server died during the point (exit {self.server.exit.status}): "
                            + self.server.stderr_tail())
            return done("ok", reason.strip("; "))
        finally:
            self._stop_all()

    def _start_background(self, ip: str, port: int) -> bool:
        pt, pdir = self.pt, self.pdir
        bg_argv = background_argv(self.s, pt, f"http://{ip}:{port}{pt.background_path}",
                                  pdir / "background.json")
        self.marks["background_start_t"] = round(time.monotonic() - self.sampler.t0, 3)
        self.background = self.client(bg_argv, "background")
        self.info["background_argv"] = self.background.shown_argv
        # It shares the client CPU with the measured loadgen: its CPU counts
        # when deciding whether the client side was the bottleneck.
        self.bg_sampler = Sampler(self.background.pid, self.s.sample_interval_s).start()
        self.marks["background_t0_unix"] = self.bg_sampler.t0_unix
        # Let it connect and fill the server's core before /hello is due.
        time.sleep(STALL_LEAD_S)
        if not self.background.alive():
            self.done("failed", "background loadgen ended before the measurement: "
                      + (self.background.stderr_tail() or f"exit {self.background.exit.status}"))
            return False
        return True

    def _run_loadgens(self, url: str) -> Optional[str]:
        """Runs the measured load generator(s) with the accounting at the
        window's edges; returns the problems to record ("" if none), or None
        after recording a failure."""
        pt, pdir, info, marks = self.pt, self.pdir, self.info, self.marks
        # Several load generators (emulated hosts) share the connections and
        # the rate; their results are merged exactly (histograms summed).
        shares = [c for c in split(pt.connections, self.net.n_clients) if c > 0]
        outs = [pdir / ("loadgen.json" if len(shares) == 1 else f"loadgen-{i}.json")
                for i in range(len(shares))]
        argvs = [loadgen_argv(self.s, pt, url, outs[i], c,
                              None if pt.rate is None else pt.rate * c / pt.connections, len(shares))
                 for i, c in enumerate(shares)]
        marks["loadgen_start_t"] = round(time.monotonic() - self.sampler.t0, 3)
        spawn_ns = time.monotonic_ns()
        self.loadgens = [self.client(a, "loadgen" if len(argvs) == 1 else f"loadgen-{i}", i)
                         for i, a in enumerate(argvs)]
        info["loadgen_argv"] = self.loadgens[0].shown_argv
        info["loadgen_argvs"] = [lg.shown_argv for lg in self.loadgens]
        # The load generator's own command, without the network and CPU
        # wrappers: the same for every model of this point but the target.
        info["loadgen_command"] = argvs[0]
        client_samplers = [Sampler(lg.pid, self.s.sample_interval_s).start() for lg in self.loadgens]
        marks["sampler_t0_unix"] = self.sampler.t0_unix
        marks["client_t0_unix"] = [cs.t0_unix for cs in client_samplers]

        alive = lambda: any(lg.alive() for lg in self.loadgens)  # noqa: E731
        window = windows.await_window(lambda: [lg.stdout_text() for lg in self.loadgens],
                                      spawn_ns, pt.warmup_s, pt.duration_s, alive)
        self.ctx.window = window
        forced = "" if self.s.accounting_method == "auto" else self.s.accounting_method
        acct = accounting.Accountant(
            accounting.Side(self.server_group, self.server_pids, ctx=True, forced=forced),
            accounting.Side(self.client_group, self.client_pids, ctx=False, forced=forced),
            self.server_cpus, self.s.client_cpus, self.sampler)
        hooks.call(self.s.hooks, "window_known", self.ctx)
        on_time = acct.edge(window.start_ns, alive)
        hooks.call(self.s.hooks, "window_start", self.ctx)
        on_time = acct.edge(window.end_ns, alive) and on_time
        hooks.call(self.s.hooks, "window_end", self.ctx)
        self.acct = acct.result(window, cut_short=not on_time)

        budget = pt.warmup_s + pt.duration_s + 15 + pt.connections / 1000
        deadline = time.monotonic() + budget
        finished = all(lg.wait(max(0.0, deadline - time.monotonic())) for lg in self.loadgens)
        marks["loadgen_end_t"] = round(time.monotonic() - self.sampler.t0, 3)
        for i, cs in enumerate(client_samplers):
            cs.stop()
            cs.write_csv(pdir / ("loadgen_samples.csv" if i == 0 else f"loadgen_samples-{i}.csv"))
        reason = "" if finished else f"loadgen ran past {budget:.0f} s and was stopped"
        exits = [asdict(lg.stop()) for lg in self.loadgens]
        info["loadgen_exit"] = exits[0]
        info["loadgen_exits"] = exits
        for lg in self.loadgens:
            if lg.exit.status not in (0, None):
                reason += f"; {lg.name} exit {lg.exit.status}: " + lg.stderr_tail(2)
        if self.background is not None:
            self.bg_sampler.stop()
            self.bg_sampler.write_csv(pdir / "background_samples.csv")
            # Still running by design: its SIGTERM ends it and it writes its JSON.
            info["background_exit"] = asdict(self.background.stop())
            if not (pdir / "background.json").exists():
                self.done("failed", "background loadgen wrote no JSON, so the /hello latency was not "
                          "measured beside /cpu: " + (self.background.stderr_tail()
                                                      or f"exit {self.background.exit.status}"))
                return None
            if self.background.exit.status not in (0, None):
                reason += f"; background exit {self.background.exit.status}: " + self.background.stderr_tail(2)
        if len(outs) > 1:
            problem = merge.merge(self.s.loadgen, outs, pdir / "loadgen.json")
            if problem:
                reason += "; " + problem
            elif (pdir / "loadgen.json").exists():
                info["merge_check"] = merge.check(json.loads((pdir / "loadgen.json").read_text()),
                                                  [json.loads(o.read_text()) for o in outs])
                if info["merge_check"]["mismatches"]:
                    reason += "; merged != sum of parts: " + "; ".join(info["merge_check"]["mismatches"])
        if not (pdir / "loadgen.json").exists():
            self.done("failed", "loadgen wrote no JSON: " + (self.loadgens[0].stderr_tail()
                                                             or f"exit {self.loadgens[0].exit.status}"))
            return None
        self._finish_accounting()
        return reason

    def _finish_accounting(self) -> None:
        """accounting.json, with the window the loadgen itself reported (JSON
        format 2) beside the one the counters were read at."""
        try:
            reported = json.loads((self.pdir / "loadgen.json").read_text()).get("window")
        except (OSError, ValueError):
            reported = None
        self.acct["window"]["loadgen_reported"] = reported if isinstance(reported, dict) else None
        accounting.write(self.pdir / "accounting.json", self.acct)

    def _hold_idle(self, ip: str, port: int) -> None:
        """Opens the idle connections with `loadgen --idle` (several of them
        past one process's fd cap, each from its own 127.0.0.x when the
        server is on loopback) and records the server's RSS before and
        after, for the memory each one costs."""
        pt, marks = self.pt, self.marks
        before = self.sampler.sample_now()
        marks["idle_start_t"] = before["t_s"] if before else None
        marks["rss_before_idle_kib"] = before["rss_kib"] if before else None
        argvs = idle_argvs(self.s, pt, f"http://{ip}:{port}{pt.path}", self.pdir)
        self.holders = [self.client(a, "idle" if i == 0 else f"idle-{i}") for i, a in enumerate(argvs)]
        self.info["idle_commands"] = argvs
        held = answered = 0
        problems = []
        for h, n in zip(self.holders, split(pt.idle, len(argvs))):
            m = h.wait_for_line(HOLDING, timeout_s=idle_open_s(n) + idle_answer_s(n) + 10)
            held += int(m.group(1)) if m else 0
            answered += int(m.group(2)) if m else 0
            if not m or m.group(3):
                problems.append(m.group(4) if m else f"{h.name} said nothing: "
                                + (h.stderr_tail() or f"exit {h.exit.status if h.exit else '?'}"))
        time.sleep(IDLE_SETTLE_S)  # let the server finish accepting and settle
        after = self.sampler.sample_now()
        marks["idle_ready_t"] = after["t_s"] if after else None
        marks["rss_idle_kib"] = after["rss_kib"] if after else None
        marks["idle_held"] = held
        marks["idle_answered"] = answered
        if problems:
            marks["idle_problem"] = "; ".join(problems)

    def _stop_all(self) -> None:
        info = self.info
        if self.holders:
            info["idle_exits"] = [asdict(h.stop()) for h in self.holders]
        for lg in self.loadgens:
            lg.stop()
        if self.background is not None:
            self.background.stop()
        if self.bg_sampler:
            self.bg_sampler.stop()
        if self.sampler:
            self.sampler.stop()
            self.sampler.write_csv(self.pdir / "samples.csv")
        if self.server is not None:
            ex = self.server.stop()
            info["server_exit"] = asdict(ex)
            if ex.status not in (0, None) and info["status"] == "ok":
                # SPEC §4: SIGTERM stops a server cleanly with status 0.
                info["reason"] = (info["reason"] + f"; server exit {ex.status} on SIGTERM").strip("; ")
        if self.ctx is not None:
            hooks.call(self.s.hooks, "point_done", self.ctx)
        for g in (self.server_group, self.client_group):
            if g is not None and not g.remove():
                info.setdefault("notes", []).append(f"cgroup {g.path} still busy after the point")
        (self.pdir / "point.json").write_text(json.dumps(info, indent=1))


# Idle connections per `loadgen --idle` process: under the per-process fd
# cap (20000 here) and under the ~28k ephemeral ports of one source address.
PER_HOLDER = 16384


def idle_open_s(n: int) -> float:
    """--idle-timeout: time allowed to open n connections (generous: a
    thread per connection starts about 5000 threads a second here under
    load, and the server accepts at that pace)."""
    return max(10.0, n / 1000)


def idle_answer_s(n: int) -> float:
    """--idle-answer-wait: time for the answers once all are open."""
    return max(2.0, n / 2000)


def idle_argvs(settings: Settings, pt: Point, url: str, pdir: Path) -> list[list[str]]:
    """The `loadgen --idle` command lines of a point: PER_HOLDER connections
    at most per process (its fd cap), each process but the first from its
    own 127.0.0.x when the target is on loopback (each source address has
    its own ephemeral ports towards the server's one port)."""
    parts = split(pt.idle, -(-pt.idle // PER_HOLDER))
    out = []
    for i, n in enumerate(parts):
        argv = [str(settings.loadgen), "--idle", str(n), "--idle-timeout", _ms(idle_open_s(n)),
                "--idle-answer-wait", _ms(idle_answer_s(n)), "--quiet",
                "--json", str(pdir / ("idle.json" if i == 0 else f"idle-{i}.json"))]
        host = url.split("//", 1)[1].split(":", 1)[0]
        if host.startswith("127.") and i:
            argv += ["--source-addrs", f"127.0.0.{i + 1}"]
        out.append(argv + [url])
    return out
