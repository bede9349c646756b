"""Measures one point: a fresh server, optional idle connections, the load
generator, the samples, and the exits. Everything it learns goes to files in
the point's folder (point.json, loadgen.json, samples.csv, the logs), so that
the summary and the plots can be redrawn from them alone."""
from __future__ import annotations

import json
import subprocess
import re
import sys
import time
from dataclasses import asdict
from pathlib import Path
from typing import Callable, Optional

from .models import ServerSpec
from .procs import LISTENING, Child, free_port, pin
from .profiles import Point
from .sampler import Sampler

HOLDING = re.compile(r"holding (\d+) answered (\d+)(?: of (\d+): (.*))?")
IDLE_HOLDER = Path(__file__).with_name("idle_holder.py")
# The fixed port inside a fresh namespace, where nothing else listens.
NETNS_PORT = 8080
# The per-process fd cap here is 20000 (hard, not raisable): a point that
# needs more than this in one process cannot run.
FD_MARGIN = 64


class Settings:
    """What every point of a run shares."""

    def __init__(self, loadgen: Path, server_cpus: str, client_cpus: str, fd_limit: int,
                 isolate: Optional[Callable] = None):
        self.loadgen = loadgen
        self.server_cpus = server_cpus
        self.client_cpus = client_cpus
        self.fd_limit = fd_limit
        # isolate(name) -> context manager whose value has .wrap(argv);
        # None: plain loopback.
        self.isolate = isolate


class _Loopback:
    def wrap(self, argv: list[str]) -> list[str]:
        return argv

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


def _secs(s: float) -> str:
    return f"{int(round(s * 1000))}ms"


def loadgen_argv(settings: Settings, spec: ServerSpec, pt: Point, url: str, out: Path) -> list[str]:
    argv = [str(settings.loadgen), "-c", str(pt.connections), "-t", "1",
            "-d", _secs(pt.duration_s), "--warmup", _secs(pt.warmup_s),
            # A request slower than this is a timeout: long enough for a
            # 10 ms sleep queued behind thousands of others, short enough that
            # a starved connection is counted within the point.
            "--timeout", "5s", "--json", str(out)]
    if pt.rate is not None:
        argv += ["--rate", f"{pt.rate:g}"]
    if pt.pipeline > 1:
        argv += ["--pipeline", str(pt.pipeline)]
    if pt.connect_rate:
        argv += ["--connect-rate", str(pt.connect_rate)]
    argv += spec.loadgen_extra
    argv.append(url)
    return argv


def run_point(settings: Settings, spec: ServerSpec, pt: Point, run_dir: Path, pdir: Path) -> dict:
    """Runs one point and writes pdir/point.json; returns its contents."""
    pdir.mkdir(parents=True, exist_ok=True)
    info: dict = {"point": asdict(pt), "id": pt.id, "model": spec.name, "label": spec.label,
                  "peer": spec.peer, "status": "ok", "reason": "", "started_at": time.time()}

    def done(status: str, reason: str = "") -> dict:
        if status != "ok" or reason:
            info["status"], info["reason"] = status, reason
        (pdir / "point.json").write_text(json.dumps(info, indent=1))
        return info

    if not spec.serves(pt.scenario):
        # Not a failure: a peer that answers /hello only. Recorded, not drawn.
        return done("n/a", f"{spec.name} does not serve {pt.path}")
    needed = pt.connections + pt.idle
    if pt.idle + FD_MARGIN > settings.fd_limit or pt.connections + FD_MARGIN > settings.fd_limit:
        return done("skipped", f"{needed} connections exceed the per-process fd limit {settings.fd_limit}")

    isolate = settings.isolate(f"iom-{pt.scenario[:4]}") if settings.isolate else _Loopback()
    try:
        with isolate as host:
            info["network"] = "netns" if settings.isolate else "loopback"
            return _measure(settings, spec, pt, run_dir, pdir, host, info, done)
    except KeyboardInterrupt:
        raise
    except Exception as e:  # a broken point must not end the run
        return done("failed", f"{type(e).__name__}: {e}")


