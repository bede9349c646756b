"""Unit tests of benchlib/stats.py: the bootstrap on samples whose answer is
known, and the verdict rules. Deterministic: every bootstrap is seeded."""
import random
import statistics
import unittest

from benchlib import stats


class RankBounds(unittest.TestCase):
    def test_95_of_2000(self):
        # The 2.5 % and 97.5 % quantiles of 2000 sorted resamples.
        self.assertEqual(stats._rank_bounds(2000, 0.95), (50, 1949))

    def test_degenerate(self):
        lo, hi = stats._rank_bounds(1, 0.95)
        self.assertLessEqual(lo, hi)


class Bootstrap(unittest.TestCase):
    def test_constant_sample_has_no_width(self):
        est, lo, hi = stats.bootstrap_median([2.5] * 7)
        self.assertEqual((est, lo, hi), (2.5, 2.5, 2.5))

    def test_three_repeats_give_their_range(self):
        # With 3 values the median of a resample is the smallest with
        # probability 7/27 (> 2.5 %): the 95 % interval is exactly [min, max].
        est, lo, hi = stats.bootstrap_median([1.0, 1.2, 1.1])
        self.assertEqual((est, lo, hi), (1.1, 1.0, 1.2))

    def test_five_repeats_still_give_their_range(self):
        # With 5 the smallest median needs 3 of 5 draws at the minimum:
        # 5.8 % > 2.5 %, so the interval is still [min, max].
        est, lo, hi = stats.bootstrap_median([1.0, 2.0, 3.0, 4.0, 5.0])
        self.assertEqual((est, lo, hi), (3.0, 1.0, 5.0))

    def test_seven_repeats_drop_the_extremes(self):
        # With 7, 4 of 7 draws at the minimum: 1.0 % < 2.5 %, so the
        # interval starts at the second value and ends at the sixth.
        est, lo, hi = stats.bootstrap_median([1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0])
        self.assertEqual((est, lo, hi), (4.0, 2.0, 6.0))

    def test_large_sample_is_tight_around_the_median(self):
        rng = random.Random(7)
        values = [rng.gauss(2.0, 0.1) for _ in range(400)]
        est, lo, hi = stats.bootstrap_median(values)
        self.assertAlmostEqual(est, statistics.median(values))
        self.assertLess(lo, est)
        self.assertGreater(hi, est)
        # The standard error of a median of 400 normal values with sd 0.1 is
        # about 0.1 * 1.2533 / 20 = 0.0063: the 95 % interval is ~ ±0.012.
        self.assertGreater(hi - lo, 0.012)
        self.assertLess(hi - lo, 0.05)
        self.assertTrue(lo < 2.0 < hi)

    def test_seeded(self):
        values = [1.0, 1.4, 0.9, 1.1, 1.3]
        self.assertEqual(stats.bootstrap_median(values, seed=3), stats.bootstrap_median(values, seed=3))

    def test_empty_is_an_error(self):
        with self.assertRaises(ValueError):
            stats.bootstrap_median([])


