"""Unit tests of "where the time goes" (issue 17): the folding of a recorded
`perf script` sample, the parsing of recorded `perf stat` and schedstat
output, the skip path when perf is missing or refused, the report section
on fixture data, and the flame graph drawings. No perf needed: everything
runs on files checked in under testdata/perf/.

  /usr/bin/python3 -m unittest discover -s scripts/benchlib -p test_perf.py
"""
from __future__ import annotations

import csv
import json
import os
import shutil
import stat
import subprocess
import sys
import tempfile
import time
import unittest
import xml.etree.ElementTree as ET
from collections import Counter
from pathlib import Path
from unittest import mock

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchlib import (cgroups, flamegraph, flamepng, flamesvg, perfcount, perfctl,  # noqa: E402
                      perftarget, profilerec, rundelay, timegoes, window)

DATA = Path(__file__).resolve().parent / "testdata" / "perf"


class FoldTest(unittest.TestCase):
    """The folding of perf script output recorded from server-epoll and
    server-threaded (hello, 100 connections, Release with frame pointers;
    testdata/perf/README.md)."""

    def setUp(self):
        self.text = (DATA / "script-hello.txt").read_text()
        self.folded = flamegraph.fold(self.text.splitlines(keepends=True))

    def test_every_sample_is_kept_with_its_period(self):
        headers = [l for l in self.text.splitlines() if l and not l[0].isspace()]
        periods = sum(int(h.split()[-1]) for h in headers)
        self.assertGreater(len(headers), 20)
        self.assertEqual(sum(self.folded.values()), periods)

    def test_stacks_are_root_first_under_the_command(self):
        # The first sample of the file, folded by hand: leaf last, kernel
        # frames marked, the broken frame-pointer address dropped.
        block = self.text.split("\n\n")[0].splitlines()
        frames = [l.split(None, 1)[1].rsplit(" (", 1) for l in block[1:]]
        expected = [block[0].split()[0]]
        for sym, dso in reversed(frames):
            dso = dso.rstrip(")")
            if sym == "[unknown]" and dso == "[unknown]":
                continue
            expected.append(sym + ("_[k]" if dso.startswith("[kernel") else ""))
        self.assertIn(";".join(expected), self.folded)

    def test_no_garbage_frames_and_no_separator_inside_names(self):
        for stack in self.folded:
            frames = stack.split(";")
            self.assertIn(frames[0], ("server-epoll", "server-threaded"))
            self.assertNotIn("[unknown]", frames)
            self.assertTrue(all(f and " " not in f for f in frames[:1]))

    def test_our_own_frames_are_named(self):
        # Frame pointers: the event loop's functions appear below libc's.
        ours = {f for s in self.folded for f in s.split(";") if "iomodels" in f or "EventLoop" in f
                or "Connection" in f}
        self.assertTrue(ours, "no frame of the server's own code in the folded stacks")

    def test_round_trip_through_the_folded_file(self):
        with tempfile.TemporaryDirectory() as d:
            path = Path(d) / "x.folded"
            flamegraph.write_folded(self.folded, path)
            self.assertEqual(flamegraph.read_folded(path), self.folded)

    def test_categories_add_up_and_find_the_syscalls(self):
        cats = flamegraph.by_category(self.folded)
        self.assertEqual(sum(cats.values()), sum(self.folded.values()))
        for c in ("read", "write", "softirq", "user"):
            self.assertGreater(cats[c], 0, c)
        self.assertEqual(cats["futex"], 0)


class ClassifyTest(unittest.TestCase):
    K = "_[k]"

    def stack(self, user, kernel):
        return ";".join(["srv"] + user + [k + self.K for k in kernel])

    def test_rules(self):
        c = flamegraph.classify
        self.assertEqual(c(self.stack(["main", "parse"], [])), "user")
        # This kernel: do_syscall_64 calls ksys_read directly.
        self.assertEqual(c(self.stack(["read"], ["entry_SYSCALL_64_after_hwframe", "do_syscall_64",
                                                 "ksys_read", "vfs_read"])), "read")
        # Others: x64_sys_call and __x64_sys_* wrappers first.
        self.assertEqual(c(self.stack(["epoll_wait"], ["do_syscall_64", "x64_sys_call",
                                                       "__x64_sys_epoll_wait", "do_epoll_wait"])),
                         "epoll_wait")
        self.assertEqual(c(self.stack(["__libc_writev"], ["do_syscall_64", "do_writev"])), "write")
        # A wrapper the table does not know: the libc name the user side called.
        self.assertEqual(c(self.stack(["__GI___libc_write"], ["do_syscall_64", "mystery_fn"])), "write")
        self.assertEqual(c(self.stack(["syscall"], ["do_syscall_64", "mystery_fn"])), "other syscalls")
        self.assertEqual(c(self.stack(["read"], ["do_syscall_64", "ksys_read", "schedule",
                                                 "__schedule"])), "scheduler")
        self.assertEqual(c(self.stack(["write"], ["do_syscall_64", "ksys_write", "__local_bh_enable_ip",
                                                  "handle_softirqs", "net_rx_action"])), "softirq")
        self.assertEqual(c(self.stack(["memcpy"], ["asm_exc_page_fault", "handle_mm_fault"])),
                         "kernel other")
        self.assertEqual(c(self.stack(["futex_wait"], ["do_syscall_64", "__x64_sys_futex",
                                                       "do_futex"])), "futex")


    def test_kernel_only_lines_up_write_and_writev(self):
        a = Counter({self.stack(["main", "__GI___libc_write"], ["entry_SYSCALL_64_after_hwframe",
                     "do_syscall_64", "ksys_write", "vfs_write", "sock_write_iter", "tcp_sendmsg"]): 5,
                     self.stack(["main"], []): 2})
        b = Counter({self.stack(["run", "__writev"], ["entry_SYSCALL_64_after_hwframe",
                     "do_syscall_64", "do_writev", "vfs_writev", "do_iter_readv_writev",
                     "sock_write_iter", "tcp_sendmsg"]): 7,
                     self.stack(["x"], ["asm_sysvec_apic_timer_interrupt", "irq_exit_rcu"]): 1})
        self.assertEqual(flamegraph.kernel_only(a),
                         Counter({"write (syscall);tcp_sendmsg_[k]": 5, "[user]": 2}))
        self.assertEqual(flamegraph.kernel_only(b),
                         Counter({"write (syscall);tcp_sendmsg_[k]": 7,
                                  "asm_sysvec_apic_timer_interrupt_[k];irq_exit_rcu_[k]": 1}))
        self.assertEqual(flamegraph.kernel_self(b), Counter({"tcp_sendmsg": 7, "irq_exit_rcu": 1}))


