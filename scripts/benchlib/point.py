"""Measures one point: a fresh server, optional idle connections, the load
generator(s), the samples, and the exits. Everything it learns goes to files
in the point's folder (point.json, loadgen.json, samples.csv, the logs), so
that the summary and the plots can be redrawn from them alone."""
from __future__ import annotations

import json
import re
import subprocess
import sys
import time
from dataclasses import asdict
from pathlib import Path
from typing import Callable, Optional

from .models import ServerSpec
from .network import Net
from .procs import LISTENING, Child, free_port, pin
from .profiles import STALL_LEAD_S, Point
from .sampler import Sampler

HOLDING = re.compile(r"holding (\d+) answered (\d+)(?: of (\d+): (.*))?")
IDLE_HOLDER = Path(__file__).with_name("idle_holder.py")
# Room for the listener, logs, epoll and eventfds beside the connections.
FD_MARGIN = 64


class Settings:
    """What every point of a run shares."""

    def __init__(self, loadgen: Path, server_cpus: str, client_cpus: str, fd_limit: int,
                 open_net: Callable):
        self.loadgen = loadgen
        self.server_cpus = server_cpus
        self.client_cpus = client_cpus
        self.fd_limit = fd_limit
        self.open_net = open_net  # name -> context manager yielding a Net


def _ms(s: float) -> str:
    return f"{int(round(s * 1000))}ms"


