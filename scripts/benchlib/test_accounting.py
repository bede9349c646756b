"""The window accounting's readers on fixture files (testdata/cgroup/,
testdata/proc/), and the same readers against this kernel: a process that
burns a known CPU time inside a point's cgroup (v1 and, where mounted, v2)
must be counted for it, with its threads and children.

    cd scripts && /usr/bin/python3 -m unittest benchlib.test_accounting -v
"""
from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
import unittest
from pathlib import Path

from . import accounting, cgroups, procfs, window

DATA = Path(__file__).resolve().parent / "testdata"
CG = DATA / "cgroup"
PROC = DATA / "proc"


class CgroupReaders(unittest.TestCase):
    def test_v1_cpuacct(self):
        u = cgroups.read_cpu_v1(CG / "v1" / "cpuacct")
        self.assertEqual((u.total_ns, u.user_ns, u.system_ns), (328664496, 71739925, 271510495))

    def test_v1_memory(self):
        m = cgroups.read_memory_v1(CG / "v1" / "memory")
        self.assertEqual((m.peak_bytes, m.current_bytes), (24899584, 24899584))

    def test_v2_cpu_stat_in_microseconds(self):
        u = cgroups.read_cpu_v2(CG / "v2")
        self.assertEqual((u.total_ns, u.user_ns, u.system_ns), (318136000, 79537000, 238598000))

    def test_v2_memory_peak_and_current(self):
        m = cgroups.read_memory_v2(CG / "v2")
        self.assertEqual((m.peak_bytes, m.current_bytes), (26214400, 25165824))

    def test_v2_before_memory_peak_existed(self):
        m = cgroups.read_memory_v2(CG / "v2-no-peak")
        self.assertEqual((m.peak_bytes, m.current_bytes), (None, 4096000))

    def test_missing_counter_is_an_error_not_a_zero(self):
        with self.assertRaises(OSError):
            cgroups.read_cpu_v1(CG / "v1" / "memory")
        with self.assertRaises(OSError):
            cgroups.read_cpu_v2(CG / "v1" / "cpuacct")


class CgroupPlaces(unittest.TestCase):
    def places(self, mountinfo: str, proc_cgroup: str, version: int) -> dict:
        v2, v1 = cgroups.parse_mountinfo((CG / mountinfo).read_text())
        own = cgroups.parse_proc_cgroup((CG / proc_cgroup).read_text())
        return {k: str(v) for k, v in cgroups.base_parents(version, v2, v1, own).items()}

    def test_this_machine_v1_below_our_own_groups(self):
        self.assertEqual(self.places("mountinfo-v1-hybrid.txt", "proc-cgroup-v1-hybrid.txt", 1),
                         {"cpu": "/sys/fs/cgroup/cpuacct",
                          "memory": "/sys/fs/cgroup/memory/process_api/1bacd0dbf91026b5138afa7ce68413aa"})

    def test_hybrid_machine_also_has_v2(self):
        self.assertEqual(self.places("mountinfo-v1-hybrid.txt", "proc-cgroup-v1-hybrid.txt", 2),
                         {"cpu": "/sys/fs/cgroup/unified", "memory": "/sys/fs/cgroup/unified"})

    def test_debian12_v2_beside_our_session(self):
        self.assertEqual(self.places("mountinfo-v2.txt", "proc-cgroup-v2.txt", 2)["cpu"],
                         "/sys/fs/cgroup/user.slice/user-1000.slice")
        self.assertEqual(self.places("mountinfo-v2.txt", "proc-cgroup-v2.txt", 1), {})

    def test_container_mount_root_is_stripped(self):
        # cpu and cpuacct co-mounted, the container's group shown as the mount's root.
        self.assertEqual(self.places("mountinfo-v1-container.txt", "proc-cgroup-v1-container.txt", 1),
                         {"cpu": "/sys/fs/cgroup/cpu,cpuacct", "memory": "/sys/fs/cgroup/memory"})

    def test_join_wrapper_joins_then_runs_the_command(self):
        with tempfile.TemporaryDirectory() as tmp:
            g = cgroups.Group(1, Path(tmp) / "cpu", Path(tmp) / "mem")
            argv = g.wrap(["sh", "-c", "echo ran $$"])
            self.assertEqual(argv[:2], ["sh", "-c"])
            done = subprocess.run(argv, capture_output=True, text=True)
            self.assertEqual(done.returncode, 0, done.stderr)
            pid = done.stdout.split()[1]
            # Both "cgroup.procs" got the pid of the process that then ran the command.
            self.assertEqual((Path(tmp) / "cpu" / "cgroup.procs").read_text().strip(), pid)
            self.assertEqual((Path(tmp) / "mem" / "cgroup.procs").read_text().strip(), pid)

    def test_a_group_it_cannot_join_stops_the_command(self):
        with tempfile.TemporaryDirectory() as tmp:
            g = cgroups.Group(1, Path(tmp) / "cpu", None)
            (Path(tmp) / "cpu" / "cgroup.procs").mkdir()   # not writable as a file
            done = subprocess.run(g.wrap(["echo", "ran"]), capture_output=True, text=True)
        self.assertEqual(done.returncode, 125)
        self.assertNotIn("ran", done.stdout)
        self.assertIn("cannot join cgroup", done.stderr)


