"""Linux network namespaces for the bench: a clean loopback per point, and
emulated hosts joined by a switch for --network netns.

Two shapes:

* isolated_host(name): one fresh namespace with its own loopback. The bench
  runs the server AND the load generator in it, so every point starts with no
  TIME_WAIT sockets left by the previous one, a wide ephemeral port range and
  a deep accept queue, whatever the host is set to.

* Topology(n_clients, rate_limit=None, delay=None): a server namespace and n
  client namespaces, each with one veth "eth0" whose peer sits on a bridge in
  a switch namespace. Addresses come from 198.18.0.0/15, the range RFC 2544
  sets aside for benchmarks. They exist only inside these namespaces: never
  address them from the host namespace; run every client via client_wrap().

No veth or bridge ever appears in the host namespace: each veth pair is
created with both ends directly inside their namespaces, so deleting the
namespaces deletes everything. Names carry this process's pid, so parallel
runs do not clash and cleanup_stale() can tell leftovers of dead runs.

wrap() prefixes a command with `ip netns exec NS` (root) or `nsenter` into a
holder process's namespace (unprivileged user namespaces). Both exec the
command in place, so the pid of the Popen is the pid of the server itself and
/proc/PID sampling and wait4() see the real process.
"""
from __future__ import annotations

import atexit
import os
import re
import signal
import subprocess
import sys
import threading
import time
from contextlib import contextmanager
from typing import Iterator

PREFIX = "iom"
# Per-namespace sysctls. The defaults (32768-60999, tw_reuse=2 loopback-only,
# somaxconn 4096) cap a point at ~28k outgoing connections and silently drop
# SYNs when thousands of clients connect at once.
SYSCTLS = {
    "net.ipv4.ip_local_port_range": "1024 65535",
    "net.ipv4.tcp_tw_reuse": "1",
    "net.core.somaxconn": "65535",
    "net.ipv4.tcp_max_syn_backlog": "65535",
}
SUBNET_PREFIX = "198.18.0."   # RFC 2544 benchmark range, /24 used here
SERVER_ADDR = SUBNET_PREFIX + "1"
MAX_CLIENTS = 200
_NAME_RE = re.compile(rf"^{PREFIX}-(\d+)-")
_RATE_RE = re.compile(r"^(\d+(?:\.\d+)?)(bit|kbit|mbit|gbit)$", re.IGNORECASE)
_DELAY_RE = re.compile(r"^\d+(?:\.\d+)?(us|ms|s)$")


class NetnsError(RuntimeError):
    pass


def _run(argv: list[str], check: bool = True) -> subprocess.CompletedProcess:
    proc = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True, text=True)
    if check and proc.returncode != 0:
        raise NetnsError(f"{' '.join(argv)}: exit {proc.returncode}: {proc.stderr.strip()}")
    return proc


def _have(tool: str) -> bool:
    return any(os.access(os.path.join(d, tool), os.X_OK)
               for d in os.environ.get("PATH", "/usr/sbin:/usr/bin").split(":") + ["/usr/sbin", "/sbin"])


def _is_root() -> bool:
    return os.geteuid() == 0


# --------------------------------------------------------------------------
# Bookkeeping: everything this process creates is listed here until removed,
# so atexit and the signal handlers can remove what an exception skipped.

_lock = threading.Lock()
_live_netns: set[str] = set()
_live_holders: dict[int, subprocess.Popen] = {}
_seq = 0
_hooks_installed = False


def _unique(name: str) -> str:
    global _seq
    with _lock:
        _seq += 1
        seq = _seq
    safe = re.sub(r"[^A-Za-z0-9_]", "_", name)[:24] or "ns"
    return f"{PREFIX}-{os.getpid()}-{seq}-{safe}"


def _exit_on_signal(signum, _frame):
    # SystemExit unwinds the stack, so every `finally` and context manager
    # exit runs; atexit then catches whatever is still listed.
    raise SystemExit(128 + signum)


def _install_hooks() -> None:
    global _hooks_installed
    if _hooks_installed:
        return
    _hooks_installed = True
    atexit.register(_cleanup_all)
    if threading.current_thread() is threading.main_thread():
        for sig in (signal.SIGTERM, signal.SIGHUP):
            # Only where nobody chose a handler already: the caller's wins.
            if signal.getsignal(sig) in (signal.SIG_DFL, None):
                signal.signal(sig, _exit_on_signal)
    # SIGINT already raises KeyboardInterrupt, which unwinds the same way.