class PerfStatParsingTest(unittest.TestCase):
    """perf stat -x, output recorded against server-epoll (hello, 100
    connections) over a 2 s window."""

    def setUp(self):
        self.values = perfcount.parse_perf_stat_csv((DATA / "stat-epoll-hello.csv").read_text())
        self.doc = perfcount.counts_from_stat(self.values)

    def test_values(self):
        self.assertEqual(self.values["syscalls:sys_enter_read"], 133528)
        self.assertAlmostEqual(self.values["task-clock"], 1115.40, places=2)

    def test_not_counted(self):
        values = perfcount.parse_perf_stat_csv((DATA / "stat-not-counted.csv").read_text())
        self.assertEqual(values, {"task-clock": None})
        self.assertIsNone(perfcount.counts_from_stat(values)["task_clock_s"])

    def test_cgroup_column(self):
        values = perfcount.parse_perf_stat_csv((DATA / "stat-epoll-hello-cgroup.csv").read_text())
        doc = perfcount.counts_from_stat(values)
        self.assertEqual(doc["syscalls"]["by_name"]["read"], 172609)
        self.assertEqual(doc["context_switches"]["involuntary"], 304)
        self.assertAlmostEqual(doc["task_clock_s"], 1.56276, places=5)

    def test_counts(self):
        sc = self.doc["syscalls"]
        self.assertEqual(sc["total"], 286285)
        named = sum(v for v in sc["by_name"].values() if v is not None)
        self.assertEqual(sc["other"], sc["total"] - named)
        cs = self.doc["context_switches"]
        self.assertEqual(cs["voluntary"] + cs["involuntary"], cs["total"])
        self.assertEqual(cs["involuntary"], 112)
        self.assertAlmostEqual(self.doc["task_clock_s"], 1.1154, places=4)

    def test_per_request(self):
        doc = dict(self.doc, status="ok", counted_s=2.0)
        cols = perfcount.per_request_columns(doc, 133370, 2.0)
        self.assertEqual(cols["syscalls_scope"], "all")
        self.assertAlmostEqual(cols["syscalls_per_req"], 286285 / 133370, places=3)
        self.assertAlmostEqual(cols["sys_read_per_req"], 133528 / 133370, places=3)
        self.assertAlmostEqual(cols["sys_epoll_wait_per_req"], 19128 / 133370, places=3)
        self.assertEqual(cols["sys_futex_per_req"], 0)
        # A late edge: 1 % more counted than the loadgen's window, so 1 %
        # more requests in it.
        later = perfcount.per_request_columns(dict(doc, counted_s=2.02), 133370, 2.0)
        self.assertAlmostEqual(later["syscalls_per_req"], cols["syscalls_per_req"] / 1.01, places=3)
        self.assertEqual(perfcount.per_request_columns(doc, 0)["syscalls_per_req"], "")

    def test_light_level(self):
        """Recorded at the light level: read and write from /proc/PID/io's
        syscr and syscw (their differences over the same window: 226510
        each), the rarer names by tracepoint, no total."""
        values = perfcount.parse_perf_stat_csv((DATA / "stat-epoll-hello-light.csv").read_text())
        self.assertNotIn("syscalls:sys_enter_read", values)
        self.assertNotIn(perfcount.TOTAL_EVENT, values)
        doc = perfcount.counts_from_stat(values, {"syscr": 226510, "syscw": 226510})
        sc = doc["syscalls"]
        self.assertIsNone(sc["total"])
        self.assertIsNone(sc["other"])
        self.assertEqual(sc["groups"]["read"], 226510)
        self.assertEqual(sc["groups"]["write"], 226510)
        self.assertEqual(sc["groups"]["epoll_wait"], 36079)
        self.assertEqual(sc["named"], 2 * 226510 + 36079 + 86)
        self.assertEqual(sc["missing"], [])
        cols = perfcount.per_request_columns(dict(doc, status="ok"), 226580)
        self.assertEqual(cols["syscalls_scope"], "named")
        self.assertAlmostEqual(cols["syscalls_per_req"], sc["named"] / 226580, places=3)
        self.assertEqual(cols["sys_other_per_req"], "")

    def test_light_events_leave_out_the_frequent_calls(self):
        every = set(perfcount.TRACEPOINTS)
        light = perfcount.perf_stat_events(every, "light")
        full = perfcount.perf_stat_events(every, "full")
        for ev in ("syscalls:sys_enter_read", "syscalls:sys_enter_writev", perfcount.TOTAL_EVENT):
            self.assertNotIn(ev, light)
            self.assertIn(ev, full)
        self.assertIn("syscalls:sys_enter_epoll_wait", light)
        with self.assertRaises(ValueError):
            perfcount.Counting(1, Path("."), level="heavy",
                               availability=perfctl.Availability(None, False, False, "x"))

    def test_whole_cpus_count_the_syscalls_only(self):
        """Counting the server's CPUs whole: the task clock and the switches
        would count the idle task and anything else there, so only the
        syscall tracepoints are asked for, and no cgroup filter."""
        every = set(perfcount.TRACEPOINTS)
        light = perfcount.perf_stat_events(every, "light")
        whole = perfcount.perf_stat_events(every, "light", whole_cpus=True)
        for ev in ("task-clock", "context-switches", perfcount.SWITCH_EVENT):
            self.assertIn(ev, light)
            self.assertNotIn(ev, whole)
        self.assertEqual([e for e in light if e.startswith("syscalls:")],
                         [e for e in whole if e.startswith("syscalls:")])
        t = perftarget.whole_cpus([5, 6], [0, 2])
        self.assertEqual((t.mode, t.perf_args(3)), ("cpus", (["-a", "-C", "0,2"], [])))
        self.assertEqual(t.as_json()["mode"], "cpus")
        t.release()   # nothing was made: nothing to undo
        # Its counts come without task clock or switches: null, not zero.
        values = perfcount.parse_perf_stat_csv((DATA / "stat-epoll-hello-light.csv").read_text())
        values = {k: v for k, v in values.items() if k.startswith("syscalls:")}
        doc = perfcount.counts_from_stat(values, {"syscr": 1000, "syscw": 1000})
        self.assertEqual(doc["context_switches"], {"total": None, "involuntary": None, "voluntary": None})
        self.assertIsNone(doc["task_clock_s"])
        self.assertEqual(doc["syscalls"]["groups"]["read"], 1000)

    def test_vfs_counts_of_a_live_process(self):
        before = perfcount.read_vfs_counts([os.getpid()])
        with open(__file__) as f:
            f.read(1)
        after = perfcount.read_vfs_counts([os.getpid()])
        self.assertGreaterEqual(after["syscr"] - before["syscr"], 1)
        self.assertIsNone(perfcount.read_vfs_counts([2 ** 22 + 12345]))

    def test_events_follow_what_the_kernel_has(self):
        args = perfcount.perf_stat_events({"raw_syscalls:sys_enter", "syscalls:sys_enter_read"})
        self.assertIn("syscalls:sys_enter_read", args)
        self.assertNotIn("syscalls:sys_enter_write", args)
        self.assertNotIn("--filter", args)  # no sched_switch here


