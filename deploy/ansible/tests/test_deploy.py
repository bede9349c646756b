"""ctest ansible-unit: the playbook's Python pieces on their own, no root,
no SSH: the settings record and its restore, the start barrier and the
clock probe over loopback, stopping by recorded pid, the planner's shard
arithmetic, and how a point folder is put together.

    /usr/bin/python3 -m unittest discover -s deploy/ansible/tests -p test_deploy.py
"""
from __future__ import annotations

import io
import json
import os
import signal
import socket
import subprocess
import sys
import tarfile
import tempfile
import threading
import time
import unittest
from contextlib import redirect_stdout
from dataclasses import asdict
from pathlib import Path
from unittest import mock

HERE = Path(__file__).resolve().parent
DEPLOY = HERE.parent
REPO = DEPLOY.parent.parent
for p in (REPO / "scripts", DEPLOY / "host", DEPLOY / "control"):
    sys.path.insert(0, str(p))

import barrier  # noqa: E402
import clocksync  # noqa: E402
import gather  # noqa: E402
import hostlib  # noqa: E402
import hostsettings  # noqa: E402
import planning  # noqa: E402
import stop_run  # noqa: E402
from benchlib import saturation  # noqa: E402
from benchlib.profiles import PROFILES, make_point  # noqa: E402


def free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class HostSettingsTest(unittest.TestCase):
    """hostsettings.py against a stand-in /proc/sys."""

    def setUp(self):
        self.tmp = Path(tempfile.mkdtemp())
        self.sys = self.tmp / "sys"
        for key, value in {"net.core.somaxconn": "4096", "net.ipv4.ip_local_port_range": "32768\t60999",
                           "fs.nr_open": "1048576"}.items():
            path = self.sys / key.replace(".", "/")
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(value + "\n")
        patcher = mock.patch.object(hostsettings, "PROC_SYS", self.sys)
        patcher.start()
        self.addCleanup(patcher.stop)
        self.record = self.tmp / "before.json"

    def value(self, key):
        return hostsettings.read(key)

    def test_apply_records_then_restore_puts_back(self):
        out = hostsettings.apply(self.record, {"net.core.somaxconn": "65535",
                                               "net.ipv4.ip_local_port_range": "1024 65535"}, {})
        self.assertEqual(out["changed"], ["net.core.somaxconn", "net.ipv4.ip_local_port_range"])
        self.assertEqual(self.value("net.core.somaxconn"), "65535")
        self.assertEqual(json.loads(self.record.read_text())["before"],
                         {"net.core.somaxconn": "4096", "net.ipv4.ip_local_port_range": "32768 60999"})
        back = hostsettings.restore(self.record)
        self.assertEqual(sorted(back["changed"]), ["net.core.somaxconn", "net.ipv4.ip_local_port_range"])
        self.assertEqual(self.value("net.core.somaxconn"), "4096")
        self.assertEqual(self.value("net.ipv4.ip_local_port_range"), "32768 60999")
        self.assertFalse(self.record.exists())

    def test_an_earlier_record_keeps_the_hosts_own_values(self):
        hostsettings.apply(self.record, {"net.core.somaxconn": "65535"}, {})
        # An interrupted run never restored; the next one applies again.
        out = hostsettings.apply(self.record, {"net.core.somaxconn": "65535"}, {})
        self.assertEqual(out["changed"], [])
        self.assertTrue(out["kept_earlier_record"])
        hostsettings.restore(self.record)
        self.assertEqual(self.value("net.core.somaxconn"), "4096")

    def test_at_least_raises_only(self):
        self.assertEqual(hostsettings.apply(self.record, {}, {"fs.nr_open": "2000"})["changed"], [])
        self.assertFalse(self.record.exists())
        self.assertEqual(hostsettings.apply(self.record, {}, {"fs.nr_open": "2000000"})["changed"],
                         ["fs.nr_open"])
        hostsettings.restore(self.record)
        self.assertEqual(self.value("fs.nr_open"), "1048576")

    def test_restore_without_record_changes_nothing(self):
        self.assertEqual(hostsettings.restore(self.record)["changed"], [])
        self.assertEqual(self.value("net.core.somaxconn"), "4096")

    def test_bad_input_is_refused_before_any_change(self):
        with self.assertRaises(ValueError):
            hostsettings.parse_pairs(["net.core.somaxconn"], "--set")
        with self.assertRaises(ValueError):
            hostsettings.path_of("../../etc/passwd")
        self.assertEqual(hostsettings.main(["apply", "--record", str(self.record), "--set", "nokey"]), 1)
        self.assertFalse(self.record.exists())