def _kill_pids(pids: list[int]) -> None:
    """TERM, a short grace, then KILL: a namespace lives on, veths and all,
    as long as one process is inside it."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        alive = []
        for pid in pids:
            try:
                os.kill(pid, sig)
                alive.append(pid)
            except ProcessLookupError:
                pass
        if not alive:
            return
        deadline = time.monotonic() + 2.0
        while alive and time.monotonic() < deadline:
            alive = [p for p in alive if os.path.exists(f"/proc/{p}") and not _zombie(p)]
            time.sleep(0.02)
        pids = alive


def _zombie(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] == "Z"
    except OSError:
        return True


def _delete_netns(ns: str) -> None:
    pids = _run(["ip", "netns", "pids", ns], check=False).stdout.split()
    _kill_pids([int(p) for p in pids if p.isdigit() and int(p) != os.getpid()])
    _run(["ip", "netns", "del", ns], check=False)
    with _lock:
        _live_netns.discard(ns)


def _pids_sharing_netns(pid: int) -> list[int]:
    """Processes in the same network namespace as pid (those we may see)."""
    try:
        target = os.readlink(f"/proc/{pid}/ns/net")
    except OSError:
        return []
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit() and int(entry) not in (pid, os.getpid()):
            try:
                if os.readlink(f"/proc/{entry}/ns/net") == target:
                    found.append(int(entry))
            except OSError:
                pass
    return found


def _stop_holder(holder: subprocess.Popen) -> None:
    _kill_pids(_pids_sharing_netns(holder.pid))
    holder.kill()
    holder.wait()
    if holder.stdout:
        holder.stdout.close()
    with _lock:
        _live_holders.pop(holder.pid, None)


def _cleanup_all() -> None:
    for ns in sorted(_live_netns):
        _delete_netns(ns)
    for holder in list(_live_holders.values()):
        _stop_holder(holder)


def cleanup_stale() -> list[str]:
    """Removes namespaces named by this module whose creating process is gone
    (it was SIGKILLed, or the machine lost power mid-run). Returns their names."""
    if not _is_root() or not _have("ip"):
        return []
    removed = []
    for line in _run(["ip", "netns", "list"], check=False).stdout.splitlines():
        ns = line.split()[0] if line.split() else ""
        m = _NAME_RE.match(ns)
        if not m:
            continue
        owner = int(m.group(1))
        # A live pid keeps its namespaces, even if the pid was reused by an
        # unrelated process: leaving one stale namespace is harmless, deleting
        # a running bench's namespace is not.
        if owner == os.getpid() or os.path.exists(f"/proc/{owner}"):
            continue
        _delete_netns(ns)
        removed.append(ns)
    return removed


def our_namespaces() -> list[str]:
    """Namespaces of this module's naming that exist now (any owner)."""
    out = _run(["ip", "netns", "list"], check=False).stdout if _have("ip") else ""
    return [l.split()[0] for l in out.splitlines() if l.split() and _NAME_RE.match(l.split()[0])]


# --------------------------------------------------------------------------
# Probes

_available_cache: tuple[bool, str] | None = None


def available() -> tuple[bool, str]:
    """(usable, how or why not), found by really creating a namespace."""
    global _available_cache
    if _available_cache is None:
        _available_cache = _probe()
    return _available_cache


def _probe() -> tuple[bool, str]:
    if not _have("ip"):
        return False, "the 'ip' tool (iproute2) is not installed"
    if _is_root():
        ns = _unique("probe")
        try:
            _run(["ip", "netns", "add", ns])
        except NetnsError as e:
            return False, f"cannot create a network namespace as root: {e}"
        _run(["ip", "netns", "del", ns], check=False)
        return True, "root: named namespaces via 'ip netns'"
    if not (_have("unshare") and _have("nsenter")):
        return False, "not root, and unshare/nsenter (util-linux) are missing"
    proc = _run(["unshare", "--user", "--map-root-user", "--net", "ip", "link", "set", "lo", "up"],
                check=False)
    if proc.returncode != 0:
        return False, f"not root and unprivileged user namespaces are off: {proc.stderr.strip()}"
    return True, "unprivileged user + network namespaces via unshare/nsenter"


