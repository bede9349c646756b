"""What a server under test is (ServerSpec) and the project's own models,
built from the registry servers/models.json (registry.py).

A ServerSpec says how to start one server for one point; the runner does the
rest (pinning, cgroups, namespaces, waiting until it listens, accounting).
Reference peers (nginx, Node.js, the floor) are described by
scripts/benchlib/peers.py with the same dataclass, so every plot treats
them alike. Nothing about the load generator is per model: every model of a
point gets the same loadgen command line but for the target (issue 13).
"""
from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Optional

from . import registry

# Scenarios a peer can serve when it does not say otherwise: the peers answer
# /hello only (no /sleep, no /cpu), so those sweeps would measure 404s.
PEER_DEFAULT_SCENARIOS = frozenset({"hello", "idle", "pipelined", "open-loop", "rotate"})


@dataclass
class ServerSpec:
    # Short stable id used in file names and the CSV: "epoll", "nginx", ...
    name: str
    # What the legend says: "epoll --reactors 1".
    label: str
    # (port, run_dir) -> argv. The runner picks the port (a fixed one inside a
    # fresh namespace, a free one on plain loopback) and prepends taskset and
    # the namespace wrapper itself.
    make_argv: Callable[[int, Path], list[str]]
    # A reference peer, drawn in a muted colour beside our models.
    peer: bool = False
    # True: the server prints "listening on HOST:PORT" once bound. False: the
    # runner polls until the port accepts a TCP connection.
    announces: bool = True
    # Scenarios this server can run; None = all of ours for our models,
    # PEER_DEFAULT_SCENARIOS for peers. Others are recorded as "not served".
    scenarios: Optional[frozenset] = None
    # Arguments appended to make_argv's to listen on every address instead of
    # 127.0.0.1, for --network netns where clients are other (emulated) hosts.
    # None: this server cannot, and sits out that mode.
    listen_any: Optional[list[str]] = None
    # Processes the server spreads its connections over: the per-process fd
    # cap limits one process, not the server (server-epoll --processes N).
    processes: int = 1
    # Why this server sits out a scenario it could technically run, shown
    # instead of the default "does not serve PATH".
    why_not: dict = field(default_factory=dict)
    # "one": pinned to the first CPU of the server set (the one-core
    # comparison); "all": pinned to the whole set (registry field `cpus`).
    cpus: str = "one"

    def serves(self, scenario: str) -> bool:
        if scenario in self.why_not:
            return False
        allowed = self.scenarios
        if allowed is None:
            allowed = PEER_DEFAULT_SCENARIOS if self.peer else None
        return allowed is None or scenario in allowed


# The pool size of `threaded --pool N`: a fixed pool much smaller than the
# big connection counts, so the sweep shows the ceiling a pool puts on
# concurrency (sleep: throughput = N / 10 ms) while keeping memory flat.
DEFAULT_POOL = 64

# SPEC §4's common --host option: every server of ours can listen anywhere.
ANY = ["--host", "0.0.0.0"]


def find_binary(build_dir: Path, name: str) -> Optional[Path]:
    """The executable called `name` anywhere under build_dir (the folder layout
    of the build may change; the names do not). Prefers the shallowest path."""
    best: Optional[Path] = None
    for root, dirs, files in os.walk(build_dir):
        # CMake's own scratch folders hold no project binaries.
        dirs[:] = [d for d in dirs if d not in ("CMakeFiles", "_deps", "Testing")]
        if name in files:
            path = Path(root) / name
            if os.access(path, os.X_OK) and path.is_file():
                if best is None or len(path.parts) < len(best.parts):
                    best = path
    return best


def probe(binary: Path, args: tuple) -> tuple[bool, str]:
    """Asks the server itself (its registry `probe` arguments) whether this
    machine can run it: the features it needs are exactly what its own
    start-up check tests, so no second list lives here."""
    try:
        done = subprocess.run([str(binary), *args], capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired) as e:
        return False, str(e)
    message = (done.stdout + done.stderr).strip().splitlines()
    return done.returncode == 0, message[-1] if message else f"exit status {done.returncode}"


def our_models(build_dir: Path, pool: int = DEFAULT_POOL, profile: Optional[str] = None,
               server_cpus: int = 1) -> tuple[list[ServerSpec], list[str]]:
    """The project's own models found in build_dir, and a notice for each one
    that is missing or cannot run here (a missing model is reported, never
    silently dropped). profile: keep the variants of that bench profile
    (None: all). server_cpus: the size of the server set; variants on all of
    it exist only when it has more than one CPU."""
    specs: list[ServerSpec] = []
    notices: list[str] = []
    usable: dict[str, Optional[Path]] = {}
    all_cpus_skipped: list[str] = []
    for v in registry.variants(pool, server_cpus):
        if v.profiles is not None and profile is not None and profile not in v.profiles:
            continue
        if v.cpus == "all" and server_cpus < 2:
            all_cpus_skipped.append(v.id.replace(f"cpus{server_cpus}", "cpusN"))
            continue
        if v.model not in usable:
            usable[v.model] = _usable_binary(build_dir, v, notices)
        binary = usable[v.model]
        if binary is None:
            continue
        specs.append(ServerSpec(
            name=v.id, label=v.label,
            make_argv=lambda port, run_dir, b=binary, a=v.args: [str(b), "--port", str(port), *a],
            scenarios=v.scenarios, listen_any=ANY, processes=v.processes,
            why_not=v.why_not, cpus=v.cpus))
    if all_cpus_skipped:
        notices.append(f"not planned: {', '.join(all_cpus_skipped)} (the variants on all server CPUs): "
                       f"the server set has {server_cpus} CPU (a 2-core machine splits 1 + 1), so only "
                       "the one-core comparison runs")
    for model, why in registry.all_cpus_why_not().items():
        if server_cpus >= 2 and usable.get(model):
            notices.append(f"{model} has no variant on all {server_cpus} server CPUs: {why}")
    return specs, notices


def _usable_binary(build_dir: Path, v: registry.Variant, notices: list[str]) -> Optional[Path]:
    path = find_binary(build_dir, v.binary)
    if path is None:
        notices.append(f"{v.binary} not found under {build_dir}: the {v.model} model's points are skipped"
                       + (" (server-uring needs liburing-dev: scripts/install-deps.sh)"
                          if v.model == "uring" else ""))
        return None
    if v.probe:
        ok, why = probe(path, v.probe)
        if not ok:
            notices.append(f"{v.binary} cannot run on this machine ({' '.join(v.probe)}: {why}): "
                           f"the {v.model} model's points are skipped")
            return None
    return path