def loadgen_argv(settings: Settings, spec: ServerSpec, pt: Point, url: str, out: Path,
                 connections: int, rate: Optional[float]) -> list[str]:
    argv = [str(settings.loadgen), "-c", str(connections), "-t", "1",
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
    argv += spec.loadgen_extra
    argv.append(url)
    return argv


def background_argv(settings: Settings, spec: ServerSpec, pt: Point, url: str, out: Path
                    ) -> list[str]:
    """stall's background: closed loop on /cpu/{us}, measuring from when the
    measured loadgen starts, and running well past its end (it is stopped
    with SIGTERM then, and still writes its JSON). Its timeout is loose: a
    /cpu request queued behind the others may legitimately take several x."""
    run_s = STALL_LEAD_S + pt.warmup_s + pt.duration_s + 10
    return [str(settings.loadgen), "-c", str(pt.background_connections), "-t", "1",
            "-d", _ms(run_s), "--warmup", _ms(STALL_LEAD_S), "--timeout", "5000ms",
            "--quiet", "--json", str(out), *spec.loadgen_extra, url]


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
            return _measure(settings, spec, pt, run_dir, pdir, net, info, done)
    except KeyboardInterrupt:
        raise
    except Exception as e:  # a broken point must not end the run
        return done("failed", f"{type(e).__name__}: {e}")


def _measure(settings, spec: ServerSpec, pt: Point, run_dir, pdir: Path, net: Net, info, done) -> dict:
    port = net.fixed_port or free_port()
    argv = spec.make_argv(port, run_dir) + (spec.listen_any if net.needs_listen_any else [])
    server = Child(net.server_wrap(pin(settings.server_cpus, argv)), pdir, "server")
    info["server_argv"] = server.argv
    holders: list[Child] = []
    loadgens: list[Child] = []
    background: Optional[Child] = None
    bg_sampler: Optional[Sampler] = None
    sampler: Optional[Sampler] = None
    marks: dict = {}
    info["marks"] = marks
    try:
        addr = _wait_ready(server, spec, net, port)
        if addr is None:
            return done("failed", "server did not start: " + (server.stderr_tail() or "no output"))
        ip = net.target_ip or addr[0]
        port = addr[1]
        sampler = Sampler(server.pid).start()
        if pt.idle:
            holders = _hold_idle(settings, net, pt, ip, port, pdir, sampler, marks)
        url = f"http://{ip}:{port}{pt.path}"
        if pt.background_connections:
            bg_argv = net.client_wrap(0, pin(settings.client_cpus, background_argv(
                settings, spec, pt, f"http://{ip}:{port}{pt.background_path}",
                pdir / "background.json")))
            info["background_argv"] = bg_argv
            marks["background_start_t"] = round(time.monotonic() - sampler.t0, 3)
            background = Child(bg_argv, pdir, "background")
            # It shares the client CPU with the measured loadgen: its CPU counts
            # when deciding whether the client side was the bottleneck.
            bg_sampler = Sampler(background.pid).start()
            marks["background_t0_unix"] = bg_sampler.t0_unix
            # Let it connect and fill the server's core before /hello is due.
            time.sleep(STALL_LEAD_S)
            if not background.alive():
                return done("failed", "background loadgen ended before the measurement: "
                            + (background.stderr_tail() or f"exit {background.exit.status}"))
        # Several load generators (emulated hosts) share the connections and
        # the rate; their results are merged exactly (histograms summed).
        shares = [c for c in split(pt.connections, net.n_clients) if c > 0]
        outs = [pdir / ("loadgen.json" if len(shares) == 1 else f"loadgen-{i}.json")
                for i in range(len(shares))]
        argvs = [net.client_wrap(i, pin(settings.client_cpus, loadgen_argv(
                     settings, spec, pt, url, outs[i], c,
                     None if pt.rate is None else pt.rate * c / pt.connections)))
                 for i, c in enumerate(shares)]
        info["loadgen_argv"] = argvs[0]
        info["loadgen_argvs"] = argvs
        marks["loadgen_start_t"] = round(time.monotonic() - sampler.t0, 3)
        loadgens = [Child(a, pdir, "loadgen" if len(argvs) == 1 else f"loadgen-{i}")
                    for i, a in enumerate(argvs)]
        client_samplers = [Sampler(lg.pid).start() for lg in loadgens]
        marks["sampler_t0_unix"] = sampler.t0_unix
        marks["client_t0_unix"] = [cs.t0_unix for cs in client_samplers]
        budget = pt.warmup_s + pt.duration_s + 15 + pt.connections / 1000
        deadline = time.monotonic() + budget
        finished = all(lg.wait(max(0.0, deadline - time.monotonic())) for lg in loadgens)
        marks["loadgen_end_t"] = round(time.monotonic() - sampler.t0, 3)
        for i, cs in enumerate(client_samplers):
            cs.stop()
            cs.write_csv(pdir / ("loadgen_samples.csv" if i == 0 else f"loadgen_samples-{i}.csv"))
        reason = "" if finished else f"loadgen ran past {budget:.0f} s and was stopped"
        exits = [asdict(lg.stop()) for lg in loadgens]
        info["loadgen_exit"] = exits[0]
        info["loadgen_exits"] = exits
        for lg in loadgens:
            if lg.exit.status not in (0, None):
                reason += f"; {lg.name} exit {lg.exit.status}: " + lg.stderr_tail(2)
        if background is not None:
            bg_sampler.stop()
            bg_sampler.write_csv(pdir / "background_samples.csv")
            # Still running by design: its SIGTERM ends it and it writes its JSON.
            info["background_exit"] = asdict(background.stop())
            if not (pdir / "background.json").exists():
                return done("failed", "background loadgen wrote no JSON, so the /hello latency "
                            "was not measured beside /cpu: " + (background.stderr_tail() or
                                                                f"exit {background.exit.status}"))
            if background.exit.status not in (0, None):
                reason += f"; background exit {background.exit.status}: " + background.stderr_tail(2)
        if len(outs) > 1:
            reason += _merge(settings, outs, pdir / "loadgen.json")
        if not (pdir / "loadgen.json").exists():
            return done("failed", "loadgen wrote no JSON: " + (loadgens[0].stderr_tail() or
                                                               f"exit {loadgens[0].exit.status}"))
        if not server.alive():
            return done("failed", f"server died during the point (exit {server.exit.status}): "
                        + server.stderr_tail())
        return done("ok", reason.strip("; "))
    finally:
        if holders:
            info["idle_exits"] = [asdict(h.stop()) for h in holders]
        for lg in loadgens:
            lg.stop()
        if background is not None:
            background.stop()
        if bg_sampler:
            bg_sampler.stop()
        if sampler:
            sampler.stop()
            sampler.write_csv(pdir / "samples.csv")
        ex = server.stop()
        info["server_exit"] = asdict(ex)
        if ex.status not in (0, None) and info["status"] == "ok":
            # SPEC §4: SIGTERM stops a server cleanly with status 0.
            info["reason"] = (info["reason"] + f"; server exit {ex.status} on SIGTERM").strip("; ")
        (pdir / "point.json").write_text(json.dumps(info, indent=1))


# Idle connections per holder process: under the per-process fd cap (20000
# here) and under the ~28k ephemeral ports of one source address.
PER_HOLDER = 16384


def _hold_idle(settings, net: Net, pt: Point, ip: str, port: int, pdir: Path,
               sampler: Sampler, marks: dict) -> list[Child]:
    """Opens the idle connections (several holder processes past one
    process's fd cap, each from its own 127.0.0.x when the server is on
    loopback) and records the server's RSS before and after, for the memory
    each one costs."""
    before = sampler.sample_now()
    marks["idle_start_t"] = before["t_s"] if before else None
    marks["rss_before_idle_kib"] = before["rss_kib"] if before else None
    holders = []
    for i, n in enumerate(split(pt.idle, -(-pt.idle // PER_HOLDER))):
        source = ["--source", f"127.0.0.{i + 1}"] if ip.startswith("127.") and i else []
        holders.append(Child(net.client_wrap(0, pin(settings.client_cpus, [
            sys.executable, str(IDLE_HOLDER), ip, str(port), str(n),
            "--timeout", str(max(10, n / 1000)),
            # A thread per connection needs time to start thousands of threads:
            # about 5000 a second here under load, so wait in proportion.
            "--answer-wait", str(max(2.0, n / 2000)), *source])), pdir,
            "idle" if i == 0 else f"idle-{i}"))
    held = answered = 0
    problems = []
    for h in holders:
        m = h.wait_for_line(HOLDING, timeout_s=max(40, pt.idle / 200))
        held += int(m.group(1)) if m else 0
        answered += int(m.group(2)) if m else 0
        if not m or m.group(3):
            problems.append(m.group(4) if m else "idle holder said nothing: " + h.stderr_tail())
    time.sleep(0.3)  # let the server finish accepting and settle
    after = sampler.sample_now()
    marks["idle_ready_t"] = after["t_s"] if after else None
    marks["rss_idle_kib"] = after["rss_kib"] if after else None
    marks["idle_held"] = held
    marks["idle_answered"] = answered
    if problems:
        marks["idle_problem"] = "; ".join(problems)
    return holders


def _merge(settings: Settings, parts: list[Path], out: Path) -> str:
    """loadgen --merge: sums histograms and counts exactly (never averages
    percentiles). Returns a problem to record, or ""."""
    present = [str(p) for p in parts if p.exists()]
    if len(present) < len(parts):
        return f"; only {len(present)} of {len(parts)} load generators wrote results"
    done = subprocess.run([str(settings.loadgen), "--merge", *present, "--json", str(out)],
                          capture_output=True, text=True)
    return "" if done.returncode == 0 else f"; loadgen --merge failed: {done.stderr.strip()[-200:]}"


def _wait_ready(server: Child, spec: ServerSpec, net: Net, port: int) -> Optional[tuple[str, int]]:
    if spec.announces:
        m = server.wait_for_line(LISTENING, timeout_s=10)
        if not m or not server.alive():
            return None
        return m.group(1), int(m.group(2))
    # Servers that do not announce (nginx): poll the port from inside the
    # server's network, since a namespace's port is not reachable from outside.
    probe = net.server_wrap([sys.executable, "-c", (
        "import socket,sys,time\n"
        "for _ in range(200):\n"
        "    try: socket.create_connection(('127.0.0.1', %d), 0.2).close(); sys.exit(0)\n"
        "    except OSError: time.sleep(0.05)\n"
        "sys.exit(1)\n") % port])
    ok = subprocess.run(probe, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL).returncode == 0
    return ("127.0.0.1", port) if ok and server.alive() else None
