"""The three profiles: which points to measure, for how long, how often and
in what order.

A point is one (scenario, model, x) measurement; x is the connection count,
the number of idle connections, the offered rate, or (stall) the CPU time
each background request burns.

Two kinds of points. The *sweep* draws the curves: every x of every
scenario, once (full: a few times). The *headline* points are the few that
the report's goals, claims and equal-load costs are decided on: they are
repeated `repeats` times, in rounds, and every round runs its points in a
freshly shuffled order (seeded, recorded in plan.json), so that neither a
drift of the machine nor the order of the models falls on one model only.
An A/A control (the same server twice, as if two models) is part of every
round of the hello headline points: its ratio is the run's noise floor.

Open-loop rates are absolute and the same for every model: fractions of
the run's *reference capacity*, the closed-loop capacity of the slowest of
the fast models, measured in the same run's hello sweep (run.py resolves
them once the sweep has run; Point.rate_fraction until then).

A connection policy belongs to a scenario, never to a model: keep-alive
connections (the wrk/TechEmpower shape) everywhere except `rotate`, where
every model's connections reconnect after ROTATE_REQUESTS requests.
"""
from __future__ import annotations

import random
from dataclasses import dataclass, field, replace
from typing import Optional

SCENARIOS = ["hello", "sleep", "cpu", "stall", "idle", "pipelined", "open-loop", "rotate", "ramp"]

PATHS = {"hello": "/hello", "sleep": "/sleep/10", "cpu": "/cpu/100", "stall": "/hello", "idle": "/hello",
         "pipelined": "/hello", "open-loop": "/hello", "rotate": "/hello", "ramp": "/sleep/10"}

# What x means in each scenario, for the CSV and the axes.
X_NAMES = {"hello": "connections", "sleep": "connections", "cpu": "connections",
           "stall": "background_cpu_us",
           "idle": "idle_connections", "pipelined": "connections",
           "open-loop": "offered_rps", "rotate": "connections", "ramp": "connections"}

# The connection policy of each scenario, the same for every model in it:
# None keeps each connection open for the whole point; N closes it after N
# requests and opens a new one. A server that serves one connection until
# it closes (blocking, a fixed pool) is served by rotation only here.
ROTATE_REQUESTS = 100
CONN_REQUESTS = {"rotate": ROTATE_REQUESTS}

# Closed-loop scenarios: Little's law (goodput x mean latency = requests in
# flight) must close for them (summary.little_ratio).
CLOSED_LOOP = ("hello", "sleep", "cpu", "idle", "pipelined", "rotate")

# The A/A control's model name: the same server under a second name.
AA_SUFFIX = "-aa"

# Where perf counts syscalls, switches and the wait for a CPU (issue 17;
# perfhooks.py): the closed-loop sweeps and the other headline scenarios
# whose requests are one kind of work (open loop; idle's one active
# client). Not stall (its server CPU serves /cpu and /hello together: no
# per-request figure, as for CPU per request), nor rotate, pipelined and
# ramp (nothing of the report's is decided there).
PERF_COUNTED = ("hello", "sleep", "cpu", "open-loop", "idle")


def wants_profile(profiled, pt) -> bool:
    """Whether a point gets a flame graph: its (scenario, connections) is
    one of `profiled`, first round only, and not the A/A copy (its graph
    would be its original's again)."""
    return ((pt.scenario, pt.connections) in {tuple(p) for p in profiled}
            and getattr(pt, "repeat", 0) == 0 and not getattr(pt, "control_of", None))


def aa_name(model: str) -> str:
    return model + AA_SUFFIX


@dataclass(frozen=True)
class Headline:
    """A point the report decides on, repeated in every round."""
    scenario: str
    x: float                                 # open-loop: fraction of the reference capacity
    models: Optional[tuple[str, ...]] = None  # None: every model of the run
    control: bool = False                    # the A/A copy runs it too