class SchedstatTest(unittest.TestCase):
    def test_proc_schedstat(self):
        per = rundelay.parse_proc_schedstat((DATA / "schedstat-v15.txt").read_text())
        self.assertEqual(sorted(per), [0, 1])
        self.assertEqual(per[0], (1183419233456, 96321000123))
        self.assertIsNone(rundelay.parse_proc_schedstat("version 14\ncpu0 1 2 3\n"))
        self.assertIsNone(rundelay.parse_proc_schedstat(""))

    def test_cpus(self):
        self.assertEqual(rundelay.parse_cpus("0-2,5"), [0, 1, 2, 5])
        self.assertEqual(rundelay.parse_cpus("1"), [1])

    def snap(self, t, cpu, tasks):
        return rundelay.Snapshot(t_ns=t, read_ns=0, per_cpu=cpu, tasks=tasks)

    def test_window_prefers_the_cpu_when_it_is_the_servers(self):
        ms = 1_000_000
        a = self.snap(0, {0: (0, 0)}, {"10": (0, 0), "11": (5 * ms, 5 * ms)})
        b = self.snap(10**9, {0: (900 * ms, 300 * ms)},
                      {"10": (850 * ms, 200 * ms), "12": (40 * ms, 50 * ms)})
        w = rundelay.window(a, b, server_cpu_s=0.89)
        self.assertEqual(w["method"], "schedstat-cpu")
        self.assertAlmostEqual(w["run_delay_s"], 0.3)
        self.assertAlmostEqual(w["foreign_share"], 0.01 / 0.9, places=4)
        self.assertEqual(w["tasks"]["threads_gone"], 1)
        self.assertEqual(w["tasks"]["threads_new"], 1)
        self.assertAlmostEqual(w["tasks"]["run_delay_s"], 0.25)
        # Another task ran on the server's CPU (half its time): the per-CPU
        # figure is not the server's, the threads' sum is used.
        w = rundelay.window(a, b, server_cpu_s=0.45)
        self.assertEqual(w["method"], "schedstat-task")
        self.assertAlmostEqual(w["run_delay_s"], 0.25)

    def test_window_without_per_cpu(self):
        a = self.snap(0, None, {"10": (0, 100_000)})
        b = self.snap(2 * 10**9, None, {"10": (10_000_000, 600_000)})
        w = rundelay.window(a, b)
        self.assertEqual(w["method"], "schedstat-task")
        self.assertAlmostEqual(w["run_delay_s"], 0.0005)
        self.assertAlmostEqual(w["span_s"], 2.0)

    def test_live_threads_are_read(self):
        snap = rundelay.snapshot([os.getpid()], [])
        self.assertIn(str(os.getpid()), snap.tasks)
        self.assertEqual(snap.threads_skipped, 0)

    def test_past_the_thread_limit_the_cpu_figure_stands_alone(self):
        """Thousands of threads: no per-thread read at the edges (it would
        take the client's CPU for a third of a second), the per-CPU delay
        is the figure even when something else ran there, and it says so."""
        big = rundelay.snapshot([os.getpid()], [0], max_threads=0)
        self.assertEqual(big.tasks, {})
        self.assertGreaterEqual(big.threads_skipped, 1)
        ms = 1_000_000
        a = rundelay.Snapshot(0, 0, {0: (0, 0)}, {}, threads_skipped=5000)
        b = rundelay.Snapshot(10**9, 0, {0: (900 * ms, 300 * ms)}, {}, threads_skipped=5000)
        w = rundelay.window(a, b, server_cpu_s=0.45)
        self.assertEqual((w["method"], w["tasks"]), ("schedstat-cpu", None))
        self.assertAlmostEqual(w["run_delay_s"], 0.3)
        self.assertIn("5000 threads", w["tasks_note"])