def netem_available() -> tuple[bool, str]:
    """Whether tc's netem qdisc exists (it is a kernel module many cloud
    kernels leave out). Needs root; probed in a throwaway namespace."""
    if not (_is_root() and _have("tc") and _have("ip")):
        return False, "netem probe needs root, ip and tc"
    ns = _unique("netem_probe")
    _run(["ip", "netns", "add", ns])
    try:
        proc = _run(["ip", "netns", "exec", ns, "tc", "qdisc", "add", "dev", "lo", "root",
                     "netem", "delay", "1ms"], check=False)
    finally:
        _run(["ip", "netns", "del", ns], check=False)
    if proc.returncode == 0:
        return True, "netem present"
    return False, f"this kernel has no netem ({proc.stderr.strip() or 'tc failed'}): no added latency"


# --------------------------------------------------------------------------
# One isolated host

def _prepare_netns(ns: str) -> None:
    _run(["ip", "-n", ns, "link", "set", "lo", "up"])
    args = [f"{k}={v}" for k, v in SYSCTLS.items()]
    _run(["ip", "netns", "exec", ns, "sysctl", "-q", "-w", *args])


def _add_netns(name: str) -> str:
    ns = _unique(name)
    _install_hooks()
    with _lock:
        _live_netns.add(ns)   # listed before creation: a signal in between still cleans up
    _run(["ip", "netns", "add", ns])
    return ns


class IsolatedHost:
    """A namespace with its own loopback; wrap() runs a command inside it."""

    def __init__(self, name: str):
        self.name = name
        self.netns: str | None = None
        self._holder: subprocess.Popen | None = None

    def start(self) -> "IsolatedHost":
        ok, why = available()
        if not ok:
            raise NetnsError(why)
        if _is_root():
            self.netns = _add_netns(self.name)
            _prepare_netns(self.netns)
        else:
            self._start_holder()
        return self

    def _start_holder(self) -> None:
        # A sleeping process owns the user+net namespace; commands join it
        # with nsenter. Its parent-death signal kills it if we are SIGKILLed.
        script = ("ip link set lo up && { sysctl -q -w " +
                  " ".join(f"'{k}={v}'" for k, v in SYSCTLS.items()) +
                  " || true; } && echo ready && exec sleep 2147483647")
        _install_hooks()
        holder = subprocess.Popen(
            ["unshare", "--user", "--map-root-user", "--net", "sh", "-c", script],
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, text=True,
            preexec_fn=_die_with_parent)
        with _lock:
            _live_holders[holder.pid] = holder
        if holder.stdout.readline().strip() != "ready":
            _stop_holder(holder)
            raise NetnsError("could not set up the user/network namespace")
        self._holder = holder

    def wrap(self, argv: list[str]) -> list[str]:
        if self.netns:
            return ["ip", "netns", "exec", self.netns, *argv]
        if self._holder:
            # --preserve-credentials: stay our own uid inside, not mapped root.
            return ["nsenter", "--preserve-credentials", "-U", "-n",
                    "-t", str(self._holder.pid), "--", *argv]
        raise NetnsError("isolated host not started")

    def close(self) -> None:
        if self.netns:
            _delete_netns(self.netns)
            self.netns = None
        if self._holder:
            _stop_holder(self._holder)
            self._holder = None


def _die_with_parent() -> None:
    try:
        import ctypes
        libc = ctypes.CDLL(None, use_errno=True)
        PR_SET_PDEATHSIG = 1
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    except (OSError, AttributeError):
        pass


@contextmanager
def isolated_host(name: str) -> Iterator[IsolatedHost]:
    host = IsolatedHost(name)
    try:
        yield host.start()
    finally:
        host.close()


# --------------------------------------------------------------------------
# Emulated hosts behind a switch

def _tbf_args(rate: str) -> list[str]:
    m = _RATE_RE.match(rate)
    if not m:
        raise ValueError(f"rate limit '{rate}': expected e.g. 100mbit, 1gbit, 500kbit")
    scale = {"bit": 1, "kbit": 1e3, "mbit": 1e6, "gbit": 1e9}[m.group(2).lower()]
    bytes_per_s = float(m.group(1)) * scale / 8
    # The bucket must hold at least one timer tick of traffic or tbf cannot
    # reach its rate; 10 ms worth (and never under 64 KiB, one GSO segment).
    burst = max(int(bytes_per_s / 100), 65536)
    return ["tbf", "rate", rate, "burst", str(burst), "latency", "50ms"]


