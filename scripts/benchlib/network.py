"""The network each point runs in: a fresh namespace per point where
scripts/benchlib/netns.py says namespaces work (clean TIME_WAIT, a raised
port range), plain loopback otherwise, with a notice saying which."""
from __future__ import annotations

from typing import Callable, Optional


def choose(mode: str) -> tuple[Optional[Callable], str]:
    """mode: auto | loopback | isolated. Returns (isolate, notice);
    isolate(name) is a context manager with .wrap(argv), None for loopback."""
    if mode == "loopback":
        return None, "network: plain loopback (asked for)"
    try:
        from . import netns
    except ImportError as e:
        if mode == "isolated":
            raise SystemExit(f"bench.py: --network isolated needs scripts/benchlib/netns.py ({e})")
        return None, "network: plain loopback (scripts/benchlib/netns.py not available)"
    ok, why = netns.available()
    if not ok:
        if mode == "isolated":
            raise SystemExit(f"bench.py: network namespaces unavailable: {why}")
        return None, f"network: plain loopback (namespaces unavailable: {why})"
    return netns.isolated_host, "network: a fresh network namespace per point" + (f" ({why})" if why else "")
