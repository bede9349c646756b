"""Unit tests of the run's plan (benchlib/profiles.py, run.py): repeats and
rounds, the seeded shuffle, the A/A control, the connection policy of a
scenario, the open loop's reference capacity and the time budget."""
import unittest
from collections import Counter
from pathlib import Path

from benchlib import capacity, profiles, run
from benchlib.models import ServerSpec
from benchlib.point import Settings, loadgen_argv

OURS = ["blocking", "threaded-pool0", "threaded-pool64", "epoll", "uring", "epoll-offload2"]
PEERS = ["nginx", "node", "floor"]


def spec(name: str, peer: bool = False) -> ServerSpec:
    scen = frozenset({"cpu", "stall"}) if name == "epoll-offload2" else (
        frozenset(profiles.SCENARIOS) - {"stall"} if name == "blocking" else None)
    return ServerSpec(name=name, label=name, make_argv=lambda port, _r: ["server", str(port)],
                      peer=peer, scenarios=scen)


def specs() -> list[ServerSpec]:
    return [spec(m) for m in OURS] + [spec(m, True) for m in PEERS]


class Rounds(unittest.TestCase):
    def plan(self, name="quick", seed=1):
        return run.planned(profiles.PROFILES[name], specs(), seed)

    def test_headline_points_repeat_in_every_round(self):
        for name, least in (("quick", 3), ("full", 5)):
            prof = profiles.PROFILES[name]
            self.assertGreaterEqual(prof.repeats, least)
            _, runnable, _ = self.plan(name)
            heads = Counter((p.scenario, p.model, p.rate_fraction if p.rate_fraction is not None
                             else p.x) for p in runnable if p.headline)
            self.assertTrue(heads)
            for key, n in heads.items():
                self.assertEqual(n, prof.repeats, key)

    def test_each_round_holds_every_model_of_a_headline_point(self):
        _, runnable, _ = self.plan()
        for r in range(3):
            models = {p.model for p in runnable if p.headline and p.repeat == r
                      and p.scenario == "hello" and p.x == 1000}
            self.assertEqual(models, {m for m in OURS + PEERS if m != "epoll-offload2"} | {"epoll-aa"})

    def test_rounds_are_interleaved_not_one_model_in_a_row(self):
        points, _, _ = self.plan()
        later = [p for p in points if p.repeat >= 1]
        # No model runs twice in a row within the headline rounds' order
        # more often than chance would allow, and the rounds come in order.
        self.assertEqual([p.repeat for p in later], sorted(p.repeat for p in later))
        runs = sum(1 for a, b in zip(later, later[1:]) if a.model == b.model)
        self.assertLess(runs, len(later) / 4)

    def test_shuffle_is_seeded(self):
        a = [p.id for p in self.plan(seed=7)[0]]
        b = [p.id for p in self.plan(seed=7)[0]]
        c = [p.id for p in self.plan(seed=8)[0]]
        self.assertEqual(a, b)
        self.assertNotEqual(a, c)
        self.assertEqual(sorted(a), sorted(c))

    def test_models_are_shuffled_within_a_sweep_x(self):
        points, _, _ = self.plan(seed=3)
        orders = {tuple(p.model for p in points if p.scenario == "hello" and p.x == x
                        and p.repeat == 0) for x in (1, 10)}
        self.assertEqual(len(orders), 2)  # not the same fixed order at every x

    def test_ids_are_unique(self):
        points, _, _ = self.plan("full")
        ids = [p.id for p in points]
        self.assertEqual(len(ids), len(set(ids)))


class Control(unittest.TestCase):
    def test_aa_copy_runs_the_hello_headline_points_only(self):
        points, runnable, by_name = run.planned(profiles.PROFILES["quick"], specs(), 1)
        copies = [p for p in points if p.control_of]
        self.assertTrue(copies)
        self.assertEqual({p.model for p in copies}, {"epoll-aa"})
        self.assertEqual({(p.scenario, p.x) for p in copies}, {("hello", 100), ("hello", 1000)})
        self.assertEqual(Counter(p.x for p in copies), {100: 3, 1000: 3})
        self.assertTrue(all(p.control_of == "epoll" and p.headline for p in copies))
        # The copy is the same server under a second name.
        self.assertEqual(by_name["epoll-aa"].make_argv, by_name["epoll"].make_argv)

    def test_every_profile_has_one(self):
        for prof in profiles.PROFILES.values():
            points, _, _ = run.planned(prof, specs(), 1)
            self.assertTrue(any(p.control_of for p in points), prof.name)

    def test_no_control_without_its_server(self):
        points, _, _ = run.planned(profiles.PROFILES["quick"], [spec("nginx", True)], 1)
        self.assertFalse(any(p.control_of for p in points))


