"""REPORT.md and the plots from raw files alone (benchlib/report.py,
findings.py, plots.py): on a synthetic run with repeats whose verdicts are
known by construction, and on the committed reference run (format 1, no
accounting.json), which must degrade with a notice, never crash."""
import shutil
import tempfile
import unittest
from pathlib import Path

from benchlib import capacity, findings, fixtures as fx, report, summary

REPO = Path(__file__).resolve().parents[2]

# CPU µs per served request of each model in each of three rounds. epoll
# against nginx: clearly below 1 (met); against floor: ~1.05, straddling
# 1.1 in one round (undecided); against node: clearly above 0.5 (not met).
CPU = {"epoll": (5.0, 5.2, 5.1), "epoll-aa": (5.05, 5.1, 5.2), "nginx": (6.0, 6.1, 6.2),
       "floor": (4.8, 4.6, 5.0), "node": (8.0, 8.2, 8.1), "threaded-pool64": (7.5, 7.6, 7.7)}


def synthetic_run(run: Path) -> None:
    for r in range(3):
        for model, cpu in CPU.items():
            for x in (100, 1000):
                pt = fx.point("hello", model, x, r, headline=True,
                              control_of="epoll" if model == "epoll-aa" else None)
                served = 150000
                if model == "threaded-pool64" and x == 1000:
                    # Keep-alive on a fixed pool: 936 connections never served.
                    lg = fx.loadgen_v2(100000, censored=936, mean_us=5000, p50=500, p99=1.6e6,
                                       lower=("p99", "max", "mean"), connections=x)
                    # 64 connections answered; the others' first answer is only a bound.
                    lg["fairness"].update(answered=64, answered_share=0.064, first_answer_us={
                        "p50": 1.5e6, "p99": 1.5e6, "max": 1.5e6,
                        "lower_bound": {"p50": True, "p99": True, "max": True}})
                    fx.write_point(run, pt, lg, acc=fx.accounting(0.75), exit_status=3)
                    continue
                lg = fx.loadgen_v2(served, mean_us=1000 * x / 100, connections=x)
                fx.write_point(run, pt, lg, acc=fx.accounting(cpu[r] * served / 1e6,
                                                              server_idle=0.3, client_idle=0.02),
                               peer=model in ("nginx", "floor", "node"))
            if model in ("epoll-aa",):
                continue
            pt = fx.point("open-loop", model, 0.5, r, headline=True, reference_rps=100000)
            lg = fx.loadgen_v2(75000, rate=50000, lag_p99=20 if model != "node" else 9000,
                               kept=model != "node")
            fx.write_point(run, pt, lg, acc=fx.accounting(cpu[r] * 75000 / 1e6, server_idle=0.4))
    capacity.save(run, {"reference_model": "threaded-pool64", "reference_rps": 100000,
                        "fast_share": 0.5, "capacities": {}, "fast_models": [],
                        "rates": {"0.5": 50000}}, [0.5])
    # A point that is missing altogether.
    fx.write_point(run, fx.point("hello", "node", 10), None, status="failed",
                   reason="server did not start")


