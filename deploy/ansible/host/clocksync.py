#!/usr/bin/python3
"""How far a client host's clock is from the server host's, for
`loadgen --clock-offset` (the server host's clock is the run's reference:
it chooses the start barrier and reads the server's counters).

    clocksync.py serve --port 8081 --clients 2 --timeout-s 60     # on the server host
    clocksync.py measure --server 10.0.0.1 --port 8081              # on each client host

`serve` answers each UDP datagram with its wall clock (time.time_ns) until
every client said it is done, or --timeout-s passed. `measure` sends
--samples requests and keeps the one with the shortest round trip: its
offset (client clock minus server clock, at the middle of the round trip)
is off by at most half that round trip, which it prints beside it:

    {"offset_s": 0.00012, "rtt_s": 0.00009, "uncertainty_s": 0.000045, "samples": 40}

The SSH round trips Ansible makes are far too slow and uneven for this
(tens to hundreds of milliseconds); one UDP round trip on a LAN is tens of
microseconds. Where the hosts run chrony or ntpd their offsets are
usually far smaller than a point's window already; this measures instead
of assuming.
"""
from __future__ import annotations

import argparse
import json
import os
import socket
import struct
import sys
import time

import hostlib

ASK = struct.Struct("!4sQ")        # magic, sequence number
ANSWER = struct.Struct("!4sQq")    # magic, sequence number, server time_ns
MAGIC, BYE = b"iomc", b"iomb"


def serve(port: int, clients: int, timeout_s: float) -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("0.0.0.0", port))
        return _answer(sock, clients, timeout_s)


def _answer(sock: socket.socket, clients: int, timeout_s: float) -> int:
    deadline = time.monotonic() + timeout_s
    done: set = set()
    answered = 0
    while len(done) < clients:
        left = deadline - time.monotonic()
        if left <= 0:
            print(json.dumps({"answered": answered, "done": len(done), "timed_out": True}))
            return 1
        sock.settimeout(left)
        try:
            data, peer = sock.recvfrom(64)
        except socket.timeout:
            continue
        if len(data) != ASK.size:
            continue
        magic, seq = ASK.unpack(data)
        if magic == MAGIC:
            sock.sendto(ANSWER.pack(MAGIC, seq, time.time_ns()), peer)
            answered += 1
        elif magic == BYE:
            done.add(peer)
            sock.sendto(ANSWER.pack(BYE, seq, 0), peer)
    print(json.dumps({"answered": answered, "done": len(done), "timed_out": False}))
    return 0


def measure(server: str, port: int, samples: int, timeout_s: float) -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.connect((server, port))
        best, got = _probe(sock, samples, timeout_s)
    if best is None:
        print(f"clocksync.py: no answer from {server}:{port} (UDP) in {timeout_s:g} s", file=sys.stderr)
        return 1
    rtt, offset = best
    print(json.dumps({"offset_s": round(offset / 1e9, 6), "rtt_s": round(rtt / 1e9, 6),
                      "uncertainty_s": round(rtt / 2e9, 6), "samples": got, "server": server}))
    return 0


def _probe(sock: socket.socket, samples: int, timeout_s: float):
    """(the shortest round trip and its offset, in ns, or None; answers)"""
    best = None
    got = 0
    deadline = time.monotonic() + timeout_s
    seq = 0
    while got < samples and time.monotonic() < deadline:
        seq += 1
        t0 = time.time_ns()
        sock.send(ASK.pack(MAGIC, seq))
        sock.settimeout(0.2)
        try:
            while True:
                magic, rseq, server_ns = ANSWER.unpack(sock.recv(64))
                if magic == MAGIC and rseq == seq:
                    break
        except (socket.timeout, ConnectionRefusedError, struct.error):
            time.sleep(0.05)      # the server may not be up yet: try again
            continue
        t1 = time.time_ns()
        got += 1
        rtt = t1 - t0
        if best is None or rtt < best[0]:
            best = (rtt, (t0 + t1) / 2 - server_ns)
        time.sleep(0.005)
    for _ in range(5):              # tell the server this client is done
        try:
            sock.send(ASK.pack(BYE, seq + 1))
            sock.settimeout(0.2)
            if ANSWER.unpack(sock.recv(64))[0] == BYE:
                break
        except (socket.timeout, ConnectionRefusedError, struct.error):
            continue
    return best, got


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__)
    sub = ap.add_subparsers(dest="action", required=True)
    s = sub.add_parser("serve", help="answer the clients (server host)")
    s.add_argument("--port", type=int, required=True)
    s.add_argument("--clients", type=int, required=True, help="how many clients will measure")
    s.add_argument("--timeout-s", type=float, default=60.0)
    m = sub.add_parser("measure", help="measure this host's offset (client host)")
    m.add_argument("--server", required=True)
    m.add_argument("--port", type=int, required=True)
    m.add_argument("--samples", type=int, default=40)
    m.add_argument("--timeout-s", type=float, default=30.0)
    args = ap.parse_args(argv)
    if args.action == "serve":
        hostlib.stop_on_signals()
        hostlib.record_pid("clocksync", os.getpid())
        try:
            return serve(args.port, args.clients, args.timeout_s)
        except KeyboardInterrupt:
            return 1
        finally:
            hostlib.forget_pid("clocksync")
    return measure(args.server, args.port, args.samples, args.timeout_s)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