class RatioInterval(unittest.TestCase):
    def test_paired_cancels_a_common_drift(self):
        # Each round the machine is slower, by the same factor for both
        # models: the per-round ratio is exactly 0.5, so is the interval.
        a = {0: 5.0, 1: 6.0, 2: 8.0}
        b = {0: 10.0, 1: 12.0, 2: 16.0}
        iv = stats.ratio_interval(a, b)
        self.assertEqual(iv.method, "paired")
        self.assertEqual((iv.estimate, iv.lo, iv.hi, iv.n), (0.5, 0.5, 0.5, 3))

    def test_independent_when_rounds_do_not_pair(self):
        a = {0: 5.0, 1: 6.0}
        b = {2: 10.0, 3: 12.0}
        iv = stats.ratio_interval(a, b)
        self.assertEqual(iv.method, "independent")
        self.assertAlmostEqual(iv.estimate, 5.5 / 11.0)
        # The extremes of independent resampling: 5/12 and 6/10.
        self.assertGreaterEqual(iv.lo, 5.0 / 12.0)
        self.assertLessEqual(iv.hi, 6.0 / 10.0)
        self.assertLess(iv.lo, iv.estimate)
        self.assertGreater(iv.hi, iv.estimate)

    def test_single_repeat_has_no_interval(self):
        iv = stats.ratio_interval({0: 3.0}, {0: 6.0})
        self.assertEqual(iv.method, "single")
        self.assertEqual((iv.estimate, iv.lo, iv.hi), (0.5, 0.5, 0.5))

    def test_nothing_to_divide(self):
        self.assertIsNone(stats.ratio_interval({}, {0: 1.0}))
        self.assertIsNone(stats.ratio_interval({0: 1.0}, {0: 0.0}))
        self.assertIsNone(stats.ratio_interval({0: None}, {0: 1.0}))

    def test_a_missing_round_is_left_out_of_the_pairs(self):
        a = {0: 1.0, 1: 1.0, 2: 100.0}
        b = {0: 1.0, 1: 1.0}
        iv = stats.ratio_interval(a, b)
        self.assertEqual((iv.method, iv.n, iv.hi), ("paired", 2, 1.0))

    def test_the_range_of_three_pairs_is_a_75_percent_interval(self):
        iv = stats.ratio_interval({0: 1.0, 1: 1.2, 2: 1.1}, {0: 1.0, 1: 1.0, 2: 1.0})
        self.assertEqual((iv.lo, iv.hi), (1.0, 1.2))
        self.assertEqual(iv.confidence, 0.75)  # 1 - 2 * 0.5^3
        self.assertEqual(iv.confidence_text(), "75 %")

    def test_confidence_of_order_statistics(self):
        five = [1.0, 2.0, 3.0, 4.0, 5.0]
        self.assertEqual(stats.median_confidence(five, 1.0, 5.0), 1 - 2 / 32)
        six = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0]
        self.assertEqual(stats.median_confidence(six, 1.0, 6.0), 1 - 2 / 64)
        # Seven repeats: the bootstrap drops the extremes, [X(2), X(6)]:
        # (C(7,2) + C(7,3) + C(7,4) + C(7,5)) / 128 = 112 / 128.
        seven = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0]
        _, lo, hi = stats.bootstrap_median(seven)
        self.assertEqual(stats.median_confidence(seven, lo, hi), 112 / 128)
        # Only the order statistics inside the interval count: an end
        # between two values is no better than the value within.
        self.assertEqual(stats.median_confidence(five, 1.5, 4.5), stats.median_confidence(five, 2.0, 4.0))
        self.assertEqual(stats.median_confidence(five, 2.5, 3.5), 0.0)

    def test_six_pairs_widen_to_their_range_and_reach_95_percent(self):
        # The bootstrap's ends for 6 values are means of two of them; widened
        # to the nearest repeats they are the range: 1 - 2 * 0.5^6.
        a = {r: v for r, v in enumerate([1.0, 1.1, 0.9, 1.3, 0.8, 1.2])}
        b = {r: 1.0 for r in range(6)}
        iv = stats.ratio_interval(a, b)
        self.assertEqual((iv.lo, iv.hi), (0.8, 1.3))
        self.assertEqual(iv.confidence, 1 - 2 / 64)
        self.assertEqual(stats.verdict(iv, 1.5), (stats.MET, "the whole interval is at or below 1.5"))

    def test_independent_intervals_claim_no_exact_confidence(self):
        iv = stats.ratio_interval({0: 5.0, 1: 6.0}, {2: 10.0, 3: 12.0})
        self.assertIsNone(iv.confidence)
        self.assertEqual(iv.confidence_text(), "bootstrap")

    def test_a_a_control_contains_one(self):
        rng = random.Random(11)
        a = {r: rng.gauss(5.0, 0.3) for r in range(5)}
        b = {r: rng.gauss(5.0, 0.3) for r in range(5)}
        iv = stats.ratio_interval(a, b)
        self.assertTrue(iv.contains(1.0), iv)


class Verdicts(unittest.TestCase):
    def iv(self, lo, hi, method="paired"):
        return stats.Interval((lo + hi) / 2, lo, hi, 3, method)

    def test_met_when_whole_interval_at_or_below(self):
        self.assertEqual(stats.verdict(self.iv(0.8, 0.95), 1.0)[0], stats.MET)
        self.assertEqual(stats.verdict(self.iv(0.8, 1.0), 1.0)[0], stats.MET)

    def test_not_met_when_whole_interval_above(self):
        self.assertEqual(stats.verdict(self.iv(1.01, 1.2), 1.0)[0], stats.NOT_MET)

    def test_a_verdict_from_a_weak_interval_says_so(self):
        weak = stats.Interval(0.85, 0.8, 0.9, 3, "paired", 0.75)
        v, why = stats.verdict(weak, 1.0)
        self.assertEqual(v, stats.MET)
        self.assertIn("75 % confidence only", why)
        strong = stats.Interval(0.85, 0.8, 0.9, 6, "paired", 1 - 2 / 64)
        self.assertNotIn("confidence only", stats.verdict(strong, 1.0)[1])

    def test_undecided_when_straddling(self):
        v, why = stats.verdict(self.iv(0.9, 1.1), 1.0)
        self.assertEqual(v, stats.UNDECIDED)
        self.assertIn("straddles", why)

    def test_undecided_without_an_interval(self):
        self.assertEqual(stats.verdict(None, 1.0)[0], stats.UNDECIDED)
        single = stats.Interval(0.5, 0.5, 0.5, 1, "single")
        # One repeat far inside the goal still decides nothing.
        self.assertEqual(stats.verdict(single, 1.0)[0], stats.UNDECIDED)

    def test_compare_without_goal(self):
        self.assertEqual(stats.compare(self.iv(0.8, 0.9)), "lower")
        self.assertEqual(stats.compare(self.iv(1.1, 1.3)), "higher")
        self.assertTrue(stats.compare(self.iv(0.9, 1.1)).startswith("indistinguishable"))
        self.assertTrue(stats.compare(None).startswith("not"))

    def test_text(self):
        self.assertEqual(self.iv(0.5, 0.7).text(2), "0.60 [0.50, 0.70]")
        self.assertIn("no interval", stats.Interval(1, 1, 1, 1, "single").text())


if __name__ == "__main__":
    unittest.main()