class Synthetic(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory()
        cls.folder = Path(cls.tmp.name) / "run"
        synthetic_run(cls.folder)
        cls.rows = summary.collect(cls.folder)
        report.write(cls.folder, cls.rows, ["a notice"])
        cls.text = (cls.folder / "REPORT.md").read_text()

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def line(self, *words) -> str:
        return next((l for l in self.text.splitlines() if all(w in l for w in words)), "")

    def test_noise_floor_comes_first_and_contains_one(self):
        self.assertLess(self.text.index("Noise floor"), self.text.index("### Headline"))
        self.assertLess(self.text.index("Noise floor"), self.text.index("Against the reference"))
        row = self.line("epoll-aa / epoll: server CPU per request", "100 connections")
        self.assertIn("contains 1", row)
        self.assertRegex(row, r"\*\*1\.0\d\d \[0\.9\d\d, 1\.0\d\d\]\*\*")

    def test_three_way_verdicts(self):
        self.assertIn("**met**", self.line("epoll / nginx: server CPU per request", "at 100 "))
        self.assertIn("**not met**", self.line("epoll / node: server CPU per request", "at 100 "))
        self.assertIn("**undecided**", self.line("epoll / floor: server CPU per request", "at 100 "))
        # Every goal row has an interval.
        for l in self.text.splitlines():
            if l.startswith("| epoll / ") and "measured" not in l:
                self.assertRegex(l, r"\[\d+\.\d+, \d+\.\d+\]", l)

    def test_goals_only_from_valid_points(self):
        # The pool's keep-alive point at 1000 connections was invalid: the
        # claims and findings must not use it.
        self.assertIn("not valid", self.line("threaded --pool 64", "not valid") or
                      self.line("threaded-pool64", "not valid"))
        iv = findings.interval(self.rows, "hello", 1000, "server_cpu_us_per_req",
                               "threaded-pool64", "epoll")
        self.assertIsNone(iv)

    def test_equal_load_table(self):
        self.assertIn("## Cost at equal load", self.text)
        self.assertIn("50,000 requests/s", self.text)
        node = self.line("| node |", "µs")
        self.assertIn("**no**", node)
        self.assertIn("9,000 µs", node)
        self.assertIn("server CPU per request at equal load", self.text)
        self.assertIn("could not keep its schedule", self.text)

    def test_accounting_that_does_not_close_is_listed(self):
        section = self.text.split("## Points whose accounting does not close")[1].split("\n## ")[0]
        self.assertIn("hello threaded-pool64 1000", section)
        self.assertIn("lower bound", section)
        self.assertNotIn("hello epoll 100 ", section)

    def test_lower_bound_shown(self):
        self.assertIn("≥ 1,600.00 ms", self.line("threaded-pool64", "≥") or
                      self.line("threaded --pool 64", "≥") or self.text)

    def test_fairness_in_the_headline_table(self):
        """A fixed pool that leaves 936 of 1000 keep-alive clients waiting:
        its per-request p50 is small, and the table shows who was answered."""
        head = self.text.split("### Headline", 1)[1].split("\n\n###", 1)[0]
        pool = next(l for l in head.splitlines() if l.startswith("| threaded"))
        self.assertIn("| 6.4% (≥ 1,500.00 ms) |", pool)
        epoll = next(l for l in head.splitlines() if l.startswith("| epoll |") or
                     l.startswith("| epoll "))
        self.assertIn("| 100.0% (0.10 ms) |", epoll)
        rows = [r for r in self.rows if r["model"] == "threaded-pool64" and r["x"] == 1000]
        self.assertTrue(all(r["first_answer_p50_lower_bound"] == 1 and
                            r["first_answer_p50_us"] == 1.5e6 for r in rows))

    def test_plots_and_marker_line(self):
        for name in ("cpu_per_request", "throughput", "latency", "open_loop", "equal_load"):
            self.assertTrue((self.folder / "plots" / f"{name}.png").exists(), name)
        self.assertIn("server-bound", self.text)
        self.assertIn("grey band", self.text)

    def test_redraw_is_the_same(self):
        again = summary.collect(self.folder)
        self.assertEqual(again, self.rows)


class Reference(unittest.TestCase):
    """A run of the bench before issues 13 and 14 (loadgen format_version 1,
    no accounting.json): six points of the reference run of 2026-11-26,
    kept in testdata/reference-v1/ when results/reference was redone."""

    def test_degrades_with_a_notice(self):
        ref = Path(__file__).resolve().parent / "testdata" / "reference-v1"
        if not (ref / "points").is_dir():
            self.fail(f"{ref} is missing")
        with tempfile.TemporaryDirectory() as tmp:
            run = Path(tmp) / "reference"
            shutil.copytree(ref / "points", run / "points")
            for f in ("machine.json", "notices.json", "plan.json"):
                if (ref / f).exists():
                    shutil.copy(ref / f, run / f)
            rows = summary.collect(run)
            summary.write_csv(rows, run / "summary.csv")
            report.write(run, rows, report.load_notices(run))
            text = (run / "REPORT.md").read_text()
            self.assertIn("format_version 1", text)
            self.assertIn("No `accounting.json`", text)
            self.assertIn("Points whose accounting does not close", text)
            # Issue 13's figures: the pool's rejecting point is not evidence.
            pool = [r for r in rows if r["model"] == "threaded-pool64" and r["scenario"] == "hello"
                    and float(r["x"]) == 10000][0]
            self.assertEqual(pool["valid"], 0)
            self.assertNotIn("2.18x", text)
            self.assertIn("No A/A control", text)
            self.assertIn("no rate is common to every model", text)
            little = {(r["model"], float(r["x"])): r["little_ratio"] for r in rows
                      if r["scenario"] == "hello" and r["little_ratio"] != ""}
            self.assertAlmostEqual(little[("threaded-pool64", 1000.0)], 0.54, places=2)


if __name__ == "__main__":
    unittest.main()