@dataclass
class Profile:
    name: str
    warmup_s: float
    duration_s: float
    repeats: int                          # rounds of the headline points (r0 .. r{repeats-1})
    connections: list[int]                # hello
    sleep: list[int]                      # connections of sleep
    cpu: list[int]                        # connections of cpu
    idle: list[int]                       # idle connections held beside one active client
    pipelined: list[int]                  # connections at depth PIPELINE_DEPTH
    # Open loop: fractions of the run's reference capacity, the same
    # absolute rate for every model; `equal_load` are those below every
    # fast model's capacity, where the models' costs are compared.
    open_rates: list[float]
    equal_load: list[float]
    rotate: list[int]                     # connections of `rotate` (reconnect every ROTATE_REQUESTS)
    ramp_connections: int                 # the ramp: connections opened at ramp_rate per second
    ramp_rate: int
    headline: list[Headline]
    # stall: CPU µs per background request; 0 = no background (the baseline).
    stall_us: list[int] = field(default_factory=lambda: [0, 1000, 10000, 50000])
    scenarios: list[str] = field(default_factory=lambda: list(SCENARIOS))
    sweep_repeats: int = 1                # times the whole sweep runs (its rounds count as headline rounds)
    aa: str = "epoll"                     # the server of the A/A control
    # What this profile leaves out that a larger one measures, and why:
    # printed by --dry-run and in the report.
    thinned: list[str] = field(default_factory=list)
    # (scenario, connections) of the flame graphs (issue 17), first round only.
    profiled: list[tuple[str, int]] = field(default_factory=lambda: [("hello", 1000), ("sleep", 1000)])


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

# Open loop at 100 connections: enough to carry the rates without a
# connection count so large that it alone dominates.
OPEN_LOOP_CONNECTIONS = 100


def _headline(hello: list[int], equal_load: list[float], idle: Optional[int],
              stall: Optional[int]) -> list[Headline]:
    """The points issue 9's goals, the claims and the equal-load costs are
    decided on: hello at 100 and 1000 connections (server CPU per request,
    p99) with the A/A control beside them; the equal-load open-loop rates;
    memory per idle connection of the two models its goal compares; the
    stall check of the offloading loop against the plain one."""
    out = [Headline("hello", c, control=True) for c in hello]
    out += [Headline("open-loop", f) for f in equal_load]
    if idle:
        out.append(Headline("idle", idle, ("epoll", "nginx")))
    if stall:
        out.append(Headline("stall", stall, ("epoll", "epoll-offload2")))
    return out


