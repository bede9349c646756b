"""Unit tests of summary.csv's rows (benchlib/summary.py, outcomes.py,
saturation.py, little.py) on point folders written from the contracts
(benchlib/fixtures.py): served and rejected and censored work, evidence,
Little's law, per-CPU saturation, and the degraded reading of format-1
files without accounting.json."""
import tempfile
import unittest
from pathlib import Path

from benchlib import fixtures as fx
from benchlib import little, saturation, summary


class Rows(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.run = Path(self.tmp.name)

    def tearDown(self):
        self.tmp.cleanup()

    def row(self, pt, lg, **kw):
        return summary.point_row(fx.write_point(self.run, pt, lg, **kw))

    def test_served_work_and_accounting(self):
        # 150000 served in 1.5 s, mean 1 ms on 100 connections: Little closes.
        r = self.row(fx.point("hello", "epoll", 100), fx.loadgen_v2(150000, mean_us=1000),
                     acc=fx.accounting(0.75, server_idle=0.02, client_idle=0.5))
        self.assertEqual(r["valid"], 1)
        self.assertEqual(r["goodput_rps"], 100000.0)
        self.assertEqual(r["non_2xx_rate"], 0.0)
        self.assertEqual(r["censored_share"], 0.0)
        self.assertEqual(r["little_ratio"], 1.0)
        self.assertEqual(r["little_note"], "")
        # CPU per served request from accounting.json over exactly the window.
        self.assertEqual(r["server_cpu_us_per_req"], 5.0)
        self.assertEqual(r["cpu_method"], "cgroup-v1")
        self.assertEqual(r["ctx_per_req"], round(1010 / 150000, 4))
        self.assertEqual(r["sampler_cpu_util"], 0.002)
        self.assertEqual((r["saturation"], r["saturation_source"]), ("server-bound", "per-cpu"))
        self.assertEqual(r["server_cpus_busy"], 0.98)
        self.assertEqual(r["client_bound"], 0)
        self.assertEqual((r["p50_lower_bound"], r["p99_lower_bound"]), (0, 0))
        self.assertEqual(r["loadgen_format"], 2)

    def test_rejections_are_not_served_work(self):
        # Issue 13's pool at 10000 connections: 41,312 of 41,888 answers 503.
        r = self.row(fx.point("hello", "threaded-pool64", 10000), fx.loadgen_v2(576, 41312),
                     acc=fx.accounting(0.732))
        self.assertEqual(r["valid"], 0)
        self.assertIn("41,312 of 41,888 answers were rejections", r["invalid_reason"])
        self.assertAlmostEqual(r["non_2xx_rate"], 0.9862, places=4)
        self.assertEqual(r["goodput_rps"], 384.0)
        # 0.732 s of CPU over 576 served requests, not over 41,888 answers.
        self.assertEqual(r["server_cpu_us_per_req"], round(0.732e6 / 576, 2))

    def test_an_invalid_run_is_not_evidence(self):
        r = self.row(fx.point("hello", "blocking", 1000), fx.loadgen_v2(30000, censored=999),
                     exit_status=3, reason="loadgen exit 3: INVALID")
        self.assertEqual(r["valid"], 0)
        self.assertIn("exit 3", r["invalid_reason"])

    def test_censored_requests_and_lower_bounds(self):
        # One connection served, 999 waited the whole window: the mean is a
        # lower bound and Little's law cannot close.
        lg = fx.loadgen_v2(30000, censored=999, mean_us=5000, p50=45, p99=1.5e6,
                           lower=("p99", "max", "mean"), connections=1000)
        r = self.row(fx.point("hello", "blocking", 1000), lg, exit_status=3)
        self.assertEqual(r["censored_share"], round(999 / 30999, 4))
        self.assertEqual((r["p50_lower_bound"], r["p99_lower_bound"], r["mean_lower_bound"]),
                         (0, 1, 1))
        self.assertAlmostEqual(r["little_ratio"], 20000 * 0.005 / 1000, places=4)
        self.assertIn("lower bound", r["little_note"])

    def test_open_loop_send_lag_and_no_little_ratio(self):
        pt = fx.point("open-loop", "node", 0.5, reference_rps=100000)
        r = self.row(pt, fx.loadgen_v2(70000, rate=50000, lag_p99=5000, kept=False))
        self.assertEqual(r["offered_rps"], 50000)
        self.assertEqual(r["send_lag_p99_us"], 5000)
        self.assertEqual(r["schedule_kept"], 0)
        self.assertEqual(r["little_ratio"], "")

    def test_format_1_without_accounting_degrades(self):
        r = self.row(fx.point("hello", "epoll", 100), fx.loadgen_v1(150000, 0))
        self.assertEqual(r["loadgen_format"], 1)
        for col in ("censored_share", "p50_lower_bound", "p99_lower_bound", "send_lag_p99_us",
                    "server_cpus_busy", "sampler_cpu_util"):
            self.assertEqual(r[col], "", col)
        self.assertEqual(r["goodput_rps"], 100000.0)
        # CPU from the 10 Hz samples: one CPU-second per second over 1.5 s.
        self.assertEqual(r["server_cpu_util"], 1.0)
        self.assertEqual(r["server_cpu_us_per_req"], 10.0)
        self.assertTrue(r["cpu_method"].startswith("samples"))
        self.assertEqual((r["saturation"], r["saturation_source"]), ("server-bound", "process"))
        self.assertEqual(r["client_cpu_util"], 0.5)
        # Little's law from the answered-only mean, with the reason.
        self.assertEqual(r["little_ratio"], round(100000 * 45e-6 / 100, 4))
        self.assertIn("format 1", r["little_note"])

    def test_format_1_rejections_from_status_counts(self):
        r = self.row(fx.point("hello", "threaded-pool64", 10000), fx.loadgen_v1(41888, 41312),
                     exit_status=3)
        self.assertEqual(r["valid"], 0)
        self.assertEqual(r["answered_2xx"], 576)

    def test_a_point_that_did_not_run(self):
        r = self.row(fx.point("hello", "nginx", 100), None, status="failed", reason="no start")
        self.assertEqual((r["status"], r["valid"]), ("failed", 0))

    def test_grouping_prefers_valid_repeats(self):
        for rep, (cpu, ex) in enumerate(((0.75, 0), (0.9, 0), (3.0, 3))):
            fx.write_point(self.run, fx.point("hello", "epoll", 100, rep),
                           fx.loadgen_v2(150000, mean_us=1000, lower=("p99",) if rep == 1 else ()),
                           acc=fx.accounting(cpu), exit_status=ex)
        rows = summary.collect(self.run)
        e = summary.grouped(rows, "hello")["epoll"][0]
        self.assertEqual((e["n_ok"], e["n_valid"], e["n"]), (3, 2, 2))
        self.assertEqual(e["server_cpu_us_per_req"], 5.5)
        self.assertEqual((e["server_cpu_us_per_req_lo"], e["server_cpu_us_per_req_hi"]), (5.0, 6.0))
        self.assertEqual(e["p99_lower_bound"], 1)
        self.assertEqual(summary.repeats(rows, "hello", "epoll", 100, "server_cpu_us_per_req"),
                         {0: 5.0, 1: 6.0})


class Saturation(unittest.TestCase):
    def test_four_classes(self):
        self.assertEqual(saturation.classify(0.95, 0.5), "server-bound")
        self.assertEqual(saturation.classify(0.5, 0.95), "client-bound")
        self.assertEqual(saturation.classify(0.95, 0.99), "both")
        self.assertEqual(saturation.classify(0.5, 0.5), "neither")
        self.assertEqual(saturation.classify(None, 0.5), "")
        # The edge: exactly 10 % idle is saturated.
        self.assertEqual(saturation.classify(0.9, 0.0), "server-bound")

    def test_shares_of_a_set(self):
        per_cpu = {"0": {"user_s": 1, "system_s": 1, "softirq_s": 1, "idle_s": 1},
                   "1": {"user_s": 0, "idle_s": 4}}
        self.assertEqual(saturation.set_shares(per_cpu, [0])["busy"], 0.75)
        self.assertEqual(saturation.set_shares(per_cpu, [0])["softirq"], 0.25)
        self.assertEqual(saturation.set_shares(per_cpu, [0, 1])["busy"], 0.375)
        self.assertIsNone(saturation.set_shares(per_cpu, [0, 2]))
        self.assertIsNone(saturation.set_shares(None, [0]))

    def test_foreign_share_of_the_server_cpus(self):
        """What ran on the server's CPUs besides the server: busy time (not
        idle or iowait) minus the server's own CPU time, as a share."""
        per_cpu = {"0": {"user_s": 1.0, "system_s": 0.5, "softirq_s": 0.5, "idle_s": 1.0, "iowait_s": 0.5}}
        self.assertEqual(saturation.foreign_share(per_cpu, [0], 1.5), 0.25)
        self.assertEqual(saturation.foreign_share(per_cpu, [0], 2.5), 0.0)    # ticks vs ns: never below 0
        self.assertIsNone(saturation.foreign_share(per_cpu, [0], None))
        self.assertIsNone(saturation.foreign_share(per_cpu, [1], 1.0))
        row = saturation.columns({"per_cpu": per_cpu, "cpus": {"server": [0], "client": [0]},
                                  "server": {"cpu_s": 1.0}})
        self.assertEqual(row["server_cpus_foreign"], 0.5)


class Little(unittest.TestCase):
    def test_ratio(self):
        self.assertEqual(little.ratio(100000, 1000, 100), 1.0)
        self.assertIsNone(little.ratio("", 1000, 100))
        self.assertIsNone(little.ratio(1000, 0, 100))

    def test_reasons(self):
        base = {"loadgen_format": 2, "non_2xx": 0, "answered_2xx": 1000}
        self.assertEqual(little.reasons(dict(base, little_ratio=1.1)), "")
        self.assertIn("rejections", little.reasons(dict(base, little_ratio=0.1, non_2xx=9000,
                                                        non_2xx_rate=0.9)))
        self.assertIn("reconnects after 100", little.reasons(dict(base, little_ratio=0.5,
                                                                  conn_requests=100)))
        self.assertIn("saturated", little.reasons(dict(base, little_ratio=0.7,
                                                       saturation="client-bound")))
        self.assertIn("warm-up", little.reasons(dict(base, little_ratio=1.5, censored_share=0.2)))
        self.assertIn("not explained", little.reasons(dict(base, little_ratio=0.5)))
        # A tiny censored share is printed as it is, not as "0%".
        self.assertIn("0.03% of the requests", little.reasons(dict(base, little_ratio=1.3,
                                                                   censored_share=0.0003)))
        # Connects that failed (blocking: the rest wait in the backlog).
        self.assertIn("4093 connection attempts failed", little.reasons(
            dict(base, little_ratio=0.001, errors_connect=4093)))


if __name__ == "__main__":
    unittest.main()