def fake_perf(dir_: Path, script: str) -> str:
    path = dir_ / "perf"
    path.write_text("#!/bin/sh\n" + script)
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return str(path)


class SkipPathTest(unittest.TestCase):
    def setUp(self):
        self.tmp = Path(tempfile.mkdtemp(prefix="iom-perf-test-"))

    def tearDown(self):
        shutil.rmtree(self.tmp, ignore_errors=True)

    def test_missing_perf(self):
        a = perfctl.probe(str(self.tmp / "no-such-perf"))
        self.assertFalse(a.counting or a.profiling)
        self.assertIn("not found", a.reason)
        self.assertIn("install-deps.sh", a.skip_line())

    def test_not_permitted(self):
        perf = fake_perf(self.tmp, 'case "$1" in version) echo "perf version 6.1";; *) '
                                   'echo "Error: Access to performance monitoring and observability '
                                   'operations is limited. Consider adjusting /proc/sys/kernel/'
                                   'perf_event_paranoid" >&2; exit 255;; esac\n')
        a = perfctl.probe(perf)
        self.assertFalse(a.counting or a.profiling)
        self.assertIn("not permitted", a.reason)
        self.assertIn("perf_event_paranoid", a.skip_line())

    def test_tracepoints_absent(self):
        perf = fake_perf(self.tmp, 'case "$1" in version) echo "perf version 6.1";; '
                                   '*) echo "1.00,msec,task-clock,1,100.00,," >&2;; esac\n')
        with mock.patch.object(perfctl, "_tracefs", return_value=None):
            a = perfctl.probe(perf)
        self.assertFalse(a.counting)
        self.assertTrue(a.profiling)
        self.assertIn("tracefs", a.skip_line())

    def test_counting_and_recording_run_on_without_perf(self):
        """The point's code path with perf missing: nothing raises, the JSON
        files say skipped and why, the scheduler delay is still read."""
        avail = perfctl.probe(str(self.tmp / "no-such-perf"))
        proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
        try:
            c = perfcount.Counting(proc.pid, self.tmp, availability=avail)
            r = profilerec.Recording(proc.pid, self.tmp, availability=avail)
            self.assertFalse(c.start())
            self.assertFalse(r.start())
            now = time.monotonic_ns()
            w = window.Window(now, now + 50_000_000, "given")
            timers = [c.timer(w).start(), r.timer(w).start()]
            self.assertTrue(all(t.join(5) for t in timers))
            self.assertEqual([t.error for t in timers], [None, None])
            doc, prof = c.finish(w), r.finish(w, "t")
        finally:
            proc.kill()
            proc.wait()
        for d in (doc, prof, perfcount.load(self.tmp), profilerec.load(self.tmp)):
            self.assertEqual(d["status"], "skipped")
            self.assertIn("not found", d["reason"])
        self.assertEqual(doc["sched_delay"]["method"], "schedstat-task")
        cols = perfcount.per_request_columns(doc, 1000, 0.05)
        self.assertEqual(cols["syscalls_per_req"], "")
        self.assertNotEqual(cols["sched_delay_us_per_req"], "")

    def test_report_says_what_was_skipped(self):
        run = self.tmp / "run"
        shutil.copytree(DATA / "run", run)
        for p in (run / "points").iterdir():
            (p / "perfcount.json").write_text(json.dumps(
                {"status": "skipped", "reason": "perf not found (perf): install linux-perf "
                                                "(scripts/install-deps.sh)."}))
            (p / "profile.json").unlink(missing_ok=True)
        md, _ = timegoes.section(run, read_rows(run))
        skipped = [l for l in md.splitlines() if l.startswith("Skipped:")]
        self.assertEqual(len(skipped), 1)
        self.assertIn("syscall counting", skipped[0])
        self.assertIn("install linux-perf", skipped[0])
        self.assertNotIn("| syscalls |", md)


def read_rows(run: Path) -> list[dict]:
    with open(run / "summary.csv") as f:
        return list(csv.DictReader(f))


