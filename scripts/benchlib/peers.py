"""The reference peers of the bench: ServerSpecs beside our_models()
(models.py), which builds our own models (io_uring among them) from the
registry servers/models.json.

* nginx   -- Debian's nginx-light, one process (master_process off), config
             generated into the run folder by scripts/peers/nginx_conf.py;
             and, when the server set has several CPUs, nginx-cpusN with
             `worker_processes N` (the nginx shape on N cores).
* node    -- the machine's Node.js running scripts/peers/node_hello.js.
* floor   -- floor-server (servers/floor/): reads, counts request ends and
             writes canned responses; what the kernel alone costs per request.

A peer that is not installed is skipped with a notice that says how to get
it, never silently; the run's peers.json lists what was missing and the
command that adds it, and REPORT.md says so in its first lines.
"""
from __future__ import annotations

import json
import shutil
from pathlib import Path

from benchlib.models import ANY, ServerSpec, find_binary
from peers.nginx_conf import nginx_argv

PEERS_DIR = Path(__file__).resolve().parent.parent / "peers"
NODE_SCRIPT = PEERS_DIR / "node_hello.js"
# What adds the Debian packages the reference run used (nginx-light, nodejs, wrk).
INSTALL_COMMAND = "make deps"

# Fixed colours and legends, so that a peer keeps its colour from run to run
# (registry.colour() and registry.label() read this beside the registry).
PEER_STYLE = {
    "nginx": {"label": "nginx (1 worker)", "colour": "#8c8c8c"},
    "nginx-cpus{cpus}": {"label": "nginx ({cpus} workers)", "colour": "#b5b5b5"},
    "node": {"label": "Node.js http", "colour": "#a89f7a"},
    "floor": {"label": "floor (kernel only)", "colour": "#7a9a88"},
}


def peer_specs(build_dir: Path, run_dir: Path, server_cpus: int = 1
               ) -> tuple[list[ServerSpec], list[str], list[dict]]:
    """The peers available on this machine, a notice for each one skipped,
    and the missing ones as {"peer", "why", "command"}.

    run_dir is the bench run's folder: nginx gets its config, pid file, error
    log and temp folders in run_dir/nginx. server_cpus: the size of the
    server set (nginx-cpusN runs when it is more than one).
    """
    specs: list[ServerSpec] = []
    notices: list[str] = []
    missing: list[dict] = []

    def lacking(peer: str, why: str, command: str = INSTALL_COMMAND) -> None:
        missing.append({"peer": peer, "why": why, "command": command})
        notices.append(f"{peer}: {why}: run `{command}` to add it")

    nginx = shutil.which("nginx") or next(
        (p for p in ("/usr/sbin/nginx", "/sbin/nginx") if Path(p).exists()), None)
    if nginx:
        # No listen_any: the address is in the generated config, not on the
        # command line, so nginx sits out the modes that listen beyond loopback.
        specs.append(ServerSpec(
            name="nginx", label=PEER_STYLE["nginx"]["label"], peer=True, announces=False,
            make_argv=lambda port, run, n=nginx: nginx_argv(port, Path(run) / "nginx", n)))
        if server_cpus > 1:
            specs.append(ServerSpec(
                name=f"nginx-cpus{server_cpus}", label=f"nginx ({server_cpus} workers)", peer=True,
                announces=False, cpus="all",
                scenarios=frozenset({"hello"}),
                make_argv=lambda port, run, n=nginx, w=server_cpus: nginx_argv(
                    port, Path(run) / f"nginx-{w}", n, workers=w)))
    else:
        lacking("nginx", "not installed (Debian package nginx-light)")

    node = shutil.which("node") or shutil.which("nodejs")
    if node and NODE_SCRIPT.exists():
        specs.append(ServerSpec(
            name="node", label=PEER_STYLE["node"]["label"], peer=True,
            make_argv=lambda port, _run, n=node: [n, str(NODE_SCRIPT), str(port)],
            listen_any=["0.0.0.0"]))  # node_hello.js PORT [HOST]
    elif not node:
        lacking("node", "not installed (Debian package nodejs)")
    else:
        lacking("node", f"{NODE_SCRIPT} missing", "git checkout scripts/peers/node_hello.js")

    floor = find_binary(build_dir, "floor-server")
    if floor:
        specs.append(ServerSpec(
            name="floor", label=PEER_STYLE["floor"]["label"], peer=True,
            make_argv=lambda port, _run, b=floor: [str(b), "--port", str(port)],
            listen_any=ANY))
    else:
        lacking("floor", f"floor-server not found under {build_dir}", "make build")
    return specs, notices, missing


def save_missing(run_dir: Path, missing: list[dict], skipped_on_purpose: bool = False) -> None:
    """peers.json: what REPORT.md's first lines say about absent peers."""
    (Path(run_dir) / "peers.json").write_text(json.dumps(
        {"missing": missing, "left_out": skipped_on_purpose}, indent=1))
