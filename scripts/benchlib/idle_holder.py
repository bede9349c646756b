#!/usr/bin/python3
"""Holds N idle keep-alive connections to a server for the `idle` scenario.

Each connection sends one GET and reads its response, so the server sees a
real keep-alive client resting between requests (not a half-open request
the header timeout would rightly close), then stays silent. Prints
"holding N answered M" once all are open (with "of N: why" when some failed
or were never answered) and waits for SIGTERM. A small Python program is enough: it does nothing once
the connections are up, and its own memory is not what is measured.
"""
from __future__ import annotations

import argparse
import errno
import resource
import selectors
import signal
import socket
import sys
import time

REQUEST = b"GET /hello HTTP/1.1\r\nHost: bench\r\n\r\n"
IN_FLIGHT = 256  # connects at once: bounded so the listen backlog never overflows


def response_complete(buf: bytes) -> bool:
    head, sep, body = buf.partition(b"\r\n\r\n")
    if not sep:
        return False
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            return len(body) >= int(value.strip() or 0)
    return True


def hold(host: str, port: int, n: int, timeout_s: float, answer_wait_s: float, source: str = ""):
    """Opens n connections, sends one GET on each and waits (a bounded time)
    for the answers. Returns (sockets held, answered, failure). A connection
    left unanswered is still held: a server that serves one connection at a
    time is stuck on the first idle one, and that is the finding."""
    sel = selectors.DefaultSelector()
    held: list[socket.socket] = []
    connecting = 0
    started = answered = 0
    failure = ""
    deadline = time.monotonic() + timeout_s
    answer_deadline = None
    while time.monotonic() < deadline:
        while started < n and connecting < IN_FLIGHT:
            s = socket.socket()
            s.setblocking(False)
            if source:
                # One source address has ~28k ephemeral ports towards one
                # server port: more idle connections need more addresses.
                s.bind((source, 0))
            err = s.connect_ex((host, port))
            if err not in (0, errno.EINPROGRESS):
                s.close()
                failure = f"connect: {errno.errorcode.get(err, err)}"
                n = started  # stop asking for more: report what we got
                break
            sel.register(s, selectors.EVENT_WRITE, None)
            started += 1
            connecting += 1
        if started >= n and connecting == 0:
            if answered == len(held):
                break
            if answer_deadline is None:
                answer_deadline = time.monotonic() + answer_wait_s
            elif time.monotonic() >= answer_deadline:
                break
        for key, _ in sel.select(0.2):
            s = key.fileobj
            if key.data is None:  # connect finished (or failed)
                connecting -= 1
                err = s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
                if err:
                    failure = f"connect: {errno.errorcode.get(err, err)}"
                    sel.unregister(s)
                    s.close()
                    continue
                s.send(REQUEST)  # 36 bytes always fit an empty socket buffer
                held.append(s)
                sel.modify(s, selectors.EVENT_READ, b"")
                continue
            try:
                chunk = s.recv(4096)
            except OSError as e:
                chunk, failure = b"", f"read: {e.strerror}"
            if not chunk:
                failure = failure or "server closed an idle connection"
                sel.unregister(s)
                held.remove(s)
                s.close()
                continue
            data = key.data + chunk
            if response_complete(data):
                sel.unregister(s)
                answered += 1
            else:
                sel.modify(s, selectors.EVENT_READ, data)
    if len(held) < n and not failure:
        failure = f"timed out after {timeout_s:.0f} s"
    return held, answered, failure


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("host")
    ap.add_argument("port", type=int)
    ap.add_argument("connections", type=int)
    ap.add_argument("--timeout", type=float, default=60.0, help="seconds to open them all")
    ap.add_argument("--source", default="", help="local address to connect from (e.g. 127.0.0.2)")
    ap.add_argument("--answer-wait", type=float, default=2.0,
                    help="seconds to wait for the answers once all are open")
    args = ap.parse_args()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    if args.connections + 16 > hard:
        print(f"holding 0 of {args.connections}: fd limit {hard} is too low (raise ulimit -n)", flush=True)
        return 2
    stop = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
    signal.signal(signal.SIGINT, lambda *_: stop.append(1))
    held, answered, failure = hold(args.host, args.port, args.connections, args.timeout,
                                   args.answer_wait, args.source)
    if len(held) < args.connections:
        print(f"holding {len(held)} answered {answered} of {args.connections}: {failure}", flush=True)
    elif answered < len(held):
        print(f"holding {len(held)} answered {answered} of {args.connections}: "
              f"{len(held) - answered} never answered", flush=True)
    else:
        print(f"holding {len(held)} answered {answered}", flush=True)
    while not stop:
        time.sleep(0.2)  # not pause(): a signal before it would be lost
    return 0


if __name__ == "__main__":
    sys.exit(main())