class TimeGoesTest(unittest.TestCase):
    """The report section on a fixture run: three models at hello 1000 with
    perfcount.json, accounting.json and profiles."""

    @classmethod
    def setUpClass(cls):
        cls.tmp = Path(tempfile.mkdtemp(prefix="iom-timegoes-"))
        cls.run_dir = cls.tmp / "run"
        shutil.copytree(DATA / "run", cls.run_dir)
        cls.rows = read_rows(cls.run_dir)
        cls.md, cls.figures = timegoes.section(cls.run_dir, cls.rows)

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def test_section_and_figures(self):
        self.assertTrue(self.md.startswith(timegoes.TITLE))
        self.assertNotIn("Skipped:", self.md)
        for f in self.figures:
            self.assertTrue(f.exists() and f.stat().st_size > 1000, f)
        self.assertIn("plots/where-time-goes.png", self.md)

    def test_syscall_table(self):
        lines = [l for l in self.md.splitlines() if l.startswith("| ") and "syscalls" not in l]
        rows = {l.split("|")[1].strip(): [c.strip() for c in l.split("|")[2:-1]] for l in lines}
        header = [c.strip() for c in next(l for l in self.md.splitlines()
                                          if l.startswith("| model | syscalls")).split("|")[2:-1]]
        epoll = dict(zip(header, rows["epoll --reactors 1"]))
        threads = dict(zip(header, rows["threaded --pool 0 (thread per conn)"]))
        uring = dict(zip(header, rows["io_uring (1 ring)"]))
        # From the fixture's perfcount.json and loadgen.json, by hand: the
        # requests of the loadgen's window, scaled to the counted span.
        pdir = self.run_dir / "points" / "hello__epoll__1000__r0"
        doc = json.loads((pdir / "perfcount.json").read_text())
        lg = json.loads((pdir / "loadgen.json").read_text())
        requests = lg["requests"] * doc["counted_s"] / lg["duration_s"]
        self.assertEqual(epoll["syscalls"], f"{doc['syscalls']['total'] / requests:.2f}")
        self.assertEqual(epoll["read"], f"{doc['syscalls']['by_name']['read'] / requests:.2f}")
        self.assertTrue(1.5 <= float(epoll["syscalls"]) <= 3)
        self.assertLess(float(uring["syscalls"]), 0.2)
        self.assertGreater(float(threads["vol. switches"]), 0.9)
        self.assertLess(float(epoll["vol. switches"]), 0.1)

    def test_cpu_parts_follow_accounting_and_profile(self):
        row = next(r for r in self.rows if r["model"] == "epoll")
        pdir = self.run_dir / "points" / timegoes.point_id(row)
        parts = timegoes.cpu_parts(row, pdir)
        acc = json.loads((pdir / "accounting.json").read_text())["server"]
        requests = float(row["requests"])
        self.assertAlmostEqual(parts["user"], acc["user_s"] * 1e6 / requests)
        self.assertAlmostEqual(sum(parts.values()), (acc["user_s"] + acc["system_s"]) * 1e6 / requests)
        self.assertGreater(parts["softirq"], 0)
        # Without a profile: system time less the server CPUs' softirq.
        first_round = Path(tempfile.mkdtemp(prefix="iom-r0-"))
        shutil.copy(pdir / "profile.json", first_round / "profile.json")
        (pdir / "profile.json").rename(pdir / "profile.json.off")
        try:
            plain = timegoes.cpu_parts(row, pdir)
            # A later round has no flame graph: the first round's splits it.
            borrowed = timegoes.cpu_parts(row, pdir, first_round)
        finally:
            (pdir / "profile.json.off").rename(pdir / "profile.json")
            shutil.rmtree(first_round, ignore_errors=True)
        self.assertEqual(borrowed.keys(), parts.keys())
        for k in parts:
            self.assertAlmostEqual(borrowed[k], parts[k])
        soft = json.loads((pdir / "accounting.json").read_text())["per_cpu"]["0"]["softirq_s"]
        self.assertAlmostEqual(plain["softirq"], soft * 1e6 / requests)
        self.assertAlmostEqual(plain["softirq"] + plain["kernel"], acc["system_s"] * 1e6 / requests)

    def test_flame_graph_links_and_differential(self):
        for model in ("epoll", "threaded-pool0"):
            self.assertIn(f"points/hello__{model}__1000__r0/profile.svg", self.md)
        self.assertIn("flame-diff-hello-1000-threaded-pool0-vs-epoll.svg", self.md)
        self.assertIn("| kernel function (own time) |", self.md)
        self.assertTrue((self.run_dir / "plots" / "flame-diff-hello-1000-threaded-pool0-vs-epoll.svg").exists())

    def test_light_counting_is_marked(self):
        with tempfile.TemporaryDirectory() as d:
            run = Path(d) / "run"
            shutil.copytree(DATA / "run", run)
            path = run / "points" / "hello__epoll__1000__r0" / "perfcount.json"
            doc = json.loads(path.read_text())
            doc["syscalls"]["total"] = doc["syscalls"]["other"] = None
            path.write_text(json.dumps(doc))
            md, _ = timegoes.section(run, read_rows(run))
        line = next(l for l in md.splitlines() if l.startswith("| epoll --reactors 1 |"))
        self.assertTrue(line.split("|")[2].strip().endswith(" *"))
        self.assertIn("the named calls only", md)
        self.assertNotIn("the named calls only", self.md)

    def test_switches_from_the_accounting_and_shared_cpus_marked(self):
        """Counting the CPUs whole leaves the switches to the accounting's
        sweeps (vol_ctx_per_req), and a model whose server CPU ran other
        work (server_cpus_foreign above 10 %) is marked: its counts
        include that work's calls."""
        rows = read_rows(self.run_dir)
        for r in rows:
            if r["scenario"] == "hello" and r["model"] == "epoll":
                r.update(cs_vol_per_req="", cs_invol_per_req="", vol_ctx_per_req="0.25",
                         invol_ctx_per_req="0.5", server_cpus_foreign="0.3")
        with tempfile.TemporaryDirectory() as d:
            run = Path(d) / "run"
            shutil.copytree(DATA / "run", run)
            for pdir in (run / "points").glob("hello__epoll__*"):
                doc = json.loads((pdir / "perfcount.json").read_text())
                doc["context_switches"] = {"total": None, "involuntary": None, "voluntary": None}
                (pdir / "perfcount.json").write_text(json.dumps(doc))
            md, _ = timegoes.section(run, rows)
        head = next(l for l in md.splitlines() if l.startswith("| model | syscalls"))
        line = next(l for l in md.splitlines() if l.startswith("| epoll --reactors 1 |"))
        cells = dict(zip([c.strip() for c in head.split("|")], [c.strip() for c in line.split("|")]))
        self.assertEqual((cells["vol. switches"], cells["invol. switches"]), ("0.25", "0.50"))
        self.assertTrue(cells["syscalls"].endswith("‡"))
        self.assertIn("epoll --reactors 1 30%", md)
        self.assertNotIn("‡", self.md)

    def test_nothing_to_show(self):
        self.assertEqual(timegoes.section(self.run_dir, [r for r in self.rows if r["scenario"] == "idle"]),
                         ("", []))


