#!/usr/bin/python3
"""Black-box tests of what only server-epoll has: --offload, --processes,
--reactors, --max-connections and its option checks. (The shared suite in
tests/blackbox checks the protocol and the one-loop model.)

usage: test_epoll_options.py PATH/TO/server-epoll [unittest options]

Bounds are generous and mostly relative (A finishes before B), because the
machine running them may be busy with other work."""

import os
import re
import signal
import socket
import subprocess
import sys
import time
import unittest

SERVER = None  # set from argv in main


class Server:
    """server-epoll on --port 0; killed on exit whatever happens."""

    def __init__(self, *args):
        self.process = subprocess.Popen(
            [SERVER, "--port", "0", *args],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        line = self.process.stdout.readline()  # blocks until the line or EOF
        match = re.match(r"listening on (.*):(\d+)$", line.strip())
        if not match:
            self.process.kill()
            raise RuntimeError("no 'listening on' line: %r %s"
                               % (line, self.process.stderr.read()))
        self.port = int(match.group(2))

    def connect(self):
        s = socket.create_connection(("127.0.0.1", self.port), timeout=10)
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return s

    def children(self):
        pids = []
        for entry in os.listdir("/proc"):
            if entry.isdigit():
                try:
                    with open("/proc/%s/stat" % entry) as f:
                        fields = f.read().rsplit(")", 1)[1].split()
                except OSError:
                    continue
                if int(fields[1]) == self.process.pid:
                    pids.append(int(entry))
        return pids

    def threads(self):
        return len(os.listdir("/proc/%d/task" % self.process.pid))

    def stop(self, timeout=5):
        """SIGTERM; returns (exit status, seconds taken)."""
        start = time.monotonic()
        self.process.send_signal(signal.SIGTERM)
        status = self.process.wait(timeout)
        return status, time.monotonic() - start

    def close(self):
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)  # so that it stops its workers
            try:
                self.process.wait(5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process.stdout.close()
        self.process.stderr.close()


def request(path, close=False):
    extra = "Connection: close\r\n" if close else ""
    return ("GET %s HTTP/1.1\r\nHost: test\r\n%s\r\n" % (path, extra)).encode()


_unread = {}  # socket -> bytes received after the response last returned


def read_response(s, timeout=10):
    """One response (framed by Content-Length): (status, body). Bytes of a
    pipelined next response are kept for the next call."""
    s.settimeout(timeout)
    data = _unread.pop(s, b"")

    def more():
        chunk = s.recv(65536)
        if not chunk:
            raise ConnectionError("closed before a whole response: %r" % data)
        return chunk

    while b"\r\n\r\n" not in data:
        data += more()
    head, rest = data.split(b"\r\n\r\n", 1)
    length = int(re.search(rb"Content-Length: (\d+)", head).group(1))
    while len(rest) < length:
        rest += more()
    _unread[s] = rest[length:]
    return int(head.split()[1]), rest[:length]


def get(server, path):
    with server.connect() as s:
        s.sendall(request(path, close=True))
        return read_response(s)


class Offload(unittest.TestCase):
    def setUp(self):
        self.server = Server("--offload", "2")

    def tearDown(self):
        self.server.close()

    def test_cpu_work_no_longer_stalls_the_loop(self):
        busy = self.server.connect()
        busy.sendall(request("/cpu/400000"))
        time.sleep(0.05)  # a worker is burning by now
        start = time.monotonic()
        self.assertEqual(get(self.server, "/hello")[0], 200)
        hello_took = time.monotonic() - start
        # The /cpu answer is still being computed while /hello was answered.
        busy.settimeout(0)
        with self.assertRaises(BlockingIOError):
            busy.recv(1)
        self.assertEqual(read_response(busy)[0], 200)
        self.assertLess(hello_took, 1.5)  # generous: the order above is the real check
        busy.close()

    def test_one_loop_thread_plus_the_workers(self):
        self.assertEqual(get(self.server, "/hello")[0], 200)
        self.assertEqual(self.server.threads(), 1 + 2)

    def test_many_jobs_pipelined_and_concurrent_all_come_back(self):
        sockets = [self.server.connect() for _ in range(8)]
        for s in sockets:  # 3 jobs per connection, pipelined, with a hello between
            s.sendall(request("/cpu/5000") + request("/hello") + request("/cpu/5000")
                      + request("/cpu/1000", close=True))
        for s in sockets:
            statuses = [read_response(s) for _ in range(4)]
            self.assertEqual([st for st, _ in statuses], [200] * 4)
            self.assertEqual(statuses[1][1], b"Hello, World!")
            s.close()

    def test_a_client_that_leaves_mid_job_harms_no_one(self):
        for _ in range(5):
            s = self.server.connect()
            s.sendall(request("/cpu/50000"))
            s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\0\0\0\0\0\0\0")
            s.close()  # a reset while the worker burns
        time.sleep(0.4)
        self.assertEqual(get(self.server, "/hello")[0], 200)
        status, took = self.server.stop()
        self.assertEqual(status, 0)


class Processes(unittest.TestCase):
    def test_workers_serve_and_stop_with_the_parent(self):
        server = Server("--processes", "3")
        try:
            workers = server.children()
            self.assertEqual(len(workers), 3)
            for _ in range(30):
                self.assertEqual(get(server, "/hello")[0], 200)
            status, took = server.stop()
            self.assertEqual(status, 0)
            self.assertLess(took, 2.0)
            for pid in workers:
                self.assertFalse(os.path.exists("/proc/%d" % pid), "worker %d left" % pid)
        finally:
            server.close()

    def test_sleeps_overlap_across_processes_and_reactors(self):
        server = Server("--processes", "2", "--reactors", "2")
        try:
            start = time.monotonic()
            sockets = [server.connect() for _ in range(40)]
            for s in sockets:
                s.sendall(request("/sleep/300"))
            for s in sockets:
                self.assertEqual(read_response(s)[0], 200)
                s.close()
            self.assertLess(time.monotonic() - start, 2.0)
        finally:
            server.close()

    def test_workers_stop_when_the_parent_is_killed(self):
        server = Server("--processes", "2")
        try:
            workers = server.children()
            server.process.kill()  # no chance to forward anything
            server.process.wait(5)
            deadline = time.monotonic() + 5
            while time.monotonic() < deadline and any(
                    os.path.exists("/proc/%d" % pid) for pid in workers):
                time.sleep(0.05)
            for pid in workers:
                self.assertFalse(os.path.exists("/proc/%d" % pid), "worker %d left" % pid)
        finally:
            server.close()

    def test_a_worker_that_dies_stops_the_rest_and_fails(self):
        server = Server("--processes", "2")
        try:
            workers = server.children()
            os.kill(workers[0], signal.SIGKILL)
            status = server.process.wait(5)
            self.assertNotEqual(status, 0)
            time.sleep(0.2)
            self.assertFalse(os.path.exists("/proc/%d" % workers[1]))
        finally:
            server.close()


class Reactors(unittest.TestCase):
    def test_every_reactor_serves_on_the_same_port(self):
        server = Server("--reactors", "3")
        try:
            for _ in range(30):
                self.assertEqual(get(server, "/hello")[0], 200)
            self.assertEqual(server.threads(), 3)
            self.assertEqual(server.stop()[0], 0)
        finally:
            server.close()


class MaxConnections(unittest.TestCase):
    def test_the_next_client_waits_until_one_leaves(self):
        server = Server("--max-connections", "2")
        try:
            first, second = server.connect(), server.connect()
            for s in (first, second):
                s.sendall(request("/hello"))
                self.assertEqual(read_response(s)[0], 200)
            third = server.connect()  # completes in the kernel's backlog
            third.sendall(request("/hello"))
            third.settimeout(0.4)
            with self.assertRaises(socket.timeout):
                third.recv(1)
            first.close()
            self.assertEqual(read_response(third, timeout=5)[0], 200)
            second.close()
            third.close()
        finally:
            server.close()


class Options(unittest.TestCase):
    def run_server(self, *args):
        return subprocess.run([SERVER, *args], capture_output=True, text=True, timeout=10)

    def test_help_shows_the_model_options(self):
        result = self.run_server("--help")
        self.assertEqual(result.returncode, 0)
        for option in ("--reactors", "--offload", "--processes", "--max-connections",
                       "--max-output-bytes", "--header-timeout-ms"):
            self.assertIn(option, result.stdout)

    def test_bad_values_exit_2_with_a_message(self):
        for args in (["--reactors", "0"], ["--offload", "-1"], ["--processes", "0"],
                     ["--max-output-bytes", "10"], ["--reactors", "many"]):
            result = self.run_server("--port", "0", *args)
            self.assertEqual(result.returncode, 2, args)
            self.assertIn("server-epoll:", result.stderr)

    def test_port_in_use_exits_2_even_with_processes(self):
        holder = socket.socket()
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = str(holder.getsockname()[1])
        try:
            for args in ([], ["--processes", "2"], ["--reactors", "2"]):
                result = self.run_server("--port", port, *args)
                self.assertEqual(result.returncode, 2, args)
        finally:
            holder.close()

    def test_a_second_reuseport_server_on_the_same_port_is_refused(self):
        # SO_REUSEPORT would let it join the first one's port silently.
        first = Server("--reactors", "2")
        try:
            for args in (["--reactors", "2"], ["--processes", "2"]):
                result = self.run_server("--port", str(first.port), *args)
                self.assertEqual(result.returncode, 2, args)
                self.assertIn("in use", result.stderr)
        finally:
            first.close()


if __name__ == "__main__":
    if len(sys.argv) < 2 or sys.argv[1].startswith("-"):
        print(__doc__)
        sys.exit(0 if "--help" in sys.argv or "-h" in sys.argv else 2)
    SERVER = sys.argv.pop(1)
    unittest.main()