ASK = {"ask": True}


class BarrierTest(unittest.TestCase):
    def barrier(self, point, parties):
        port = free_udp_port()
        b = barrier.Barrier(port, point, parties)
        self.addCleanup(b.close)
        return b, port

    def test_every_party_hears_the_same_instant_once_all_asked(self):
        b, port = self.barrier("p1", 2)
        answers = {}

        def ask(i):
            answers[i] = barrier.ask("127.0.0.1", port, "p1", i, 10, ASK)
        threads = [threading.Thread(target=ask, args=(i,)) for i in (1, 2)]
        before = time.time()
        threads[0].start()
        time.sleep(0.3)          # party 2 comes late: nothing is chosen before it asks
        threads[1].start()
        self.assertEqual(sorted(b.gather({"wait": True}, "ask", 10)), [1, 2])
        start_at = b.release(lead_s=1.0)
        for t in threads:
            t.join()
        self.assertGreaterEqual(start_at, before + 1.3)
        self.assertEqual(answers[1]["start_at"], start_at)
        self.assertEqual(answers[2]["start_at"], start_at)

    def test_idle_points_hold_first_and_report_what_they_hold(self):
        b, port = self.barrier("p5", 2)
        answers = {}

        def party(i):
            first = barrier.ask("127.0.0.1", port, "p5", i, 10, ASK, ("hold", "start_at", "failed"))
            answers[i] = (first, barrier.ask("127.0.0.1", port, "p5", i, 10, {"held": 10 * i, "answered": i}))
        threads = [threading.Thread(target=party, args=(i,)) for i in (1, 2)]
        for t in threads:
            t.start()
        b.gather({"hold": True}, "ask", 10)
        reports = b.gather({"hold": True}, "held", 10)
        start_at = b.release(lead_s=1.0)
        for t in threads:
            t.join()
        self.assertEqual({p: r["held"] for p, r in reports.items()}, {1: 10, 2: 20})
        for i in (1, 2):
            self.assertTrue(answers[i][0]["hold"])
            self.assertEqual(answers[i][1]["start_at"], start_at)

    def test_a_silent_party_is_named(self):
        b, port = self.barrier("p2", 2)
        t = threading.Thread(target=barrier.ask, args=("127.0.0.1", port, "p2", 1, 3, ASK))
        t.start()
        with self.assertRaises(barrier.BarrierTimeout) as caught:
            b.gather({"wait": True}, "ask", 1.0)
        self.assertEqual(caught.exception.silent, [2])
        t.join()

    def test_a_failed_server_is_told_and_another_points_packets_ignored(self):
        b, port = self.barrier("p3", 1)
        got = {}
        t = threading.Thread(target=lambda: got.update(barrier.ask("127.0.0.1", port, "p3", 1, 10, ASK)))
        stale = threading.Thread(target=lambda: got.update(
            other=barrier.ask("127.0.0.1", port, "p0", 1, 1, ASK)))
        t.start()
        stale.start()
        b.fail("server did not start: bind failed", linger_s=5)
        t.join()
        stale.join()
        self.assertEqual(got["failed"], "server did not start: bind failed")
        self.assertIn("no answer from the start barrier", got["other"]["failed"])

    def test_no_server_is_a_clear_failure(self):
        answer = barrier.ask("127.0.0.1", free_udp_port(), "p4", 1, 0.5, ASK)
        self.assertIn("UDP port", answer["failed"])