class SvgTest(unittest.TestCase):
    def setUp(self):
        self.folded = Counter({"srv;main;work": 60, "srv;main;read;ksys_read_[k]": 30,
                               "srv;main;a&b<c>": 10})

    def test_self_contained_and_well_formed(self):
        svg = flamesvg.render(flamegraph.tree(self.folded), "t <1>", "sub")
        root = ET.fromstring(svg)  # raises if not XML
        ns = "{http://www.w3.org/2000/svg}"
        frames = root.find(f"{ns}g[@id='frames']")
        self.assertEqual(len(frames), 7)   # all, srv, main, work, read, ksys_read, a&b<c>
        self.assertIsNotNone(root.find(f"{ns}script"))
        self.assertNotIn("href", svg)
        names = {g.get("data-name") for g in frames}
        self.assertIn("ksys_read", names)   # the kernel mark is a colour, not text
        self.assertIn("a&b<c>", names)

    def test_widths_follow_weights(self):
        svg = ET.fromstring(flamesvg.render(flamegraph.tree(self.folded), "t"))
        ns = "{http://www.w3.org/2000/svg}"
        w = {g.get("data-name"): float(g.find(f"{ns}rect").get("width"))
             for g in svg.find(f"{ns}g[@id='frames']")}
        self.assertAlmostEqual(w["work"] / w["all"], 0.6, places=3)
        self.assertAlmostEqual(w["read"] / w["main"], 0.3, places=3)

    def test_differential_colours(self):
        before = Counter({"srv;main;work": 100, "srv;main;read": 100})
        after = Counter({"srv;main;work": 100, "srv;main;read": 300})
        root, colour, label = flamesvg.differential(before, after, 1.0, 1.0)
        read = root.children["srv"].children["main"].children["read"]
        work = root.children["srv"].children["main"].children["work"]
        self.assertEqual(colour(work), "rgb(255,255,255)")       # unchanged
        self.assertTrue(colour(read).startswith("rgb(255,"))     # grew: red
        self.assertIn("+0.20 µs/request", label(read, 0.75))
        fewer = flamesvg.differential(after, before, 1.0, 1.0)
        self.assertTrue(fewer[1](fewer[0].children["srv"].children["main"].children["read"])
                        .endswith(",255)"))                       # shrank: blue

    def test_png(self):
        with tempfile.TemporaryDirectory() as d:
            out = flamepng.write(self.folded, Path(d) / "f.png", "t")
            self.assertEqual(out.read_bytes()[:4], b"\x89PNG")


class WindowTest(unittest.TestCase):
    def test_line(self):
        w = window.parse_window_line("Running 2s test\nwindow monotonic_ns 100 200\n")
        self.assertEqual((w.start_ns, w.end_ns, w.source), (100, 200, "loadgen-line"))
        self.assertIsNone(window.parse_window_line("window monotonic_ns 100\n"))   # no END: not the line
        self.assertIsNone(window.parse_window_line("listening on 127.0.0.1:1\n"))
        self.assertIsNone(window.parse_window_line("window monotonic_ns 1 open\n").end_ns)
        self.assertIsNone(window.parse_window_line("nothing here"))

    def test_edges_in_order(self):
        calls = []
        now = time.monotonic_ns()
        t = window.EdgeTimer(window.Window(now, now + 20_000_000, "given"),
                             lambda: calls.append(("open", time.monotonic_ns())),
                             lambda: calls.append(("close", time.monotonic_ns())),
                             before_close=lambda: calls.append(("before", time.monotonic_ns())),
                             lead_ns=lambda: 10_000_000).start()
        self.assertTrue(t.join(5))
        self.assertEqual([c for c, _ in calls], ["open", "before", "close"])
        self.assertGreaterEqual(calls[2][1], now + 20_000_000)
        self.assertGreaterEqual(calls[1][1], now + 10_000_000)

    def test_stopped_before_the_window(self):
        calls = []
        now = time.monotonic_ns()
        t = window.EdgeTimer(window.Window(now + 10**10, None, "given"),
                             lambda: calls.append("open"), lambda: calls.append("close")).start()
        t.close_now()
        self.assertTrue(t.join(5))
        self.assertEqual(calls, [])


class HookTest(unittest.TestCase):
    """perfhooks.PerfHook through the bench's moments, on a stand-in point
    context (the bench's hooks.PointContext has these fields), without perf:
    the files are written with the reason, the readings still made."""

    def test_moments(self):
        from types import SimpleNamespace
        from benchlib import perfhooks
        avail = perfctl.probe("/nonexistent/perf")
        proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
        tmp = Path(tempfile.mkdtemp(prefix="iom-hook-"))
        try:
            hook = perfhooks.PerfHook(avail)
            now = time.monotonic_ns()
            ctx = SimpleNamespace(
                pdir=tmp, point=SimpleNamespace(scenario="hello", connections=1000, repeat=0),
                spec=SimpleNamespace(label="x"), server_pid=proc.pid,
                server_pids=lambda: [proc.pid], server_cgroup=None, server_cpus=[0],
                client_cpus=[1], window=window.Window(now, now + 30_000_000, "loadgen-line"), info={})
            for moment in ("server_started", "window_known", "window_start"):
                getattr(hook, moment)(ctx)
            time.sleep(0.05)
            hook.window_end(ctx)
            hook.point_done(ctx)
        finally:
            proc.kill()
            proc.wait()
        count, prof = perfcount.load(tmp), profilerec.load(tmp)
        self.assertEqual((count["status"], prof["status"]), ("skipped", "skipped"))
        self.assertEqual(count["window"]["source"], "loadgen-line")
        self.assertEqual(count["sched_delay"]["tasks"]["threads_end"], 1)
        self.assertIn("not found", ctx.info["perf"]["perfcount.json"])
        shutil.rmtree(tmp, ignore_errors=True)
        # Not a counted scenario: nothing attached, nothing written.
        ctx.point = SimpleNamespace(scenario="stall", connections=8, repeat=0)
        ctx.pdir = Path(tempfile.mkdtemp(prefix="iom-hook-"))
        hook.server_started(ctx)
        hook.point_done(ctx)
        self.assertEqual(list(ctx.pdir.iterdir()), [])
        ctx.pdir.rmdir()
        # The A/A copy at a profiled point: counted, but no flame graph of
        # its own (it would be epoll's again).
        ctx.point = SimpleNamespace(scenario="hello", connections=1000, repeat=0, control_of="epoll")
        ctx.pdir = Path(tempfile.mkdtemp(prefix="iom-hook-"))
        hook.server_started(ctx)
        hook.point_done(ctx)
        self.assertEqual(sorted(f.name for f in ctx.pdir.iterdir()), ["perfcount.json"])
        shutil.rmtree(ctx.pdir, ignore_errors=True)