class ProcReaders(unittest.TestCase):
    def test_proc_stat_per_cpu(self):
        stat = procfs.parse_proc_stat((PROC / "stat-2cpu.txt").read_text())
        self.assertEqual(sorted(stat), [0, 1])
        self.assertEqual(stat[0], [69698, 12591, 17284, 425964, 2851, 0, 2974, 259])

    def test_per_cpu_delta_in_seconds(self):
        before = procfs.parse_proc_stat((PROC / "stat-2cpu.txt").read_text())
        after = {cpu: [v + 100 * (i + 1) for i, v in enumerate(vals)] for cpu, vals in before.items()}
        d = procfs.per_cpu_delta(before, after, [1])
        self.assertEqual(list(d), ["1"])
        hz = procfs.USER_HZ
        self.assertAlmostEqual(d["1"]["user_s"], 100 / hz)
        self.assertAlmostEqual(d["1"]["softirq_s"], 700 / hz)
        self.assertAlmostEqual(d["1"]["steal_s"], 800 / hz)
        self.assertEqual(set(d["1"]), {f"{f}_s" for f in procfs.PROC_STAT_FIELDS})

    def test_schedstat_is_nanoseconds_on_cpu(self):
        self.assertEqual(procfs.parse_schedstat((PROC / "schedstat.txt").read_text()), 27331563)

    def test_stat_ticks_with_parentheses_in_the_name(self):
        self.assertEqual(procfs.parse_stat_ticks((PROC / "stat-pid.txt").read_text()), (1234, 567))

    def test_status_fields(self):
        st = procfs.parse_status((PROC / "status.txt").read_text(),
                                 ("VmRSS", "Threads", "nonvoluntary_ctxt_switches"))
        self.assertEqual(st, {"VmRSS": 10408, "Threads": 2, "nonvoluntary_ctxt_switches": 12})


class Deltas(unittest.TestCase):
    def test_sweep_counts_threads_that_started_inside(self):
        a = procfs.Sweep(run_ns={(1, 1): 100}, ctx={(1, 1): (5, 1)})
        b = procfs.Sweep(run_ns={(1, 1): 300, (1, 2): 50}, ctx={(1, 1): (8, 2), (1, 2): (4, 0)})
        d = procfs.sweep_delta(a, b)
        self.assertEqual((d.run_ns, d.voluntary, d.involuntary, d.lost), (250, 7, 1, 0))

    def test_sweep_with_a_thread_gone_is_a_lower_bound(self):
        a = procfs.Sweep(run_ns={(1, 1): 100, (1, 2): 10}, ctx={(1, 1): (5, 1), (1, 2): (1, 1)})
        b = procfs.Sweep(run_ns={(1, 1): 300}, ctx={(1, 1): (8, 2)})
        d = procfs.sweep_delta(a, b)
        self.assertEqual((d.run_ns, d.voluntary, d.involuntary, d.lost), (200, 3, 1, 1))
        self.assertFalse(d.exact)

    def test_tick_split_scaled_to_the_exact_total(self):
        a = {"total_ns": 0, "user_ns": 0, "system_ns": 0}
        b = {"total_ns": 300_000_000, "user_ns": 40_000_000, "system_ns": 160_000_000}
        d = accounting.cpu_delta(a, b)
        self.assertAlmostEqual(d["cpu_s"], 0.3)
        self.assertAlmostEqual(d["user_s"], 0.06)
        self.assertAlmostEqual(d["system_s"], 0.24)

    def test_no_split_without_it(self):
        d = accounting.cpu_delta({"total_ns": 5, "user_ns": None, "system_ns": None},
                                 {"total_ns": 1_000_000_005, "user_ns": None, "system_ns": None})
        self.assertEqual((d["cpu_s"], d["user_s"], d["system_s"]), (1.0, None, None))


