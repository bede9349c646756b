"""The three profiles: which points to measure, for how long, how often.

A point is one (scenario, model, x) measurement; x is the connection count,
the number of idle connections, the offered rate, or (stall) the CPU time
each background request burns. Open-loop rates are
fractions of the model's own closed-loop maximum, known only once its hello
sweep has run, so they are resolved then (Point.rate_fraction).
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Optional

SCENARIOS = ["hello", "sleep", "cpu", "stall", "idle", "pipelined", "open-loop", "ramp"]

PATHS = {"hello": "/hello", "sleep": "/sleep/10", "cpu": "/cpu/100", "stall": "/hello", "idle": "/hello",
         "pipelined": "/hello", "open-loop": "/hello", "ramp": "/sleep/10"}

# What x means in each scenario, for the CSV and the axes.
X_NAMES = {"hello": "connections", "sleep": "connections", "cpu": "connections",
           "stall": "background_cpu_us",
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
    # stall: CPU µs per background request; 0 = no background (the baseline).
    stall_us: list[int] = field(default_factory=lambda: [0, 1000, 10000, 50000])
    scenarios: list[str] = field(default_factory=lambda: list(SCENARIOS))
    # Seconds a point costs beyond warm-up and measurement (start, connect,
    # stop): measured on the 2-core machine, used only for the estimate.
    overhead_s: float = 1.5


PIPELINE_DEPTH = 16

# The stall scenario (issue 9: "--offload keeps /hello latency flat while the
# plain loop stalls"). A background load generator keeps STALL_BUSY
# connections asking for /cpu/{x} (closed loop), which keeps one server core
# busy all the time (and both workers of --offload 2); beside it the measured
# one sends /hello at a fixed open-loop rate, so each /hello's latency counts
# from when it was due and a request that waited behind a /cpu one carries
# the wait. The x axis is the CPU time of one background request: a loop
# that runs /cpu itself makes /hello wait for the request in progress (and
# the other busy connection's, when both are ready at once), so its p99
# should follow x, while a loop that hands /cpu to workers should stay at its
# x = 0 figure (no background at all). The number of busy connections would
# say less: past one it only changes how often a /hello lands behind a
# stall, not how long the stall is.
STALL_BUSY = 2
STALL_RATE = 1000        # /hello per second: modest, far below any model's maximum
# /hello connections: a few (a pool of 64 threads must not be what queues
# them), each allowed STALL_PIPELINE requests in flight. A plain loop serves
# what has arrived once per turn, and one turn lasts up to STALL_BUSY x x:
# at 50 ms that is 100 /hello falling due; with one request per connection
# only 8 would reach the server per turn, the rest would pile up in the
# client and the latency would grow with the run's length, not the stall's.
STALL_CONNECTIONS = 8
STALL_PIPELINE = 32
STALL_LEAD_S = 0.3       # the background starts this much before the measured loadgen

PROFILES = {
    "smoke": Profile("smoke", warmup_s=0.3, duration_s=1.0, repeats=1,
                     connections=[1, 50], idle=[0, 200], pipelined=[32],
                     rate_fractions=[0.5, 1.2], ramp_connections=200, ramp_rate=200,
                     stall_us=[0, 20000], overhead_s=0.5),
    # Budget, measured on the 2-core machine with 5 models and 3 peers: all
    # of full's x values at 2 s a point took 11.5 min, too close to make
    # bench's 15 minutes once the micro-benchmarks (< 3 min) run too. So
    # quick drops a few middle values (idle 5000, pipelined 1024, one rate).
    "quick": Profile("quick", warmup_s=0.5, duration_s=1.5, repeats=1,
                     connections=[1, 10, 100, 1000, 10000], idle=[0, 1000, 10000, 16384],
                     pipelined=[256, 4096, 16384],
                     rate_fractions=[0.25, 0.5, 0.9, 1.25],
                     ramp_connections=4000, ramp_rate=1000,
                     stall_us=[0, 1000, 10000, 50000], overhead_s=0.5),
    # About an hour and a half on 2 cores: three repeats of everything.
    "full": Profile("full", warmup_s=1.0, duration_s=3.0, repeats=3,
                    connections=[1, 10, 100, 1000, 4000, 10000, 16384],
                    # 60000: past one process's fd cap (issue 9), for the
                    # multi-process servers; the others record why not.
                    idle=[0, 1000, 5000, 10000, 16384, 60000],
                    pipelined=[256, 1024, 4096, 16384],
                    rate_fractions=[0.1, 0.25, 0.5, 0.75, 0.9, 1.0, 1.1, 1.25, 1.5],
                    ramp_connections=10000, ramp_rate=1000,
                    stall_us=[0, 100, 1000, 10000, 50000], overhead_s=0.5),
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
    # stall: the background load generator's connections and /cpu/{us}.
    background_connections: int = 0
    background_us: int = 0
    # The connection policy, the same for every model of the point (issue
    # 13): reconnect after this many requests (loadgen --conn-requests);
    # 0 = keep-alive connections kept for the whole run.
    conn_requests: int = 0

    @property
    def background_path(self) -> Optional[str]:
        return f"/cpu/{self.background_us}" if self.background_connections else None

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
    add("stall", p.stall_us, lambda m, us, r: Point(
        "stall", m, us, STALL_CONNECTIONS, PATHS["stall"], repeat=r, rate=STALL_RATE,
        pipeline=STALL_PIPELINE, background_connections=STALL_BUSY if us else 0, background_us=us, **base()))
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
            + idle_setup_s(pt.idle) + (STALL_LEAD_S if pt.background_connections else 0.0))


def estimate_s(profile: Profile, points: list[Point]) -> float:
    return sum(point_estimate_s(profile, pt) for pt in points)


def idle_setup_s(n: int) -> float:
    # Opening idle connections from Python and the server accepting them
    # (a thread each for some): about 3500 a second here, measured.
    return n / 3500.0