CG = Path(__file__).resolve().parent / "testdata" / "cgroup"


class KeeperTest(unittest.TestCase):
    def test_tracepoints_held_from_the_first_counted_point_to_the_end(self):
        """With perf here (it is on the project's machine): the first
        counted point starts one idle perf holding the counting's
        tracepoints, events never enabled; later points reuse it; abort()
        (Ctrl-C, or the run's end) stops it."""
        from types import SimpleNamespace
        from benchlib import perfhooks
        avail = perfctl.probe("perf", perfcount.TRACEPOINTS)
        if not avail.counting:
            self.skipTest(f"perf cannot count here: {avail.skip_line()}")
        run = Path(tempfile.mkdtemp(prefix="iom-keeper-"))
        hook = perfhooks.PerfHook(avail, profiled=())
        procs = []
        try:
            for i, scenario in enumerate(("stall", "hello", "sleep")):
                proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
                procs.append(proc)
                pdir = run / "points" / f"p{i}"
                pdir.mkdir(parents=True)
                ctx = SimpleNamespace(
                    pdir=pdir, point=SimpleNamespace(scenario=scenario, connections=10, repeat=0),
                    spec=SimpleNamespace(label="x"), server_pid=proc.pid, server_pids=lambda p=proc: [p.pid],
                    server_cgroup=None, server_cpus=[0], client_cpus=[1], window=None, info={})
                hook.server_started(ctx)
                if scenario == "stall":
                    self.assertIsNone(hook._keeper, "not a counted point: nothing held yet")
                    continue
                keeper = hook._keeper
                if scenario == "hello":
                    first = keeper
                self.assertIs(keeper, first)
                self.assertIsNone(keeper.session.proc.poll())
                argv = keeper.session.argv
                self.assertIn("-D", argv)
                self.assertEqual(argv[argv.index("-D") + 1], "-1")
                events = perfcount.perf_stat_events(set(perfcount.TRACEPOINTS) -
                                                    set(avail.missing_tracepoints), "light", whole_cpus=True)
                self.assertEqual(argv[argv.index("-e"):], events)
                # The point counts the server's CPUs whole: no cgroup made or used.
                counting = hook._tools[pdir][0]
                self.assertEqual(counting.doc["target"]["mode"], "cpus")
                self.assertNotIn("-G", counting.doc["argv"])
                hook.point_done(ctx)
            hook.abort()
            self.assertIsNone(hook._keeper)
            self.assertIsNotNone(first.session.proc.poll(), "the keeper outlived the run")
            self.assertTrue((run / "perf-keeper.err").exists())
        finally:
            hook.abort()
            for proc in procs:
                proc.kill()
                proc.wait()
            shutil.rmtree(run, ignore_errors=True)


class TargetTest(unittest.TestCase):
    def test_perf_picks_v1_perf_event_first(self):
        hybrid = (CG / "mountinfo-v1-hybrid.txt").read_text()   # this machine: no perf_event
        self.assertEqual(perftarget.perf_cgroup_root(hybrid), (Path("/sys/fs/cgroup/unified"), False))
        both = hybrid + "42 31 0:39 / /sys/fs/cgroup/perf_event rw - cgroup cgroup rw,perf_event\n"
        self.assertEqual(perftarget.perf_cgroup_root(both), (Path("/sys/fs/cgroup/perf_event"), True))
        self.assertEqual(perftarget.perf_cgroup_root((CG / "mountinfo-v2.txt").read_text()),
                         (Path("/sys/fs/cgroup"), False))
        self.assertEqual(perftarget.perf_cgroup_root("22 28 0:21 / /proc rw - proc proc rw\n"),
                         (None, False))

    def test_counting_and_profile_share_one_cgroup(self):
        """Made in a stand-in hierarchy (a plain folder: cgroup.procs is an
        ordinary file there), used twice, given up after the second release:
        only then does the server go back to where it was."""
        with tempfile.TemporaryDirectory() as d:
            root = Path(d)
            with mock.patch.object(perftarget, "perf_cgroup_root", return_value=(root, False)), \
                    mock.patch.object(perftarget, "cgroup_of", return_value=root / "orig"):
                (root / "orig").mkdir()
                a = perftarget.choose([4242], [0])
                b = perftarget.choose([4242], [0])
                self.assertEqual((a.mode, b.mode), ("cgroup", "cgroup"))
                self.assertEqual(a.cgroup, b.cgroup)
                self.assertEqual((a.cgroup / "cgroup.procs").read_text(), "4242")
                a.release()
                self.assertFalse((root / "orig" / "cgroup.procs").exists())
                b.release()
                b.release()                             # twice is harmless
                self.assertEqual((root / "orig" / "cgroup.procs").read_text(), "4242")
                self.assertNotIn(b.cgroup, perftarget._users)

    def test_a_cgroup_given_in_perfs_hierarchy_is_used_as_is(self):
        with tempfile.TemporaryDirectory() as d:
            root = Path(d)
            (root / "bench" / "server").mkdir(parents=True)
            with mock.patch.object(perftarget, "perf_cgroup_root", return_value=(root, False)):
                t = perftarget.choose([1], [0], cgroup=str(root / "bench" / "server"))
                self.assertEqual((t.mode, t.made), ("cgroup", False))
                self.assertEqual(t.perf_args(1)[1], ["-G", "/bench/server"])
                other = perftarget.choose([1], [0], cgroup="/elsewhere", make_cgroup=False)
                self.assertEqual(other.mode, "pids")
                self.assertIn("not in perf's cgroup hierarchy", other.note)

    def test_a_dead_runs_cgroup_is_removed(self):
        with tempfile.TemporaryDirectory() as d:
            root = Path(d)
            dead = subprocess.Popen(["true"])
            dead.wait()
            (root / f"iom-perf-{dead.pid}-77").mkdir()
            (root / f"iom-perf-{os.getpid()}-78").mkdir()          # a live run's: kept
            with mock.patch.object(perftarget, "perf_cgroup_root", return_value=(root, False)), \
                    mock.patch.object(perftarget, "cgroup_of", return_value=root):
                t = perftarget.choose([4243], [0])
                t.release()
            self.assertFalse((root / f"iom-perf-{dead.pid}-77").exists())
            self.assertTrue((root / f"iom-perf-{os.getpid()}-78").exists())

    def test_arguments(self):
        t = perftarget.Target([5, 6], [0, 1], Path("/cg/iom-1"), Path("/cg"))
        self.assertEqual(t.perf_args(3), (["-a", "-C", "0,1"], ["-G", "/iom-1,/iom-1,/iom-1"]))
        self.assertEqual(perftarget.Target([5, 6], [0]).perf_args(3), (["-p", "5,6"], []))