def _measure(settings, spec, pt, run_dir, pdir, host, info, done) -> dict:
    port = NETNS_PORT if settings.isolate else free_port()
    server_argv = host.wrap(pin(settings.server_cpus, spec.make_argv(port, run_dir)))
    info["server_argv"] = server_argv
    server = Child(server_argv, pdir, "server")
    holder: Optional[Child] = None
    loadgen: Optional[Child] = None
    sampler: Optional[Sampler] = None
    try:
        addr = _wait_ready(server, spec, host, port, settings)
        if addr is None:
            return done("failed", "server did not start: " + (server.stderr_tail() or "no output"))
        ip, port = addr
        sampler = Sampler(server.pid).start()
        client_cpu_sampler = None
        marks: dict = {}
        if pt.idle:
            holder = Child(host.wrap(pin(settings.client_cpus, [
                sys.executable, str(IDLE_HOLDER), ip, str(port), str(pt.idle),
                "--timeout", str(max(20, pt.idle / 500))])), pdir, "idle")
            before = sampler.sample_now()
            marks["idle_start_t"] = before["t_s"] if before else None
            marks["rss_before_idle_kib"] = before["rss_kib"] if before else None
            m = holder.wait_for_line(HOLDING, timeout_s=max(40, pt.idle / 400))
            time.sleep(0.3)  # let the server finish accepting and settle
            after = sampler.sample_now()
            marks["idle_ready_t"] = after["t_s"] if after else None
            marks["rss_idle_kib"] = after["rss_kib"] if after else None
            marks["idle_held"] = int(m.group(1)) if m else 0
            marks["idle_answered"] = int(m.group(2)) if m else 0
            if not m or m.group(3):
                marks["idle_problem"] = m.group(4) if m else "idle holder said nothing: " + holder.stderr_tail()
        url = f"http://{ip}:{port}{pt.path}"
        lg_json = pdir / "loadgen.json"
        argv = host.wrap(pin(settings.client_cpus, loadgen_argv(settings, spec, pt, url, lg_json)))
        info["loadgen_argv"] = argv
        marks["loadgen_start_t"] = round(time.monotonic() - sampler.t0, 3)
        loadgen = Child(argv, pdir, "loadgen")
        client_cpu_sampler = Sampler(loadgen.pid).start()
        budget = pt.warmup_s + pt.duration_s + 30 + pt.connections / 1000
        finished = loadgen.wait(budget)
        marks["loadgen_end_t"] = round(time.monotonic() - sampler.t0, 3)
        client_cpu_sampler.stop()
        client_cpu_sampler.write_csv(pdir / "loadgen_samples.csv")
        if not finished:
            loadgen.stop()
            info["reason"] = f"loadgen ran past {budget:.0f} s and was stopped"
        info["loadgen_exit"] = asdict(loadgen.stop())
        info["marks"] = marks
        if not lg_json.exists():
            return done("failed", "loadgen wrote no JSON: " + (loadgen.stderr_tail() or
                                                               f"exit {loadgen.exit.status}"))
        if loadgen.exit.status not in (0, None):
            info["reason"] = (info["reason"] + f"; loadgen exit {loadgen.exit.status}: "
                              + loadgen.stderr_tail(2)).strip("; ")
        if server.exit is not None or not server.alive():
            return done("failed", f"server died during the point (exit {server.exit.status}): "
                        + server.stderr_tail())
        return done("ok", info["reason"])
    finally:
        if holder:
            info["idle_exit"] = asdict(holder.stop())
        if loadgen and loadgen.exit is None:
            loadgen.stop()
        if sampler:
            sampler.stop()
            sampler.write_csv(pdir / "samples.csv")
        ex = server.stop()
        info["server_exit"] = asdict(ex)
        if ex.status not in (0, None) and info["status"] == "ok":
            # SPEC §4: SIGTERM stops a server cleanly with status 0.
            info["reason"] = (info["reason"] + f"; server exit {ex.status} on SIGTERM").strip("; ")
        (pdir / "point.json").write_text(json.dumps(info, indent=1))


def _wait_ready(server: Child, spec: ServerSpec, host, port: int, settings) -> Optional[tuple[str, int]]:
    if spec.announces:
        m = server.wait_for_line(LISTENING, timeout_s=10)
        if not m or not server.alive():
            return None
        return m.group(1), int(m.group(2))
    # Servers that do not announce (nginx): poll the port from inside the
    # same network, since a namespace's port is not reachable from outside.
    probe = host.wrap([sys.executable, "-c", (
        "import socket,sys,time\n"
        "for _ in range(200):\n"
        "    try: socket.create_connection(('127.0.0.1', %d), 0.2).close(); sys.exit(0)\n"
        "    except OSError: time.sleep(0.05)\n"
        "sys.exit(1)\n") % port])

    ok = subprocess.run(probe, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL).returncode == 0
    return ("127.0.0.1", port) if ok and server.alive() else None
