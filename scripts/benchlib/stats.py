"""Repeats turned into decisions: a percentile-bootstrap interval for the
ratio of two models' figures, and the three-way verdict on a goal.

Why a bootstrap: a point is repeated 3-5 times, too few for a normal
approximation and with no reason to believe the spread is normal (one
repeat disturbed by the machine is the usual outlier). Resampling the
repeats themselves assumes nothing about their shape; with so few of them
it gives an honest, wide interval instead of a precise-looking one.

Why paired: the bench interleaves the models within each round (a shuffled
order per round), so a drift of the machine during the run falls on every
model of that round alike. The ratio of two models measured in the same
round cancels that drift; resampling the per-round ratios therefore gives a
narrower interval than resampling each model on its own. Rounds where only
one of the two models has a valid value are left out of the pairs; with
fewer than two pairs the two samples are resampled independently.

What an interval from so few repeats is worth: the percentile bootstrap
of a median can only land on the repeats' own values, so with 3 or 5
repeats the "95 %" interval is their whole range (the tests below show
it). The chance that the range of n independent values holds their true
median is 1 - 2 * 0.5^n: 75 % for 3 repeats, 94 % for 5, 97 % for 6.
Each paired interval therefore carries `confidence`, that exact,
distribution-free figure for the order statistics it spans (with an even
count the bootstrap's ends fall between two repeats; they are widened to
the nearest repeat so the figure stays exact), and the report prints it
beside the interval; a verdict read from a 75 % interval is a hint, not a
finding.

Everything is seeded: the same repeats give the same interval.
"""
from __future__ import annotations

import math
import random
import statistics
from dataclasses import dataclass
from typing import Mapping, Optional

RESAMPLES = 2000
LEVEL = 0.95
SEED = 20240614  # any fixed number: intervals must not change from one redraw to the next

MET, NOT_MET, UNDECIDED = "met", "not met", "undecided"


@dataclass(frozen=True)
class Interval:
    estimate: float  # median of the per-round ratios (paired) or ratio of the medians
    lo: float
    hi: float
    n: int           # pairs (paired), the smaller sample (independent), 1 (single)
    method: str      # "paired" | "independent" | "single"
    # paired: the chance that [lo, hi] holds the true median ratio (at least),
    # from the order statistics it spans; None where that cannot be said.
    confidence: Optional[float] = None

    def contains(self, value: float) -> bool:
        return self.lo <= value <= self.hi

    def text(self, digits: int = 3) -> str:
        if self.method == "single":
            return f"{self.estimate:.{digits}f} (one repeat, no interval)"
        return f"{self.estimate:.{digits}f} [{self.lo:.{digits}f}, {self.hi:.{digits}f}]"

    def confidence_text(self) -> str:
        """What the interval is worth, for a table cell: "75 %" (the order
        statistics' exact confidence), "bootstrap" where none can be said."""
        if self.confidence is None:
            return "bootstrap" if self.method == "independent" else "–"
        return f"{100 * self.confidence:.0f} %"


def median_confidence(values: list[float], lo: float, hi: float) -> float:
    """The chance, whatever the distribution, that [lo, hi] holds the median
    of the distribution the values were drawn from, counting only the order
    statistics inside it: with X(r) the first value >= lo and X(s) the last
    <= hi, P(X(r) <= median <= X(s)) = sum over i in [r, s) of C(n, i) / 2^n."""
    xs = sorted(values)
    n = len(xs)
    inside = [i for i, x in enumerate(xs, start=1) if lo <= x <= hi]
    if len(inside) < 2:
        return 0.0
    r, s = inside[0], inside[-1]
    return sum(math.comb(n, i) for i in range(r, s)) / 2 ** n


def _rank_bounds(resamples: int, level: float) -> tuple[int, int]:
    """0-based ranks of the interval's ends among the sorted resampled
    statistics: the (1-level)/2 and 1-(1-level)/2 quantiles, nearest rank."""
    tail = (1.0 - level) / 2.0
    lo = int(tail * resamples)
    hi = max(lo, int(round((1.0 - tail) * resamples)) - 1)
    return lo, hi