class PerfBesideTheAccounting(unittest.TestCase):
    """perf's cgroup and the accounting's must not fight: the accounting
    reads the server's CPU from the group the server was started in, so
    perf may never move it out of that group. Both layouts, on stand-in
    hierarchies (plain folders: cgroup.procs is an ordinary file there)
    found through the fixture mount tables, as cgroups.setup() and
    perftarget.choose() read them:

    * pure cgroup v2 (a stock Debian 12): one hierarchy. The accounting's
      server group is in perf's hierarchy, so perf filters by it as it
      is and moves nothing.
    * cgroup v1 with a v2 `unified` mount (this machine): the accounting
      uses v1's cpuacct and memory, perf the v2 tree, where it makes a
      group of its own; the server's v1 groups are not touched."""

    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory(prefix="iom-cg-")
        self.root = Path(self.tmp.name)
        self.server = 4321

    def tearDown(self):
        self.tmp.cleanup()

    def mounts(self, fixture: str, old: str) -> str:
        """The fixture's mount table with its cgroup folders under the stand-in root."""
        return (CG / fixture).read_text().replace(old, str(self.root))

    def groups(self, mountinfo: str, proc_cgroup: str):
        (self.root / "mi").write_text(mountinfo)
        (self.root / "pc").write_text(proc_cgroup)
        # A plain folder has no cgroup.procs to check for writing.
        with mock.patch.object(cgroups.os, "access", return_value=True):
            cg, why = cgroups.setup("auto", str(self.root / "mi"), str(self.root / "pc"))
        self.assertIsNotNone(cg, why)
        return cg

    def choose(self, mountinfo: str, group_path: str, pid_cgroup: str):
        real = perftarget.perf_cgroup_root
        with mock.patch.object(perftarget, "perf_cgroup_root", lambda: real(mountinfo)), \
                mock.patch.object(perftarget, "cgroup_of",
                                  lambda pid, root, v1: perftarget.cgroup_in(pid_cgroup, root, v1)):
            return perftarget.choose([self.server], [0], cgroup=group_path)

    def procs_files(self) -> list[Path]:
        return sorted(self.root.rglob("cgroup.procs"))

    def test_pure_v2_perf_uses_the_accountings_group(self):
        (self.root / "user.slice" / "user-1000.slice").mkdir(parents=True)
        mi = self.mounts("mountinfo-v2.txt", "/sys/fs/cgroup")
        cg = self.groups(mi, (CG / "proc-cgroup-v2.txt").read_text())
        self.assertEqual(cg.version, 2)
        server = cg.group("hello__epoll__1000__r0--server")
        self.assertEqual(Path(server.path).parent.parent, self.root / "user.slice" / "user-1000.slice")
        t = self.choose(mi, server.path, "0::/user.slice/user-1000.slice/session-3.scope\n")
        self.assertEqual((t.mode, t.made, t.cgroup), ("cgroup", False, Path(server.path)))
        self.assertEqual(t.perf_args(1)[1],
                         ["-G", "/" + str(Path(server.path).relative_to(self.root))])
        self.assertEqual(self.procs_files(), [], "perf moved a process")
        t.release()
        self.assertTrue(Path(server.path).is_dir(), "perf removed the accounting's group")
        self.assertTrue(server.remove())
        cg.close()

    def test_v1_with_a_v2_unified_mount_perf_makes_its_own_group(self):
        for d in ("cpuacct", "memory/process_api/1bacd0dbf91026b5138afa7ce68413aa", "unified"):
            (self.root / d).mkdir(parents=True)
        mi = self.mounts("mountinfo-v1-hybrid.txt", "/sys/fs/cgroup")
        cg = self.groups(mi, (CG / "proc-cgroup-v1-hybrid.txt").read_text())
        self.assertEqual(cg.version, 1)
        server = cg.group("hello__epoll__1000__r0--server")
        self.assertTrue(server.path.startswith(str(self.root / "cpuacct")))
        t = self.choose(mi, server.path, (CG / "proc-cgroup-v1-hybrid.txt").read_text())
        self.assertEqual((t.mode, t.made), ("cgroup", True))
        self.assertEqual(t.cgroup.parent, self.root / "unified")
        self.assertIn("not in perf's cgroup hierarchy", t.note)
        # The server joined perf's v2 group only: its v1 groups (the
        # accounting's) were not written to.
        self.assertEqual(self.procs_files(), [t.cgroup / "cgroup.procs"])
        self.assertEqual((t.cgroup / "cgroup.procs").read_text(), str(self.server))
        t.release()
        self.assertEqual((self.root / "unified" / "cgroup.procs").read_text(), str(self.server),
                         "given back to where it was in the v2 tree")
        self.assertTrue(Path(server.path).is_dir())
        cg.close()


if __name__ == "__main__":
    unittest.main()