class WindowLine(unittest.TestCase):
    """window.await_window as the point runner uses it: one or several
    load generators' lines, or an estimate for an older one."""

    def test_union_of_several_loadgens(self):
        now = time.monotonic_ns()
        w = window.await_window(lambda: ["window monotonic_ns 100 900\n", "window monotonic_ns 90 950\n"],
                                now, 0.5, 1.0)
        self.assertEqual((w.start_ns, w.end_ns, w.source), (90, 950, "loadgen-line"))
        self.assertEqual(w.parts, [[100, 900], [90, 950]])

    def test_waits_for_every_loadgen(self):
        outs = iter([["window monotonic_ns 100 900\n", ""]] * 3
                    + [["window monotonic_ns 100 900\n", "window monotonic_ns 90 950\n"]])
        w = window.await_window(lambda: next(outs), time.monotonic_ns(), 0.5, 1.0)
        self.assertEqual((w.start_ns, w.end_ns), (90, 950))

    def test_open_end_is_the_planned_duration(self):
        w = window.await_window(lambda: ["window monotonic_ns 100 open\n"], time.monotonic_ns(), 0.5, 2.0)
        self.assertEqual(w.end_ns, 100 + 2_000_000_000)

    def test_older_loadgen_gets_an_estimate_from_its_running_line(self):
        launched = time.monotonic_ns()
        w = window.await_window(lambda: ["Running 1000ms test @ x\n"], launched, 0.3, 1.0, grace_s=0.01)
        self.assertEqual(w.source, "estimated")
        self.assertEqual(w.end_ns - w.start_ns, 1_000_000_000)
        self.assertGreaterEqual(w.start_ns, launched + 300_000_000)
        # It gave up a grace after the Running line: the start is still ahead.
        self.assertLess(time.monotonic_ns(), w.start_ns)

    def test_silent_or_dead_loadgen_estimated_from_the_launch(self):
        launched = time.monotonic_ns()
        w = window.await_window(lambda: [""], launched, 0.3, 1.0, timeout_s=0.02)
        self.assertEqual((w.source, w.start_ns), ("estimated", launched + 300_000_000))
        t0 = time.monotonic()
        w = window.await_window(lambda: [""], launched, 0.3, 1.0, alive=lambda: False)
        self.assertLess(time.monotonic() - t0, 0.5)
        self.assertEqual(w.source, "estimated")


BURN = ("import os, threading, time\n"
        "def burn(s):\n"
        "    t = time.thread_time()\n"
        "    while time.thread_time() - t < s: pass\n"
        "ts = [threading.Thread(target=burn, args=(0.1,)) for _ in range(3)]\n"
        "[t.start() for t in ts]; [t.join() for t in ts]\n"
        "if os.fork() == 0:\n"
        "    burn(0.1); os._exit(0)\n"
        "os.wait()\n")


class LiveCgroups(unittest.TestCase):
    """Against this kernel: 3 threads that exit and a child process, 0.4 s
    of CPU in all, all gone before the second read."""

    def measure(self, want: str):
        groups, why = cgroups.setup(want)
        if groups is None:
            self.skipTest(f"{want} not usable here: {why}")
        try:
            g = groups.group("test")
            before = g.cpu()
            proc = subprocess.run(g.wrap([sys.executable, "-c", BURN]), timeout=30)
            self.assertEqual(proc.returncode, 0)
            after = g.cpu()
            used = (after.total_ns - before.total_ns) / 1e9
            mem = g.memory()
            self.assertTrue(g.remove())
            return used, mem
        finally:
            groups.close()

    def test_v1_counts_threads_and_children_that_came_and_went(self):
        used, mem = self.measure("cgroup-v1")
        self.assertGreaterEqual(used, 0.4)
        self.assertLess(used, 2.0)
        self.assertIsNotNone(mem)
        self.assertGreater(mem.peak_bytes, 1 << 20)

    def test_v2_counts_threads_and_children_that_came_and_went(self):
        used, _ = self.measure("cgroup-v2")
        self.assertGreaterEqual(used, 0.4)
        self.assertLess(used, 2.0)

    def test_no_base_left_behind(self):
        groups, why = cgroups.setup("auto")
        if groups is None:
            self.skipTest(why)
        base = groups.cpu_base
        groups.group("x")
        groups.close()
        self.assertFalse(base.exists())


class LiveSweep(unittest.TestCase):
    def test_schedstat_and_switches_of_this_process(self):
        a = procfs.sweep([os.getpid()], run_time=True, ctx=True)
        t = time.thread_time()
        while time.thread_time() - t < 0.05:
            pass
        time.sleep(0.01)   # at least one voluntary switch
        b = procfs.sweep([os.getpid()], run_time=True, ctx=True)
        d = procfs.sweep_delta(a, b)
        self.assertGreaterEqual(d.run_ns, 50_000_000)
        self.assertGreaterEqual(d.voluntary, 1)


if __name__ == "__main__":
    unittest.main()
