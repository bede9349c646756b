"""The network each point runs in, behind one small interface (Net):

* loopback -- plain 127.0.0.1 of this host (the fallback, with a notice);
* isolated -- a fresh namespace per point with its own loopback (clean
  TIME_WAIT, raised port range), server and load generator both inside;
* netns    -- emulated hosts: the server and N load generators each in a
  namespace of its own, joined by veth pairs and a bridge (issue 8).

The namespaces come from scripts/benchlib/netns.py; without it (or without
the rights) "auto" falls back to loopback and says so.
"""
from __future__ import annotations

from contextlib import contextmanager
from typing import Callable, Iterator, Optional

# The fixed port inside fresh namespaces, where nothing else listens.
NETNS_PORT = 8080


class Net:
    kind = "loopback"
    n_clients = 1
    fixed_port: Optional[int] = None     # None: pick a free port on this host
    target_ip: Optional[str] = None      # None: the address the server announced
    needs_listen_any = False             # the server must listen beyond 127.0.0.1

    def server_wrap(self, argv: list[str]) -> list[str]:
        return argv

    def client_wrap(self, i: int, argv: list[str]) -> list[str]:
        return argv


class _Isolated(Net):
    kind = "isolated"
    fixed_port = NETNS_PORT

    def __init__(self, host):
        self.host = host

    def server_wrap(self, argv):
        return self.host.wrap(argv)

    def client_wrap(self, i, argv):
        return self.host.wrap(argv)


class _Hosts(Net):
    kind = "netns"
    fixed_port = NETNS_PORT
    needs_listen_any = True

    def __init__(self, topo):
        self.topo = topo
        self.n_clients = topo.n_clients
        self.target_ip = topo.server_addr

    def server_wrap(self, argv):
        return self.topo.server_wrap(argv)

    def client_wrap(self, i, argv):
        return self.topo.client_wrap(i, argv)


def choose(mode: str, n_clients: int = 2, rate_limit: Optional[str] = None,
           delay: Optional[str] = None) -> tuple[Callable[[str], "contextmanager"], str]:
    """mode: auto | loopback | isolated | netns. Returns (open_net, notice);
    open_net(name) is a context manager yielding a Net for one point."""

    @contextmanager
    def loopback(_name: str) -> Iterator[Net]:
        yield Net()

    if mode == "loopback":
        return loopback, "network: plain loopback (asked for)"
    try:
        from . import netns
    except ImportError as e:
        if mode != "auto":
            raise SystemExit(f"bench.py: --network {mode} needs scripts/benchlib/netns.py ({e})")
        return loopback, "network: plain loopback (scripts/benchlib/netns.py not available)"
    ok, why = netns.available()
    if ok:
        netns.cleanup_stale()   # namespaces of runs that were SIGKILLed
    if not ok:
        if mode != "auto":
            raise SystemExit(f"bench.py: network namespaces unavailable: {why}")
        return loopback, f"network: plain loopback (namespaces unavailable: {why})"

    if mode == "netns":
        @contextmanager
        def hosts(_name: str) -> Iterator[Net]:
            with netns.Topology(n_clients, rate_limit=rate_limit, delay=delay) as topo:
                yield _Hosts(topo)
        return hosts, (f"network: emulated hosts, server and {n_clients} load generators each in "
                       f"a namespace of its own, joined by veth pairs"
                       + (f", server link limited to {rate_limit}" if rate_limit else "")
                       + (f", {delay} delay on each client link" if delay else ""))

    @contextmanager
    def isolated(name: str) -> Iterator[Net]:
        with netns.isolated_host(name) as host:
            yield _Isolated(host)
    return isolated, "network: a fresh network namespace per point" + (f" ({why})" if why else "")
