"""What a server under test is (ServerSpec) and the project's own models.

A ServerSpec says how to start one server for one point; the runner does the
rest (pinning, namespaces, waiting until it listens, sampling, wait4). Peers
(nginx, Node.js, the floor, io_uring) are described by scripts/benchlib/peers.py
with the same dataclass, so every plot treats them alike.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Optional

from .profiles import SCENARIOS

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
    # Extra loadgen options for every point of this model (blocking rotates
    # its clients with --conn-requests so that one keep-alive client cannot
    # hold the only thread for the whole run).
    loadgen_extra: list[str] = field(default_factory=list)
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

    def serves(self, scenario: str) -> bool:
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


def our_models(build_dir: Path, pool: int = DEFAULT_POOL, big: bool = False
               ) -> tuple[list[ServerSpec], list[str]]:
    """The project's own models found in build_dir, and a notice for each one
    that is missing (a missing model is reported, never silently dropped)."""
    specs: list[ServerSpec] = []
    notices: list[str] = []

    def have(binary: str) -> Optional[Path]:
        path = find_binary(build_dir, binary)
        if path is None:
            notices.append(f"{binary} not found under {build_dir}: its points are skipped")
        return path

    blocking = have("server-blocking")
    if blocking:
        specs.append(ServerSpec(
            name="blocking", label="blocking (1 thread)",
            make_argv=lambda port, run_dir, b=blocking: [str(b), "--port", str(port)],
            # No per-model connection policy (issue 13): its one thread serves
            # one keep-alive connection until it closes, which the `rotate`
            # scenario (every model reconnecting) shows beside keep-alive.
            listen_any=ANY,
            # One thread serves one connection until it closes: a /hello
            # client would wait for every background /cpu request,
            # which the sleep sweep already shows; stall is about loops.
            scenarios=frozenset(SCENARIOS) - {"stall"},
            why_not={"stall": "one thread serves one connection until it closes: /hello would "
                              "wait behind every /cpu request of a background connection (see sleep)"}))
    threaded = have("server-threaded")
    if threaded:
        specs.append(ServerSpec(
            name="threaded-pool0", label="threaded --pool 0 (thread per conn)",
            make_argv=lambda port, run_dir, b=threaded: [str(b), "--port", str(port), "--pool", "0"],
            listen_any=ANY))
        specs.append(ServerSpec(
            name=f"threaded-pool{pool}", label=f"threaded --pool {pool}",
            make_argv=lambda port, run_dir, b=threaded: [str(b), "--port", str(port), "--pool", str(pool)],
            listen_any=ANY))
    epoll = have("server-epoll")
    if epoll:
        specs.append(ServerSpec(
            name="epoll", label="epoll --reactors 1",
            make_argv=lambda port, run_dir, b=epoll: [str(b), "--port", str(port), "--reactors", "1"],
            listen_any=ANY))
        # libuv's answer to a stalled loop: /cpu handed to worker threads.
        # Only the cpu sweep and /hello beside /cpu (stall) say anything new about it.
        specs.append(ServerSpec(
            name="epoll-offload2", label="epoll --offload 2 (cpu on workers)",
            make_argv=lambda port, run_dir, b=epoll: [str(b), "--port", str(port), "--offload", "2"],
            listen_any=ANY, scenarios=frozenset({"cpu", "stall"})))
        if big:
            # Past one process's fd cap: nginx's shape, workers each with their
            # own listener, holding more idle connections than one process may.
            specs.append(ServerSpec(
                name="epoll-proc4", label="epoll --processes 4",
                make_argv=lambda port, run_dir, b=epoll: [str(b), "--port", str(port), "--processes", "4"],
                listen_any=ANY, scenarios=frozenset({"idle"}), processes=4))
    return specs, notices
