#!/usr/bin/python3
"""Tests of the bench's reference peers: floor-server answers every request
end (also split across reads and pipelined), the generated nginx config is
valid and serves /hello, node_hello.js serves /hello, and peer_specs() finds
them or says why not. Peers that are not installed are skipped, not failed.

  /usr/bin/python3 scripts/peers/test_peers.py --build build    (ctest runs it)
"""
from __future__ import annotations

import argparse
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import unittest
from pathlib import Path

SCRIPTS = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(SCRIPTS))
from benchlib.models import find_binary  # noqa: E402
from benchlib.peers import NODE_SCRIPT, peer_specs  # noqa: E402
from benchlib.procs import Child, free_port, wait_listening  # noqa: E402
from peers.nginx_conf import nginx_argv  # noqa: E402

BUILD: Path = Path("build")
REQUEST = b"GET /hello HTTP/1.1\r\nHost: t\r\n\r\n"


class Server:
    """Starts argv with the bench's launcher; waits for 'listening on'
    (port None: the server announces) or for the port to accept."""

    def __init__(self, argv: list[str], port: int | None = None):
        self.logs = tempfile.TemporaryDirectory(prefix="peers-test-")
        self.child = Child(argv, Path(self.logs.name), "server")
        addr = wait_listening(self.child, port is None, port or 0)
        if addr is None:
            self.stop()
            raise AssertionError(f"{argv[0]} did not start: {self.child.stderr_tail()}")
        self.port = addr[1]
        self.proc = self.child.proc

    def connect(self) -> socket.socket:
        return socket.create_connection(("127.0.0.1", self.port), timeout=5)

    def stop(self) -> int:
        status = self.child.stop().status
        self.logs.cleanup()
        return status


def read_responses(s: socket.socket, count: int) -> bytes:
    """Reads until `count` bodies "Hello, World!" have arrived (or 5 s)."""
    data = b""
    while data.count(b"Hello, World!") < count:
        chunk = s.recv(65536)
        if not chunk:
            break
        data += chunk
    return data


class FloorTest(unittest.TestCase):
    def setUp(self):
        binary = find_binary(BUILD, "floor-server")
        if binary is None:
            self.skipTest(f"floor-server not built under {BUILD}")
        self.server = Server([str(binary), "--port", "0"])

    def tearDown(self):
        self.assertEqual(self.server.stop(), 0, "floor-server should exit 0 on SIGTERM")

    def test_pipelined_requests_get_one_answer_each(self):
        with self.server.connect() as s:
            s.sendall(REQUEST * 50)
            data = read_responses(s, 50)
        self.assertEqual(data.count(b"HTTP/1.1 200 OK\r\n"), 50)

    def test_request_end_split_across_reads_is_counted_once(self):
        with self.server.connect() as s:
            # "\r\n\r\n" arrives as "\r", "\n\r", "\n": the match must carry over.
            for piece in (REQUEST[:-3], REQUEST[-3:-2], REQUEST[-2:-1], REQUEST[-1:]):
                s.sendall(piece)
                time.sleep(0.05)
            data = read_responses(s, 1)
            s.settimeout(0.3)
            with self.assertRaises(socket.timeout):
                extra = s.recv(100)  # nothing more may follow
                self.fail(f"unexpected extra bytes {extra!r}")
        self.assertEqual(data.count(b"200 OK"), 1)

    def test_bad_option_exits_two(self):
        binary = find_binary(BUILD, "floor-server")
        done = subprocess.run([str(binary), "--port", "x"], capture_output=True, text=True)
        self.assertEqual(done.returncode, 2)
        self.assertIn("bad port", done.stderr)


