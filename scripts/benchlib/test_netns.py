"""Checks of netns.py against the real kernel: traffic flows where it should,
the sysctls hold inside and not outside, and nothing is left behind after a
normal exit, an exception, SIGTERM, or SIGKILL + cleanup_stale().

    /usr/bin/python3 -m unittest discover -s scripts/benchlib -p test_netns.py -v

Skips (with the reason) where namespaces are not available.
"""
from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import sys
import tempfile
import textwrap
import time
import unittest
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
from benchlib import netns  # noqa: E402

OK, WHY = netns.available()
PY = sys.executable

# A listener that prints its port, accepts `count` connections and prints
# each peer's address: proves who reached whom.
SERVER = textwrap.dedent("""
    import socket, sys
    s = socket.socket(); s.bind((sys.argv[1], 0)); s.listen()
    print(s.getsockname()[1], flush=True)
    for _ in range(int(sys.argv[2])):
        c, peer = s.accept(); print(peer[0], flush=True); c.close()
""")
CLIENT = "import socket, sys; socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=5)"


def host_links() -> str:
    return subprocess.run(["ip", "-o", "link"], capture_output=True, text=True).stdout


def sysctl(argv_prefix: list[str], key: str) -> str:
    out = subprocess.run([*argv_prefix, "sysctl", "-n", key], capture_output=True, text=True)
    return " ".join(out.stdout.split())


def mine() -> list[str]:
    return [ns for ns in netns.our_namespaces() if ns.startswith(f"{netns.PREFIX}-{os.getpid()}-")]


@unittest.skipUnless(OK, WHY)
class IsolatedHostTest(unittest.TestCase):
    def test_loopback_and_sysctls_inside_only(self):
        before = host_links()
        host_range = sysctl([], "net.ipv4.ip_local_port_range")
        with netns.isolated_host("unit") as h:
            self.assertEqual(sysctl(h.wrap([]), "net.ipv4.ip_local_port_range"), "1024 65535")
            self.assertEqual(sysctl(h.wrap([]), "net.ipv4.tcp_tw_reuse"), "1")
            self.assertEqual(sysctl(h.wrap([]), "net.core.somaxconn"), "65535")
            server = subprocess.Popen(h.wrap([PY, "-c", SERVER, "127.0.0.1", "1"]),
                                      stdout=subprocess.PIPE, text=True)
            port = server.stdout.readline().strip()
            subprocess.run(h.wrap([PY, "-c", CLIENT, "127.0.0.1", port]), check=True, timeout=10)
            self.assertEqual(server.stdout.readline().strip(), "127.0.0.1")
            server.wait(timeout=10)
            server.stdout.close()
        self.assertEqual(sysctl([], "net.ipv4.ip_local_port_range"), host_range)
        self.assertEqual(mine(), [])
        self.assertEqual(host_links(), before)

    def test_pid_of_wrapped_command_is_the_command(self):
        # The bench samples /proc/PID of the server: the wrapper must exec in place.
        with netns.isolated_host("pid") as h:
            p = subprocess.Popen(h.wrap(["sh", "-c", "echo $$"]), stdout=subprocess.PIPE, text=True)
            with p:
                self.assertEqual(int(p.stdout.read()), p.pid)

    def test_removed_on_exception_with_process_still_inside(self):
        with self.assertRaises(RuntimeError):
            with netns.isolated_host("boom") as h:
                # Inside before the exception: under load `ip netns exec` may
                # not have entered the namespace yet, and a process still
                # outside is not what this test is about.
                sleeper = subprocess.Popen(h.wrap(["sh", "-c", "echo inside; exec sleep 30"]),
                                           stdout=subprocess.PIPE, text=True)
                self.assertEqual(sleeper.stdout.readline().strip(), "inside")
                raise RuntimeError("boom")
        self.assertEqual(mine(), [])
        # The cleanup had to end the process inside for the namespace to go.
        self.assertIsNotNone(sleeper.wait(timeout=5))
        sleeper.stdout.close()