PROFILES = {
    "smoke": Profile("smoke", warmup_s=0.3, duration_s=1.0, repeats=2,
                     connections=[1, 50], sleep=[1, 50], cpu=[1, 50], idle=[0, 200],
                     pipelined=[32],
                     open_rates=[0.5, 1.2], equal_load=[0.5], rotate=[50],
                     ramp_connections=200, ramp_rate=200,
                     headline=_headline([50], [0.5], None, None),
                     stall_us=[0, 20000], profiled=[("hello", 50), ("sleep", 50)],
                     thinned=["everything: smoke checks that the pipeline works, not the figures"]),
    # Budget (issue 14): make bench within 15 minutes on 2 cores, the
    # micro-benchmarks included. The time goes to the headline points (3
    # rounds); the sweep is thinned where its points decided nothing in the
    # reference run (the `thinned` notes say which and why).
    "quick": Profile("quick", warmup_s=0.5, duration_s=1.5, repeats=3,
                     connections=[1, 100, 1000, 10000], sleep=[1, 100, 1000, 10000],
                     cpu=[1, 100, 1000], idle=[0, 1000, 16384],
                     pipelined=[256, 4096],
                     open_rates=[0.25, 0.5, 1.0, 1.5], equal_load=[0.25, 0.5],
                     rotate=[100, 1000],
                     ramp_connections=4000, ramp_rate=1000,
                     headline=_headline([100, 1000], [0.5], 16384, 50000),
                     stall_us=[0, 10000, 50000],
                     thinned=[
                         "cpu at 10000 connections (full only): one round of 10000 connections x "
                         "100 µs of CPU takes a second, as long as quick's window; in the reference "
                         "run every model there was 'too short' or invalid",
                         "pipelined at 16384 connections (full only): in the reference run only the "
                         "event loops answered it, the other five were invalid",
                         "idle at 10000 (full only): between 1000 and 16384, on a curve that is a "
                         "straight line per model",
                         "sleep at 10 connections, stall at 1 ms (full only): between neighbours on "
                         "curves whose shape the other points already fix",
                         "hello and cpu at 10 connections, rotate at 1 (full only): made room for "
                         "perf's counting and flame graphs within the 15 minutes; hello and cpu at "
                         "10 lie between 1 and 100 on curves that are flat there in the reference "
                         "runs (every model serves 10 clients alike), and rotate at 1 is hello at 1 "
                         "plus a reconnect every 100 requests",
                         "sleep, cpu, pipelined and rotate are measured once: no goal or claim is "
                         "decided on them; their spread is the full profile's",
                         "open loop: only ½ of the reference capacity is repeated (the equal-load goal "
                         "ratios are decided there); ¼, 1x and 1.5x run once: they draw the knee"]),
    # About an hour and a half on 2 cores: the sweep twice, the headline
    # points five times, up to 16384 connections and 60000 idle.
    "full": Profile("full", warmup_s=1.0, duration_s=3.0, repeats=5, sweep_repeats=2,
                    connections=[1, 10, 100, 1000, 4000, 10000, 16384],
                    sleep=[1, 10, 100, 1000, 4000, 10000, 16384],
                    cpu=[1, 10, 100, 1000, 4000, 10000, 16384],
                    # 60000: past one process's fd cap (issue 9), for the
                    # multi-process servers; the others record why not.
                    idle=[0, 1000, 5000, 10000, 16384, 60000],
                    pipelined=[256, 1024, 4096, 16384],
                    open_rates=[0.1, 0.25, 0.5, 0.75, 1.0, 1.25, 1.5, 2.0],
                    equal_load=[0.25, 0.5],
                    rotate=[1, 10, 100, 1000, 10000],
                    ramp_connections=10000, ramp_rate=1000,
                    headline=_headline([100, 1000], [0.25, 0.5], 16384, 50000),
                    stall_us=[0, 100, 1000, 10000, 50000]),
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
    # Open loop: the fraction of the run's reference capacity (the same
    # absolute rate for every model), resolved into `rate` before it runs.
    rate_fraction: Optional[float] = None
    connect_rate: Optional[int] = None
    # stall: the background load generator's connections and /cpu/{us}.
    background_connections: int = 0
    background_us: int = 0
    # The scenario's connection policy: reconnect after this many requests
    # (loadgen --conn-requests), None for keep-alive. Never per model.
    conn_requests: Optional[int] = None
    # A point the report decides on (repeated in every round).
    headline: bool = False
    # The A/A control: the model this one is a copy of.
    control_of: Optional[str] = None
    # A flame graph is recorded over its window (wants_profile).
    profiled: bool = False

    @property
    def background_path(self) -> Optional[str]:
        return f"/cpu/{self.background_us}" if self.background_connections else None

    @property
    def id(self) -> str:
        x = f"{self.rate_fraction:g}x" if self.rate_fraction is not None else f"{int(self.x)}"
        return f"{self.scenario}__{self.model}__{x}__r{self.repeat}"

    def resolved(self, reference_rps: float) -> "Point":
        rate = max(1.0, round(self.rate_fraction * reference_rps))
        return replace(self, rate=rate, x=rate)


def make_point(p: Profile, scenario: str, model: str, x: float, repeat: int) -> Point:
    """One point of `scenario` at x for `model`, with the warm-up it needs."""
    def base(in_flight: int = 1) -> dict:
        # Thousands of connections (times the pipeline depth) need time to
        # connect and to go once round the server before the window opens;
        # measured here: 10000 connections on /cpu/100 answered nothing in a
        # 0.5 s warm-up. So the warm-up grows with the requests in flight.
        return dict(warmup_s=p.warmup_s + min(2.5, in_flight / 10000), duration_s=p.duration_s,
                    repeat=repeat, conn_requests=CONN_REQUESTS.get(scenario))

    if scenario in ("hello", "sleep", "cpu", "rotate"):
        c = int(x)
        return Point(scenario, model, c, c, PATHS[scenario], **base(c))
    if scenario == "stall":
        us = int(x)
        return Point("stall", model, us, STALL_CONNECTIONS, PATHS["stall"], rate=STALL_RATE,
                     pipeline=STALL_PIPELINE, background_connections=STALL_BUSY if us else 0,
                     background_us=us, **base())
    if scenario == "idle":
        return Point("idle", model, int(x), 1, PATHS["idle"], idle=int(x), **base())
    if scenario == "pipelined":
        c = int(x)
        return Point("pipelined", model, c, c, PATHS["pipelined"], pipeline=PIPELINE_DEPTH,
                     **base(c * PIPELINE_DEPTH))
    if scenario == "open-loop":
        return Point("open-loop", model, 0, OPEN_LOOP_CONNECTIONS, PATHS["open-loop"],
                     rate_fraction=x, **base(OPEN_LOOP_CONNECTIONS))
    if scenario == "ramp":
        # The whole ramp is the measurement: warm-up would hide it.
        return Point("ramp", model, p.ramp_connections, p.ramp_connections, PATHS["ramp"],
                     warmup_s=0.0, duration_s=p.ramp_connections / p.ramp_rate + p.duration_s,
                     connect_rate=p.ramp_rate, repeat=repeat)
    raise ValueError(f"unknown scenario {scenario}")


def sweep_xs(p: Profile, scenario: str) -> list[float]:
    return {"hello": p.connections, "sleep": p.sleep, "cpu": p.cpu,
            "stall": p.stall_us, "idle": p.idle, "pipelined": p.pipelined,
            "open-loop": p.open_rates, "rotate": p.rotate,
            "ramp": [p.ramp_connections]}[scenario]


def plan(profile: Profile, models: list[str], seed: int = 0) -> list[Point]:
    """Every point of a run, in the order they run.

    Sweep rounds first: scenario by scenario, x by x, and at each x the
    models in a shuffled order. Then the headline-only rounds, each one all
    headline points in a shuffled order. The A/A copy of profile.aa joins
    the headline points that ask for it. The shuffles come from `seed`."""
    p = profile
    rng = random.Random(seed)
    control = p.aa if p.aa in models else None
    heads = [h for h in p.headline if h.scenario in p.scenarios]

    def head_models(h: Headline) -> list[tuple[str, Optional[str]]]:
        ms = [m for m in models if h.models is None or m in h.models]
        out = [(m, None) for m in ms]
        if h.control and control:
            out.append((aa_name(control), control))
        return out

    def mark(pt: Point, control_of: Optional[str]) -> Point:
        is_head = any(h.scenario == pt.scenario and _same_x(h, pt) and
                      (h.models is None or pt.model in h.models or control_of) for h in heads)
        pt = replace(pt, headline=is_head, control_of=control_of)
        return replace(pt, profiled=wants_profile(p.profiled, pt))

    points: list[Point] = []
    for r in range(p.sweep_repeats):
        for sc in SCENARIOS:
            if sc not in p.scenarios or (sc == "ramp" and r > 0):
                continue
            for x in sweep_xs(p, sc):
                group = [(m, None) for m in models]
                head = next((h for h in heads if h.scenario == sc and h.x == x), None)
                if head is not None and head.control and control:
                    group.append((aa_name(control), control))
                rng.shuffle(group)
                points += [mark(make_point(p, sc, m, x, r), c) for m, c in group]
    for r in range(p.sweep_repeats, p.repeats):
        group = [(h, m, c) for h in heads for m, c in head_models(h)]
        rng.shuffle(group)
        points += [mark(make_point(p, h.scenario, m, h.x, r), c) for h, m, c in group]
    return points


def _same_x(h: Headline, pt: Point) -> bool:
    return (pt.rate_fraction == h.x) if pt.scenario == "open-loop" else (pt.x == h.x)


# --- The time a run takes (--dry-run, the progress line, plan.json) --------
# Each point costs its warm-up and window plus a start/stop overhead, a
# little per connection (connecting, closing) and, for idle, opening the
# idle connections from Python. Calibrated on the 2-core machine: the gaps
# between the reference run's point start times (quiet machine), then a
# whole quick run under heavy load from other jobs (plan.json's "timing":
# points 680 s for an estimate of 649 s with a 0.15 s overhead, micro 29 s,
# report 13 s; 723 s in all). A run's own plan.json says how far off it was.
POINT_OVERHEAD_S = 0.2
PER_CONNECTION_S = 1 / 40000
IDLE_SETTLE_S = 0.3          # point.py waits this long after the holders are ready
# Opening the idle connections with loadgen --idle and closing them after
# the point (two quick runs: about 2 s for 16384 held by epoll, 6-7 s by a
# thread per connection or Node.js).
PER_IDLE_S = 1 / 5000
# perf (issue 17), where it runs: attaching and detaching `perf stat` at a
# counted point (the run's tracepoints held open by perfcount's keeper), and
# recording, folding and drawing a flame graph at a profiled one. From the
# gaps between point starts of smoke and quick runs with and without perf.
PERF_COUNT_S = 0.07
PROFILE_S = 1.3
# scripts/microbench.py inside make bench, and drawing the report (flame
# graphs' differential views included).
MICRO_S = 40.0
REPORT_S = 20.0


def point_estimate_s(pt: Point) -> float:
    return (pt.warmup_s + pt.duration_s + POINT_OVERHEAD_S + pt.connections * PER_CONNECTION_S
            + (IDLE_SETTLE_S + pt.idle * PER_IDLE_S if pt.idle else 0.0)
            + (STALL_LEAD_S if pt.background_connections else 0.0)
            + (PERF_COUNT_S if pt.scenario in PERF_COUNTED else 0.0)
            + (PROFILE_S if pt.profiled else 0.0))


def estimate_s(points: list[Point]) -> float:
    return sum(point_estimate_s(pt) for pt in points)