def bootstrap_median(values: list[float], seed: int = SEED, resamples: int = RESAMPLES,
                     level: float = LEVEL) -> tuple[float, float, float]:
    """(median, lo, hi) of one sample: the percentile bootstrap of its median."""
    if not values:
        raise ValueError("bootstrap_median of no values")
    rng = random.Random(seed)
    n = len(values)
    stats = sorted(statistics.median(rng.choices(values, k=n)) for _ in range(resamples))
    lo, hi = _rank_bounds(resamples, level)
    return statistics.median(values), stats[lo], stats[hi]


def ratio_interval(a: Mapping[int, float], b: Mapping[int, float], seed: int = SEED,
                   resamples: int = RESAMPLES, level: float = LEVEL) -> Optional[Interval]:
    """The interval of a / b from repeats keyed by round. None when either
    side has no positive value (a ratio of nothing, or of a zero)."""
    a = {k: float(v) for k, v in a.items() if v is not None and v > 0}
    b = {k: float(v) for k, v in b.items() if v is not None and v > 0}
    if not a or not b:
        return None
    common = sorted(set(a) & set(b))
    if len(common) >= 2:
        ratios = [a[k] / b[k] for k in common]
        est, lo, hi = bootstrap_median(ratios, seed, resamples, level)
        # With an even count the bootstrap's ends are means of two repeats,
        # whose confidence depends on the distribution: widen each end to
        # the nearest repeat, so the interval's confidence is exact.
        lo = max(r for r in ratios if r <= lo)
        hi = min(r for r in ratios if r >= hi)
        return Interval(est, lo, hi, len(ratios), "paired", median_confidence(ratios, lo, hi))
    av, bv = list(a.values()), list(b.values())
    est = statistics.median(av) / statistics.median(bv)
    if len(av) < 2 or len(bv) < 2:
        return Interval(est, est, est, 1, "single")
    rng = random.Random(seed)
    stats = sorted(statistics.median(rng.choices(av, k=len(av)))
                   / statistics.median(rng.choices(bv, k=len(bv))) for _ in range(resamples))
    lo, hi = _rank_bounds(resamples, level)
    return Interval(est, stats[lo], stats[hi], min(len(av), len(bv)), "independent")


def verdict(iv: Optional[Interval], goal: float) -> tuple[str, str]:
    """A goal "ratio <= goal": met when the whole interval is at or below it,
    not met when the whole interval is above it, undecided when the interval
    straddles it or there is no interval (one repeat, or nothing measured)."""
    if iv is None:
        return UNDECIDED, "not measured (no valid point on one side)"
    if iv.method == "single":
        return UNDECIDED, "one valid repeat: no interval to decide by"
    if iv.hi <= goal:
        return MET, f"the whole interval is at or below {goal:g}" + weak_note(iv)
    if iv.lo > goal:
        return NOT_MET, f"the whole interval is above {goal:g}" + weak_note(iv)
    return UNDECIDED, f"the interval straddles {goal:g}: more repeats or a quieter machine"


def weak_note(iv: Interval) -> str:
    """Said after a verdict whose interval is worth less than 95 %."""
    if iv.confidence is None or iv.confidence >= LEVEL:
        return ""
    return (f" (from {iv.n} repeats the interval holds the true ratio with "
            f"{iv.confidence_text()} confidence only: 6 or more reach 95 %)")


def compare(iv: Optional[Interval]) -> str:
    """For a comparison without a goal: which side is cheaper, if the
    interval says so."""
    if iv is None:
        return "not measured"
    if iv.method == "single":
        return "one repeat: undecided"
    if iv.hi < 1.0:
        return "lower"
    if iv.lo > 1.0:
        return "higher"
    return "indistinguishable (the interval contains 1)"
