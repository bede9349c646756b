"""The reference peers of the bench, and io_uring: ServerSpecs beside
our_models() (models.py).

* nginx   -- Debian's nginx-light, one process (master_process off), config
             generated into the run folder by scripts/peers/nginx_conf.py.
* node    -- the machine's Node.js running scripts/peers/node_hello.js.
* floor   -- floor-server (servers/floor/): reads, counts request ends and
             writes canned responses; what the kernel alone costs per request.
* uring   -- server-uring, our own model (peer=False), when built and when
             this kernel lets it run (io_uring may be missing, disabled by
             sysctl, or blocked by a container's seccomp profile).

A peer that is not installed is skipped with a notice that says how to get
it, never silently.
"""
from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from benchlib.models import ANY, ServerSpec, find_binary
from peers.nginx_conf import nginx_argv

PEERS_DIR = Path(__file__).resolve().parent.parent / "peers"
NODE_SCRIPT = PEERS_DIR / "node_hello.js"
INSTALL_HINT = "run scripts/install-deps.sh --peers"


def uring_supported(binary: Path) -> tuple[bool, str]:
    """Asks server-uring itself (--probe): the kernel features it needs are
    exactly what its own start-up check tests, so no second list lives here."""
    try:
        done = subprocess.run([str(binary), "--probe"], capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired) as e:
        return False, str(e)
    message = (done.stdout + done.stderr).strip().splitlines()
    return done.returncode == 0, message[-1] if message else f"exit status {done.returncode}"


def peer_specs(build_dir: Path, run_dir: Path) -> tuple[list[ServerSpec], list[str]]:
    """The peers available on this machine, and a notice for each one skipped.

    run_dir is the bench run's folder: nginx gets its config, pid file, error
    log and temp folders in run_dir/nginx.
    """
    specs: list[ServerSpec] = []
    notices: list[str] = []

    nginx = shutil.which("nginx") or next(
        (p for p in ("/usr/sbin/nginx", "/sbin/nginx") if Path(p).exists()), None)
    if nginx:
        nginx_dir = Path(run_dir) / "nginx"
        # No listen_any: the address is in the generated config, not on the
        # command line, so nginx sits out the modes that listen beyond loopback.
        specs.append(ServerSpec(
            name="nginx", label="nginx (1 worker)", peer=True, announces=False,
            make_argv=lambda port, _run, n=nginx, d=nginx_dir: nginx_argv(port, d, n)))
    else:
        notices.append(f"nginx not installed: {INSTALL_HINT}")

    node = shutil.which("node") or shutil.which("nodejs")
    if node and NODE_SCRIPT.exists():
        specs.append(ServerSpec(
            name="node", label="Node.js http", peer=True,
            make_argv=lambda port, _run, n=node: [n, str(NODE_SCRIPT), str(port)],
            listen_any=["0.0.0.0"]))  # node_hello.js PORT [HOST]
    elif not node:
        notices.append(f"node not installed: {INSTALL_HINT}")
    else:
        notices.append(f"{NODE_SCRIPT} missing: the Node.js peer is skipped")

    floor = find_binary(build_dir, "floor-server")
    if floor:
        specs.append(ServerSpec(
            name="floor", label="floor (kernel only)", peer=True,
            make_argv=lambda port, _run, b=floor: [str(b), "--port", str(port)],
            listen_any=ANY))
    else:
        notices.append(f"floor-server not found under {build_dir}: build it (make build)")

    uring = find_binary(build_dir, "server-uring")
    if uring is None:
        notices.append(f"server-uring not found under {build_dir} "
                       "(needs liburing-dev: scripts/install-deps.sh): its points are skipped")
    else:
        ok, why = uring_supported(uring)
        if ok:
            specs.append(ServerSpec(
                name="uring", label="io_uring (1 ring)",
                make_argv=lambda port, _run, b=uring: [str(b), "--port", str(port)],
                listen_any=ANY))
        else:
            notices.append(f"server-uring cannot run on this kernel: {why}")
    return specs, notices