class ClockTest(unittest.TestCase):
    def test_offset_on_one_machine_is_near_zero(self):
        port = free_udp_port()
        served = threading.Thread(target=clocksync.serve, args=(port, 1, 10))
        with redirect_stdout(io.StringIO()):
            served.start()
            out = io.StringIO()
            with redirect_stdout(out):
                self.assertEqual(clocksync.measure("127.0.0.1", port, 20, 5), 0)
            served.join()
        # The server's own line may land in the same (process-wide) stdout.
        m = next(json.loads(line) for line in out.getvalue().splitlines() if "offset_s" in line)
        self.assertEqual(m["samples"], 20)
        self.assertLess(abs(m["offset_s"]), 0.005)
        self.assertLessEqual(m["uncertainty_s"], m["rtt_s"])


class StopRunTest(unittest.TestCase):
    def setUp(self):
        self.tmp = Path(tempfile.mkdtemp())
        for mod in (hostlib, stop_run.hostlib):
            patcher = mock.patch.object(mod, "PIDS", self.tmp)
            patcher.start()
            self.addCleanup(patcher.stop)

    def test_recorded_processes_are_stopped_with_their_group(self):
        proc = subprocess.Popen(["sh", "-c", "sleep 60 & wait"], start_new_session=True)
        self.addCleanup(lambda: proc.poll() is None and os.killpg(proc.pid, signal.SIGKILL))
        hostlib.record_pid("server", proc.pid)
        time.sleep(0.1)
        with redirect_stdout(io.StringIO()) as out:
            stop_run.main([])
        self.assertEqual(json.loads(out.getvalue())["stopped"]["server"]["pid"], proc.pid)
        self.assertIsNotNone(proc.wait(5))
        self.assertEqual(list(self.tmp.glob("*.pid")), [])

    def test_a_reused_pid_is_left_alone(self):
        # Our own pid with another start time: what a reused pid looks like.
        hostlib.write_json(self.tmp / "loadgen.pid", {"pid": os.getpid(), "start": "1", "root": "x"})
        with redirect_stdout(io.StringIO()) as out:
            stop_run.main([])
        self.assertEqual(json.loads(out.getvalue())["changed"], [])
        self.assertFalse((self.tmp / "loadgen.pid").exists())


def _context(run: Path, connections: int, clients: int, cpus: int, scenario="hello", x=None):
    pt = make_point(PROFILES["smoke"], scenario, "epoll", x if x is not None else connections, 0)
    hosts = {"server": {"name": "a", "info": {"cpus": [0, 1]}},
             "clients": [{"name": f"c{i}", "info": {"cpus": list(range(cpus))}} for i in range(clients)],
             "context": {"profile": "smoke", "open_rates": [0.5], "equal_load": [0.5], "client_threads": cpus,
                         "specs": {"epoll": {"label": "epoll", "argv": ["server-epoll", "--reactors", "1"],
                                             "listen_any": ["--host", "0.0.0.0"], "cpus": "one",
                                             "announces": True}},
                         "points": {pt.id: asdict(pt)}}}
    planning.save_hosts(run, hosts)
    return pt


