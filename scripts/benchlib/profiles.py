"""The three profiles: which points to measure, for how long, how often.

A point is one (scenario, model, x) measurement; x is the connection count,
the number of idle connections, or the offered rate. Open-loop rates are
fractions of the model's own closed-loop maximum, known only once its hello
sweep has run, so they are resolved then (Point.rate_fraction).
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Optional

SCENARIOS = ["hello", "sleep", "cpu", "idle", "pipelined", "open-loop", "ramp"]

PATHS = {"hello": "/hello", "sleep": "/sleep/10", "cpu": "/cpu/100", "idle": "/hello",
         "pipelined": "/hello", "open-loop": "/hello", "ramp": "/sleep/10"}

# What x means in each scenario, for the CSV and the axes.
X_NAMES = {"hello": "connections", "sleep": "connections", "cpu": "connections",
           "idle": "idle_connections", "pipelined": "connections",
           "open-loop": "offered_rps", "ramp": "connections"}


@dataclass
class Profile:
    name: str
    warmup_s: float
    duration_s: float
    repeats: int
    connections: list[int]                # hello, sleep, cpu
    idle: list[int]                       # idle connections held beside one active client
    pipelined: list[int]                  # connections at depth PIPELINE_DEPTH
    rate_fractions: list[float]           # open loop, of the closed-loop maximum
    ramp_connections: int                 # the ramp: connections opened at ramp_rate per second
    ramp_rate: int
    scenarios: list[str] = field(default_factory=lambda: list(SCENARIOS))
    # Seconds a point costs beyond warm-up and measurement (start, connect,
    # stop): measured on the 2-core machine, used only for the estimate.
    overhead_s: float = 1.5


PIPELINE_DEPTH = 16

PROFILES = {
    "smoke": Profile("smoke", warmup_s=0.3, duration_s=1.0, repeats=1,
                     connections=[1, 50], idle=[0, 200], pipelined=[32],
                     rate_fractions=[0.5, 1.2], ramp_connections=200, ramp_rate=200,
                     overhead_s=0.5),
    # Budget, measured on the 2-core machine with 5 models and 3 peers: all
    # of full's x values at 2 s a point took 11.5 min, too close to make
    # bench's 15 minutes once the micro-benchmarks (< 3 min) run too. So
    # quick drops a few middle values (idle 5000, pipelined 1024, one rate).
    "quick": Profile("quick", warmup_s=0.5, duration_s=1.5, repeats=1,
                     connections=[1, 10, 100, 1000, 10000], idle=[0, 1000, 10000, 16384],
                     pipelined=[256, 4096, 16384],
                     rate_fractions=[0.25, 0.5, 0.9, 1.25],
                     ramp_connections=4000, ramp_rate=1000, overhead_s=0.5),
    # About an hour and a half on 2 cores: three repeats of everything.
    "full": Profile("full", warmup_s=1.0, duration_s=3.0, repeats=3,
                    connections=[1, 10, 100, 1000, 4000, 10000, 16384],
                    # 60000: past one process's fd cap (issue 9), for the
                    # multi-process servers; the others record why not.
                    idle=[0, 1000, 5000, 10000, 16384, 60000],
                    pipelined=[256, 1024, 4096, 16384],
                    rate_fractions=[0.1, 0.25, 0.5, 0.75, 0.9, 1.0, 1.1, 1.25, 1.5],
                    ramp_connections=10000, ramp_rate=1000, overhead_s=0.5),
}


@dataclass
class Point:
    scenario: str
    model: str
    x: float
    connections: int
    path: str
    warmup_s: float
    duration_s: float
    repeat: int = 0
    idle: int = 0
    pipeline: int = 1
    rate: Optional[float] = None
    rate_fraction: Optional[float] = None
    connect_rate: Optional[int] = None

    @property
    def id(self) -> str:
        x = f"{self.rate_fraction:g}x" if self.rate_fraction is not None else f"{int(self.x)}"
        return f"{self.scenario}__{self.model}__{x}__r{self.repeat}"

    def resolved(self, max_rps: float) -> "Point":
        rate = max(1.0, round(self.rate_fraction * max_rps))
        return replace(self, rate=rate, x=rate)


def plan(profile: Profile, models: list[str], serves) -> list[Point]:
    """Every point of a run, in the order they run: scenario by scenario,
    and within a scenario the models interleaved at each x, so that a drift
    of the machine during the run does not fall on one model only.
    `serves(model, scenario)` says whether a model can run a scenario; the
    points it cannot run are still planned so that they are recorded."""
    p = profile
    points: list[Point] = []

    def add(scenario: str, xs, make) -> None:
        if scenario not in p.scenarios:
            return
        for r in range(p.repeats):
            for x in xs:
                for m in models:
                    points.append(make(m, x, r))

    def base(in_flight: int = 1) -> dict:
        # Thousands of connections (times the pipeline depth) need time to
        # connect and to go once round the server before the window opens;
        # measured here: 10000 connections on /cpu/100 answered nothing in a
        # 0.5 s warm-up. So the warm-up grows with the requests in flight.
        return dict(warmup_s=p.warmup_s + min(2.5, in_flight / 10000), duration_s=p.duration_s)

    for sc in ("hello", "sleep", "cpu"):
        add(sc, p.connections, lambda m, c, r, sc=sc: Point(sc, m, c, c, PATHS[sc], repeat=r, **base(c)))
    add("idle", p.idle, lambda m, n, r: Point("idle", m, n, 1, PATHS["idle"], repeat=r, idle=n, **base()))
    add("pipelined", p.pipelined, lambda m, c, r: Point(
        "pipelined", m, c, c, PATHS["pipelined"], repeat=r, pipeline=PIPELINE_DEPTH,
        **base(c * PIPELINE_DEPTH)))
    # Open loop at 100 connections: enough to carry the rates without a
    # connection count so large that it alone dominates.
    add("open-loop", p.rate_fractions, lambda m, f, r: Point(
        "open-loop", m, 0, 100, PATHS["open-loop"], repeat=r, rate_fraction=f, **base(100)))
    if "ramp" in p.scenarios:
        ramp_s = p.ramp_connections / p.ramp_rate
        for m in models:
            # The whole ramp is the measurement: warm-up would hide it.
            points.append(Point("ramp", m, p.ramp_connections, p.ramp_connections, PATHS["ramp"],
                                warmup_s=0.0, duration_s=ramp_s + p.duration_s,
                                connect_rate=p.ramp_rate))
    return points


def point_estimate_s(profile: Profile, pt: Point) -> float:
    # Connecting and closing costs about 1 s per 10000 connections here.
    return (pt.warmup_s + pt.duration_s + profile.overhead_s + pt.connections / 10000
            + idle_setup_s(pt.idle))


def estimate_s(profile: Profile, points: list[Point]) -> float:
    return sum(point_estimate_s(profile, pt) for pt in points)


def idle_setup_s(n: int) -> float:
    # Opening idle connections from Python and the server accepting them
    # (a thread each for some): about 3500 a second here, measured.
    return n / 3500.0
