"""The start barrier of one point, agreed over UDP between the server host
and the client hosts, so that no Ansible round trip lies between choosing
the start instant T and every shard knowing it.

The server host's helper (serve_point.py) opens `Barrier(port, point, n)`
once its server listens and calls wait(): each client host's helper
(run_shard.py) calls ask() until it hears back. When all n shards have
asked, the server host chooses T = its clock + lead, rounded up to a
whole second, and answers every ask with T until each shard acknowledged
it (or T came). A lead of a second or two is then enough whatever
Ansible's latency, since the shards are already running when T is chosen.
If the server could not start, the shards hear that instead and run
nothing.

Messages are one small JSON object per datagram, tagged with the point's
id so that a late packet of an earlier point is ignored.
"""
from __future__ import annotations

import json
import math
import socket
import time
from typing import Optional

ASK_EVERY_S = 0.1


def _send(sock: socket.socket, msg: dict, peer=None) -> None:
    data = json.dumps(msg).encode()
    try:
        sock.sendto(data, peer) if peer else sock.send(data)
    except OSError:
        pass          # the next ask or answer tries again


def _recv(sock: socket.socket, timeout_s: float) -> tuple[Optional[dict], object]:
    sock.settimeout(max(0.001, timeout_s))
    try:
        data, peer = sock.recvfrom(2048)
        msg = json.loads(data)
        return (msg, peer) if isinstance(msg, dict) else (None, peer)
    except (socket.timeout, ValueError, ConnectionRefusedError):
        return None, None


class Barrier:
    """The server host's side of one point's barrier."""

    def __init__(self, port: int, point: str, shards: int):
        self.point, self.shards = point, shards
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("0.0.0.0", port))

    def wait(self, lead_s: float, timeout_s: float) -> tuple[Optional[int], list[int]]:
        """(T, []) once every shard knows T; (None, the shards never heard
        from) after timeout_s."""
        asked: set[int] = set()
        acked: set[int] = set()
        start_at = None
        deadline = time.monotonic() + timeout_s
        while len(acked) < self.shards:
            now = time.monotonic()
            if start_at is None and now >= deadline:
                return None, sorted(set(range(1, self.shards + 1)) - asked)
            if start_at is not None and time.time() >= start_at:
                break              # a lost acknowledgement: T is here anyway
            msg, peer = _recv(self.sock, 0.05)
            if not msg or msg.get("point") != self.point:
                continue
            shard = msg.get("shard")
            if msg.get("got") is not None:
                acked.add(shard)
                continue
            asked.add(shard)
            if start_at is None and len(asked) >= self.shards:
                start_at = math.ceil(time.time() + lead_s)
            _send(self.sock, {"point": self.point, "start_at": start_at} if start_at is not None
                  else {"point": self.point, "wait": True}, peer)
        return start_at, []

    def fail(self, reason: str, linger_s: float = 10.0) -> None:
        """Tells every shard that asks (for a while) that there is nothing to run."""
        told: set[int] = set()
        deadline = time.monotonic() + linger_s
        while len(told) < self.shards and time.monotonic() < deadline:
            msg, peer = _recv(self.sock, 0.05)
            if msg and msg.get("point") == self.point:
                if msg.get("got") is not None:
                    told.add(msg.get("shard"))
                else:
                    _send(self.sock, {"point": self.point, "failed": reason}, peer)

    def close(self) -> None:
        self.sock.close()


def ask(server: str, port: int, point: str, shard: int, timeout_s: float) -> dict:
    """The barrier's answer for this shard: {"start_at": T} or {"failed": why}."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        sock.connect((server, port))
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            sent = time.monotonic()
            _send(sock, {"point": point, "shard": shard, "ask": True})
            msg, _ = _recv(sock, ASK_EVERY_S)
            if not msg or msg.get("point") != point or msg.get("wait"):
                # Not bound yet (ICMP refused comes back at once): no busy loop.
                time.sleep(max(0.0, ASK_EVERY_S - (time.monotonic() - sent)))
                continue
            for _ in range(3):    # the acknowledgement, in case one is lost
                _send(sock, {"point": point, "shard": shard, "got": msg.get("start_at") or msg.get("failed")})
            return msg
        return {"failed": f"no start barrier from {server} (UDP port {port}) within {timeout_s:g} s: "
                          "is the server host's helper running, and that port open?"}
    finally:
        sock.close()