class PrepareTest(unittest.TestCase):
    def setUp(self):
        self.run = Path(tempfile.mkdtemp())

    def prepare(self, connections, clients, cpus, **kw):
        pt = _context(self.run, connections, clients, cpus, **kw)
        return planning.prepare(self.run, pt.id, "http://10.0.0.1:8080", 2.0)

    def test_shards_never_outnumber_connections(self):
        p = self.prepare(1, 3, 2)
        self.assertEqual((p["shards"], p["shard_hosts"]), (1, ["c0"]))

    def test_one_line_for_every_shard_with_totals(self):
        p = self.prepare(50, 2, 4)
        cmd = p["loadgen_command"]
        self.assertEqual(cmd[0], "loadgen")
        self.assertEqual(cmd[cmd.index("-c") + 1], "50")       # the total: --shard takes the part
        self.assertEqual(cmd[cmd.index("-t") + 1], "4")
        self.assertNotIn("--json", cmd)                        # each host names its own file
        self.assertEqual(cmd[-1], "http://10.0.0.1:8080/hello")
        self.assertEqual(p["server_argv"][:3], ["server-epoll", "--port", "8080"])
        self.assertIn("0.0.0.0", p["server_argv"])
        self.assertEqual(p["server_cpus"], "0")

    def test_idle_connections_are_spread_over_every_client_host(self):
        p = self.prepare(1, 2, 1, scenario="idle", x=200)
        self.assertEqual(p["parties"], [{"host": "c0", "shard": 1, "idle": 100},
                                        {"host": "c1", "shard": 0, "idle": 100}])
        self.assertEqual(p["idle_url"], "http://10.0.0.1:8080/hello")
        self.assertGreater(p["idle_timeout_s"], 0)

    def test_stall_brings_its_background_load(self):
        p = self.prepare(8, 2, 1, scenario="stall", x=20000)
        bg = p["background_command"]
        self.assertEqual((bg[0], bg[-1]), ("loadgen", "http://10.0.0.1:8080/cpu/20000"))
        self.assertNotIn("--json", bg)
        self.assertEqual([q["shard"] for q in p["parties"]], [1, 2])

    def test_threads_fit_the_smallest_shard(self):
        self.assertEqual(self.prepare(3, 2, 4)["loadgen_command"][4], "1")

    def test_open_loop_without_a_hello_point_is_recorded_as_skipped(self):
        pt = _context(self.run, 100, 2, 1, scenario="open-loop", x=0.5)
        out = planning.prepare(self.run, pt.id, "http://10.0.0.1:8080", 2.0)
        self.assertTrue(out["skip"])
        info = json.loads(next((self.run / "points").glob("open-loop__*/point.json")).read_text())
        self.assertEqual(info["status"], "skipped")
        self.assertIn("open-loop rates", info["reason"])


class GatherTest(unittest.TestCase):
    def test_the_busiest_client_host_stands_for_the_client_side(self):
        acc = {"window": {}, "cpus": {"server": [0], "client": []},
               "per_cpu": {"0": {"user_s": 0.5, "idle_s": 0.5}}, "client": {}}
        shards = [(h, {"cpus": [1], "accounting": {
            "client": {"method": "schedstat", "cpu_s": cpu}, "cpus": [1],
            "window": {"start_monotonic_ns": 0, "end_monotonic_ns": 10**9},
            "per_cpu": {"1": {"user_s": cpu, "idle_s": 1 - cpu}}}}) for h, cpu in (("b", 0.3), ("c", 0.95))]
        out = gather.accounting(acc, shards, {"window": {"start_unix_s": 1}})
        self.assertEqual(out["client"]["host"], "c")
        self.assertEqual(out["cpus"]["client"], ["c:1"])
        self.assertEqual(len(out["client_hosts"]), 2)
        cols = saturation.columns(out)
        self.assertEqual(cols["client_cpus_busy"], 0.95)
        self.assertEqual(cols["saturation"], "client-bound")

    def test_a_server_that_did_not_start_fails_the_point(self):
        run = Path(tempfile.mkdtemp())
        pt = _context(run, 50, 2, 1)
        planning.prepare(run, pt.id, "http://10.0.0.1:8080", 2.0)
        pdir = run / "points" / pt.id
        (pdir / "hosts").mkdir()
        data = json.dumps({"role": "server", "status": "failed", "cpus": [0],
                           "reason": "server did not start: bind: address in use"}).encode()
        with tarfile.open(pdir / "hosts" / "a.tgz", "w:gz") as tar:
            info = tarfile.TarInfo("server.json")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
        out = gather.finish(run, pt.id, Path("/nonexistent/loadgen"))
        self.assertEqual(out["status"], "failed")
        self.assertIn("address in use", out["reason"])
        self.assertTrue((pdir / "hosts" / "a" / "server.json").exists())
        self.assertFalse((pdir / "hosts" / "a.tgz").exists())

    def test_an_archive_with_paths_is_refused(self):
        pdir = Path(tempfile.mkdtemp())
        (pdir / "hosts").mkdir()
        with tarfile.open(pdir / "hosts" / "x.tgz", "w:gz") as tar:
            info = tarfile.TarInfo("../escape.json")
            tar.addfile(info, io.BytesIO(b""))
        with self.assertRaises(ValueError):
            gather.unpack(pdir)
        self.assertFalse((pdir.parent / "escape.json").exists())


if __name__ == "__main__":
    unittest.main()