@unittest.skipUnless(OK and os.geteuid() == 0, "Topology needs root: " + WHY)
class TopologyTest(unittest.TestCase):
    def test_clients_reach_server_with_their_own_addresses(self):
        before = host_links()
        with netns.Topology(2, rate_limit="200mbit") as t:
            self.assertEqual(len(t.namespaces), 4)
            server = subprocess.Popen(t.server_wrap([PY, "-c", SERVER, t.server_addr, "2"]),
                                      stdout=subprocess.PIPE, text=True)
            port = server.stdout.readline().strip()
            for i in range(2):
                subprocess.run(t.client_wrap(i, [PY, "-c", CLIENT, t.server_addr, port]),
                               check=True, timeout=10)
            peers = [server.stdout.readline().strip() for _ in range(2)]
            self.assertEqual(peers, [t.client_addr(0), t.client_addr(1)])
            server.wait(timeout=10)
            server.stdout.close()
            qdisc = subprocess.run(t.server_wrap(["tc", "qdisc", "show", "dev", "eth0"]),
                                   capture_output=True, text=True).stdout
            self.assertIn("tbf", qdisc)
            # The test range must not leak into the host namespace.
            self.assertNotIn("198.18.", subprocess.run(["ip", "-o", "addr"], capture_output=True,
                                                       text=True).stdout)
        self.assertEqual(mine(), [])
        self.assertEqual(host_links(), before)

    def test_delay_without_netem_is_a_note_not_a_failure(self):
        have_netem, _ = netns.netem_available()
        with netns.Topology(1, delay="1ms") as t:
            self.assertEqual(t.netem, have_netem)
            self.assertEqual(bool(t.notes), not have_netem)
        self.assertEqual(mine(), [])

    def test_bad_arguments_create_nothing(self):
        for kwargs in ({"n_clients": 0}, {"n_clients": 1, "rate_limit": "fast"},
                       {"n_clients": 1, "delay": "soon"}):
            with self.assertRaises(ValueError):
                netns.Topology(**kwargs)
        self.assertEqual(mine(), [])

    def _child_holding_topology(self) -> subprocess.Popen:
        code = textwrap.dedent(f"""
            import sys, time; sys.path.insert(0, {str(HERE.parent)!r})
            from benchlib import netns
            with netns.Topology(2):
                print("ready", flush=True); time.sleep(60)
        """)
        child = subprocess.Popen([PY, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                 text=True)
        self.assertEqual(child.stdout.readline().strip(), "ready")
        return child

    def _namespaces_of(self, pid: int) -> list[str]:
        return [ns for ns in netns.our_namespaces() if ns.startswith(f"{netns.PREFIX}-{pid}-")]

    def test_sigterm_and_sigint_remove_everything(self):
        before = host_links()
        for sig in ("SIGTERM", "SIGINT"):
            child = self._child_holding_topology()
            self.assertEqual(len(self._namespaces_of(child.pid)), 4)
            child.send_signal(getattr(__import__("signal"), sig))
            child.wait(timeout=20)
            child.stdout.close()
            self.assertEqual(self._namespaces_of(child.pid), [], sig)
        self.assertEqual(host_links(), before)

    def test_cleanup_stale_after_sigkill(self):
        child = self._child_holding_topology()
        child.kill()
        child.wait()
        child.stdout.close()
        self.assertEqual(len(self._namespaces_of(child.pid)), 4)   # SIGKILL cannot be caught
        removed = netns.cleanup_stale()
        self.assertEqual(sorted(removed), sorted(f for f in removed if f"-{child.pid}-" in f))
        self.assertEqual(self._namespaces_of(child.pid), [])


@unittest.skipUnless(os.geteuid() == 0 and shutil.which("setpriv"),
                     "needs root to switch to an unprivileged user")
class UnprivilegedTest(unittest.TestCase):
    def test_isolated_host_as_nobody(self):
        # A copy of the module in a folder nobody can read: the checkout itself
        # may sit under a private home folder.
        with tempfile.TemporaryDirectory() as tmp:
            os.chmod(tmp, 0o755)
            pkg = Path(tmp) / "benchlib"
            pkg.mkdir()
            for name in ("__init__.py", "netns.py"):
                shutil.copy(HERE / name, pkg / name)
            for f in [pkg, *pkg.iterdir()]:
                os.chmod(f, 0o755 if f.is_dir() else 0o644)
            code = textwrap.dedent(f"""
                import subprocess, sys; sys.path.insert(0, {tmp!r})
                from benchlib import netns
                ok, why = netns.available()
                if not ok: print("UNAVAILABLE", why); sys.exit(0)
                with netns.isolated_host("nobody") as h:
                    out = subprocess.run(h.wrap(["sysctl", "-n", "net.ipv4.ip_local_port_range"]),
                                         capture_output=True, text=True).stdout
                    print(" ".join(out.split()))
            """)
            nobody = pwd.getpwnam("nobody")
            out = subprocess.run(["setpriv", f"--reuid={nobody.pw_uid}", f"--regid={nobody.pw_gid}",
                                  "--clear-groups", PY, "-c", code], capture_output=True,
                                 text=True, cwd="/", timeout=30)
        if out.stdout.startswith("UNAVAILABLE"):
            # Where unprivileged user namespaces are off, available() must say
            # so in words (the bench prints it and falls back to loopback).
            self.assertGreater(len(out.stdout.split(None, 1)[1].strip()), 10, out.stdout)
        else:
            self.assertEqual(out.stdout.strip(), "1024 65535", out.stderr)


if __name__ == "__main__":
    unittest.main()