class NginxTest(unittest.TestCase):
    def test_generated_config_serves_hello_and_404(self):
        nginx = shutil.which("nginx") or ("/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None)
        if nginx is None:
            self.skipTest("nginx not installed")
        with tempfile.TemporaryDirectory() as tmp:
            port = free_port()
            argv = nginx_argv(port, Path(tmp) / "nginx", nginx)
            # nginx -t checks the whole config, paths included, without serving.
            check = subprocess.run(argv + ["-t"], capture_output=True, text=True)
            self.assertEqual(check.returncode, 0, check.stderr)
            server = Server(argv, port)
            try:
                # Exactly one process: the one the bench pins and reaps.
                children = subprocess.run(["pgrep", "-P", str(server.proc.pid)], capture_output=True)
                self.assertEqual(children.stdout, b"", "nginx forked a worker: master_process is on")
                with server.connect() as s:
                    s.sendall(REQUEST * 3)
                    data = read_responses(s, 3)
                    self.assertEqual(data.count(b"HTTP/1.1 200 OK"), 3)
                    self.assertIn(b"Content-Type: text/plain", data)
                    s.sendall(b"GET /nope HTTP/1.1\r\nHost: t\r\n\r\n")
                    self.assertIn(b" 404 ", s.recv(4096))
            finally:
                server.stop()
            self.assertTrue((Path(tmp) / "nginx" / "error.log").exists(), "error log not in the run folder")


class NginxWorkersTest(unittest.TestCase):
    def test_two_workers_serve_and_stop(self):
        nginx = shutil.which("nginx") or ("/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None)
        if nginx is None:
            self.skipTest("nginx not installed")
        with tempfile.TemporaryDirectory() as tmp:
            os.chmod(tmp, 0o755)   # the workers may run as another user
            port = free_port()
            argv = nginx_argv(port, Path(tmp) / "nginx", nginx, workers=2)
            check = subprocess.run(argv + ["-t"], capture_output=True, text=True)
            self.assertEqual(check.returncode, 0, check.stderr)
            server = Server(argv, port)
            try:
                time.sleep(0.2)
                children = subprocess.run(["pgrep", "-P", str(server.proc.pid)], capture_output=True,
                                          text=True).stdout.split()
                self.assertEqual(len(children), 2, "worker_processes 2: two workers under the master")
                with server.connect() as s:
                    s.sendall(REQUEST)
                    self.assertIn(b"200 OK", read_responses(s, 1))
            finally:
                self.assertEqual(server.stop(), 0)


class NodeTest(unittest.TestCase):
    def test_hello_and_404(self):
        node = shutil.which("node") or shutil.which("nodejs")
        if node is None:
            self.skipTest("node not installed")
        server = Server([node, str(NODE_SCRIPT), "0"])
        try:
            with server.connect() as s:
                s.sendall(REQUEST * 3)
                data = read_responses(s, 3)
                self.assertEqual(data.count(b"HTTP/1.1 200 OK"), 3)
                s.sendall(b"GET /nope HTTP/1.1\r\nHost: t\r\n\r\n")
                self.assertIn(b" 404 ", s.recv(4096))
        finally:
            self.assertEqual(server.stop(), 0)

    def test_bad_port_exits_two(self):
        node = shutil.which("node") or shutil.which("nodejs")
        if node is None:
            self.skipTest("node not installed")
        done = subprocess.run([node, str(NODE_SCRIPT), "http"], capture_output=True, text=True)
        self.assertEqual(done.returncode, 2)


class PeerSpecsTest(unittest.TestCase):
    def test_missing_binaries_are_notices_not_errors(self):
        with tempfile.TemporaryDirectory() as tmp:
            specs, notices, missing = peer_specs(Path(tmp), Path(tmp) / "run")
        names = {s.name for s in specs}
        self.assertNotIn("floor", names)
        self.assertTrue(any("floor-server" in n for n in notices), notices)
        self.assertIn("floor", [m["peer"] for m in missing])
        self.assertTrue(all(m["command"] for m in missing), missing)
        for spec in specs:
            self.assertTrue(spec.peer, f"{spec.name} should be a peer")

    def test_built_tree_offers_floor_as_peer_and_not_uring(self):
        specs, _, _ = peer_specs(BUILD, Path(tempfile.gettempdir()) / "peers-test-run")
        by_name = {s.name: s for s in specs}
        if find_binary(BUILD, "floor-server"):
            self.assertTrue(by_name["floor"].peer)
        # io_uring is one of our models (servers/models.json), not a peer.
        self.assertNotIn("uring", by_name)

    def test_nginx_on_several_cpus_only_when_the_server_set_has_them(self):
        if shutil.which("nginx") is None and not Path("/usr/sbin/nginx").exists():
            self.skipTest("nginx not installed")
        with tempfile.TemporaryDirectory() as tmp:
            one, _, _ = peer_specs(BUILD, Path(tmp), server_cpus=1)
            four, _, _ = peer_specs(BUILD, Path(tmp), server_cpus=4)
        self.assertNotIn("nginx-cpus4", {s.name for s in one})
        multi = {s.name: s for s in four}["nginx-cpus4"]
        self.assertEqual(multi.cpus, "all")
        self.assertIn("nginx-4", " ".join(multi.make_argv(8080, Path("/tmp/x"))))


def main() -> int:
    global BUILD
    ap = argparse.ArgumentParser(description="Tests of the bench's reference peers")
    ap.add_argument("--build", type=Path, default=Path("build"), help="CMake build folder")
    args, rest = ap.parse_known_args()
    BUILD = args.build
    result = unittest.main(argv=[sys.argv[0]] + rest, exit=False, verbosity=2).result
    return 0 if result.wasSuccessful() else 1


if __name__ == "__main__":
    sys.exit(main())
