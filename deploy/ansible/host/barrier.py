"""The start barrier of one point, agreed over UDP between the server host
and the client hosts ("parties": each runs a shard of the load, holds idle
connections, or both), so that no Ansible round trip lies between choosing
the start instant T and every party knowing it.

The server host's helper (serve_point.py) opens `Barrier(port, point, n)`
once its server listens:

    b.gather({"wait": True}, "ask")      # every party is up (idle points: {"hold": True})
    b.gather({"hold": True}, "held")     # idle points: every party holds its idle connections
    T = b.release(lead_s)                # T = its clock + lead, up to a tenth of a second

and each client host's helper (run_shard.py) calls ask() with the message
of the step it is at, until the answer is one it waits for. T is
chosen only once every party is ready, so a lead of a second or two is
enough whatever Ansible's latency. If the server could not start, the
parties hear that (fail()) and run nothing.

Messages are one small JSON object per datagram, resent until answered,
tagged with the point's id so that a late packet of an earlier point is
ignored.
"""
from __future__ import annotations

import json
import math
import socket
import time
from typing import Optional

ASK_EVERY_S = 0.1


class BarrierTimeout(RuntimeError):
    def __init__(self, phase: str, silent: list[int]):
        super().__init__(f"part(ies) {', '.join(map(str, silent))} never reached the barrier's "
                         f"'{phase}' step")
        self.silent = silent


def _send(sock: socket.socket, msg: dict, peer=None) -> None:
    data = json.dumps(msg).encode()
    try:
        sock.sendto(data, peer) if peer else sock.send(data)
    except OSError:
        pass          # the next ask or answer tries again


def _recv(sock: socket.socket, timeout_s: float) -> tuple[Optional[dict], object]:
    sock.settimeout(max(0.001, timeout_s))
    try:
        data, peer = sock.recvfrom(4096)
        msg = json.loads(data)
        return (msg, peer) if isinstance(msg, dict) else (None, peer)
    except (socket.timeout, ValueError, ConnectionRefusedError):
        return None, None


class Barrier:
    """The server host's side of one point's barrier."""

    def __init__(self, port: int, point: str, parties: int):
        self.point, self.parties = point, parties
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("0.0.0.0", port))

    def _next(self, wait_s: float) -> tuple[Optional[dict], object]:
        msg, peer = _recv(self.sock, wait_s)
        if msg is None or msg.get("point") != self.point or not isinstance(msg.get("party"), int):
            return None, None
        return msg, peer

    def gather(self, answer: dict, want: str, timeout_s: float) -> dict[int, dict]:
        """Answers every message with `answer` until each party sent one
        carrying `want`; returns those messages by party. Raises
        BarrierTimeout after timeout_s."""
        got: dict[int, dict] = {}
        deadline = time.monotonic() + timeout_s
        while len(got) < self.parties:
            if time.monotonic() >= deadline:
                raise BarrierTimeout(want, sorted(set(range(1, self.parties + 1)) - set(got)))
            msg, peer = self._next(0.05)
            if msg is None:
                continue
            if want in msg:
                got[msg["party"]] = msg
            _send(self.sock, dict(answer, point=self.point), peer)
        return got

    def release(self, lead_s: float) -> float:
        """Chooses T and answers it until every party acknowledged (or T came)."""
        # Tenths of a second: readable in logs, and no second of waiting added.
        start_at = math.ceil((time.time() + lead_s) * 10) / 10
        acked: set[int] = set()
        while len(acked) < self.parties and time.time() < start_at:
            msg, peer = self._next(0.05)
            if msg is None:
                continue
            if "got" in msg:
                acked.add(msg["party"])
            else:
                _send(self.sock, {"point": self.point, "start_at": start_at}, peer)
        return start_at

    def fail(self, reason: str, linger_s: float = 10.0) -> None:
        """Tells every party that asks (for a while) that there is nothing to run."""
        told: set[int] = set()
        deadline = time.monotonic() + linger_s
        while len(told) < self.parties and time.monotonic() < deadline:
            msg, peer = self._next(0.05)
            if msg is None:
                continue
            if "got" in msg:
                told.add(msg["party"])
            else:
                _send(self.sock, {"point": self.point, "failed": reason}, peer)

    def close(self) -> None:
        self.sock.close()


def ask(server: str, port: int, point: str, party: int, timeout_s: float, message: dict,
        until=("start_at", "failed")) -> dict:
    """The barrier's first answer to `message` that has a key of `until`
    ({"hold": true}, {"start_at": T}, {"failed": why}); any other answer
    means "not yet"."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        sock.connect((server, port))
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            sent = time.monotonic()
            _send(sock, dict(message, point=point, party=party))
            msg, _ = _recv(sock, ASK_EVERY_S)
            if not msg or msg.get("point") != point or not any(k in msg for k in until):
                # Not bound yet (ICMP refused comes back at once): no busy loop.
                time.sleep(max(0.0, ASK_EVERY_S - (time.monotonic() - sent)))
                continue
            if "start_at" in msg or "failed" in msg:
                for _ in range(3):    # the acknowledgement, in case one is lost
                    _send(sock, {"point": point, "party": party, "got": True})
            return msg
        return {"failed": f"no answer from the start barrier on {server} (UDP port {port}) within "
                          f"{timeout_s:g} s: is the server host's helper running, and that port open?"}
    finally:
        sock.close()