class ConnectionPolicy(unittest.TestCase):
    def test_a_scenario_has_one_policy_for_every_model(self):
        points, _, _ = run.planned(profiles.PROFILES["quick"], specs(), 1)
        by_scenario = {}
        for p in points:
            by_scenario.setdefault(p.scenario, set()).add(p.conn_requests)
        for sc, policies in by_scenario.items():
            self.assertEqual(len(policies), 1, sc)
        self.assertEqual(by_scenario["rotate"], {profiles.ROTATE_REQUESTS})
        self.assertEqual(by_scenario["hello"], {None})

    def test_the_scenario_sets_the_connection_policy_of_the_command_line(self):
        # Issue 13: the policy comes from the scenario, never from the model
        # (loadgen_argv takes no server; test_point runs every model through
        # the real runner and compares their command lines).
        from benchlib.cpus import CpuSplit
        settings = Settings(Path("/bin/loadgen"), CpuSplit([0], [1], "default"), 20000, None)
        lines = {}
        for sc in ("hello", "rotate"):
            pt = profiles.make_point(profiles.PROFILES["quick"], sc, "m", 100, 0)
            lines[sc] = loadgen_argv(settings, pt, "http://t/", Path("o.json"), 100, None)
        self.assertNotIn("--conn-requests", lines["hello"])
        at = lines["rotate"].index("--conn-requests")
        self.assertEqual(lines["rotate"][at + 1], str(profiles.ROTATE_REQUESTS))


class Reference(unittest.TestCase):
    def row(self, model, x, goodput, valid=1, control=""):
        return {"scenario": "hello", "model": model, "x": x, "status": "ok", "valid": valid,
                "goodput_rps": goodput, "control_of": control, "rate_fraction": ""}

    def test_the_slowest_fast_model(self):
        rows = [self.row("epoll", 100, 180000), self.row("epoll", 1000, 190000),
                self.row("nginx", 1000, 160000), self.row("pool", 1000, 100000),
                self.row("blocking", 1, 22000),
                # Not evidence: mostly rejections, and the A/A copy.
                self.row("pool", 10000, 500000, valid=0),
                self.row("epoll-aa", 1000, 50000, control="epoll")]
        ref = capacity.reference(rows, [0.25, 0.5])
        self.assertEqual(ref["reference_model"], "pool")
        self.assertEqual(ref["fast_models"], ["epoll", "nginx", "pool"])
        self.assertEqual(ref["rates"], {"0.25": 25000, "0.5": 50000})

    def test_none_without_a_valid_hello_point(self):
        self.assertIsNone(capacity.reference([self.row("epoll", 100, 1000, valid=0)], [0.5]))

    def test_the_same_rate_for_every_model(self):
        points, _, _ = run.planned(profiles.PROFILES["quick"], specs(), 1)
        fractions = {p.rate_fraction for p in points if p.scenario == "open-loop"}
        self.assertEqual(fractions, set(profiles.PROFILES["quick"].open_rates))
        pt = next(p for p in points if p.scenario == "open-loop")
        self.assertEqual(pt.resolved(100000).rate, pt.rate_fraction * 100000)


class Budget(unittest.TestCase):
    def test_quick_fits_in_15_minutes_with_the_micro_benchmarks(self):
        # Issue 14: make bench within 15 minutes on a 2-core machine. The
        # estimate (calibrated on that machine) must leave room for noise.
        _, runnable, _ = run.planned(profiles.PROFILES["quick"], specs(), 1)
        total = run.total_estimate_s(runnable, micro=True)
        self.assertLess(total, 0.9 * 15 * 60, total)
        # ... and the time goes to the decisions: a third or more to headline points.
        head = profiles.estimate_s([p for p in runnable if p.headline])
        self.assertGreater(head / profiles.estimate_s(runnable), 0.3)

    def test_every_thinning_is_explained(self):
        for prof in (profiles.PROFILES["quick"], profiles.PROFILES["smoke"]):
            self.assertTrue(prof.thinned)
        quick = profiles.PROFILES["quick"]
        # The sweep values quick drops although its own hello sweep (or the
        # full profile at the same scale) has them: each must be explained.
        for sc, x in (("sleep", 10), ("cpu", 10000), ("pipelined", 16384), ("idle", 10000),
                      ("stall", 1000)):
            self.assertNotIn(x, profiles.sweep_xs(quick, sc))
            self.assertIn(x, profiles.sweep_xs(profiles.PROFILES["full"], sc))
            self.assertTrue(any(sc in t and (f"{x}" in t or f"{x // 1000} ms" in t)
                                for t in quick.thinned), (sc, x))

if __name__ == "__main__":
    unittest.main()