class Topology:
    """Server + n clients on a bridge, each an emulated host. Use as a
    context manager; everything is removed on exit, exception or signal."""

    def __init__(self, n_clients: int, rate_limit: str | None = None,
                 delay: str | None = None):
        if not 1 <= n_clients <= MAX_CLIENTS:
            raise ValueError(f"n_clients must be 1..{MAX_CLIENTS}, got {n_clients}")
        if rate_limit:
            _tbf_args(rate_limit)  # validate before creating anything
        if delay and not _DELAY_RE.match(delay):
            raise ValueError(f"delay '{delay}': expected e.g. 500us, 2ms")
        self.n_clients = n_clients
        self.rate_limit = rate_limit
        self.delay = delay
        self.server_addr = SERVER_ADDR
        self.notes: list[str] = []   # what was asked for but could not be done
        self.netem = False
        self._switch = self._server = None
        self._clients: list[str] = []

    def client_addr(self, i: int) -> str:
        return f"{SUBNET_PREFIX}{10 + i}"

    def server_wrap(self, argv: list[str]) -> list[str]:
        if not self._server:
            raise NetnsError("topology not set up: use it as a context manager")
        return ["ip", "netns", "exec", self._server, *argv]

    def client_wrap(self, i: int, argv: list[str]) -> list[str]:
        if not 0 <= i < len(self._clients):
            raise NetnsError(f"no client host {i} (this topology has {len(self._clients)})")
        return ["ip", "netns", "exec", self._clients[i], *argv]

    @property
    def namespaces(self) -> list[str]:
        return [ns for ns in [self._switch, self._server, *self._clients] if ns]

    def __enter__(self) -> "Topology":
        if not _is_root():
            raise NetnsError("--network netns needs root (veth pairs and a bridge)")
        ok, why = available()
        if not ok:
            raise NetnsError(why)
        try:
            self._build()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _build(self) -> None:
        self._switch = _add_netns("sw")
        sw = self._switch
        _run(["ip", "-n", sw, "link", "add", "br0", "type", "bridge"])
        _run(["ip", "-n", sw, "link", "set", "br0", "up"])
        self._server = self._attach("srv", "p_srv", SERVER_ADDR)
        for i in range(self.n_clients):
            self._clients.append(self._attach(f"c{i}", f"p_c{i}", self.client_addr(i)))
        if self.rate_limit:
            # Both directions of the server's link: its own egress and the
            # switch port towards it, like a NIC of that speed.
            tbf = _tbf_args(self.rate_limit)
            _run(["ip", "netns", "exec", self._server, "tc", "qdisc", "add", "dev", "eth0", "root", *tbf])
            _run(["ip", "netns", "exec", sw, "tc", "qdisc", "add", "dev", "p_srv", "root", *tbf])
        if self.delay:
            self.netem, why = netem_available()
            if not self.netem:
                self.notes.append(why)
                print(f"netns: {why}", file=sys.stderr)
            else:
                # One-way delay on each client's egress: the round trip grows by it.
                for ns in self._clients:
                    _run(["ip", "netns", "exec", ns, "tc", "qdisc", "add", "dev", "eth0", "root",
                          "netem", "delay", self.delay])

    def _attach(self, role: str, port: str, addr: str) -> str:
        ns = _add_netns(role)
        _prepare_netns(ns)
        _run(["ip", "link", "add", "eth0", "netns", ns, "type", "veth",
              "peer", "name", port, "netns", self._switch])
        _run(["ip", "-n", self._switch, "link", "set", port, "master", "br0", "up"])
        _run(["ip", "-n", ns, "addr", "add", f"{addr}/24", "dev", "eth0"])
        _run(["ip", "-n", ns, "link", "set", "eth0", "up"])
        return ns

    def close(self) -> None:
        # Hosts first (their processes hold the veths), the switch last.
        for ns in [*self._clients, self._server, self._switch]:
            if ns:
                _delete_netns(ns)
        self._clients, self._server, self._switch = [], None, None


# --------------------------------------------------------------------------

def _main(argv: list[str]) -> int:
    import argparse
    p = argparse.ArgumentParser(
        description="Network namespace helper of the iomodels bench.")
    p.add_argument("action", choices=["available", "cleanup-stale", "list"],
                   help="available: probe and print; cleanup-stale: remove namespaces "
                        "of dead runs; list: namespaces named by this module")
    args = p.parse_args(argv)
    if args.action == "available":
        ok, why = available()
        netem = netem_available()
        print(f"namespaces: {'yes' if ok else 'no'} ({why})\nnetem: {netem[1]}")
        return 0 if ok else 1
    if args.action == "cleanup-stale":
        for ns in cleanup_stale():
            print(f"removed {ns}")
        return 0
    for ns in our_namespaces():
        print(ns)
    return 0


if __name__ == "__main__":
    sys.exit(_main(sys.argv[1:]))
