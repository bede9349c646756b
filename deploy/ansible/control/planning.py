"""The run's points, from the bench's own planner, and each point's command
lines once it is its turn.

plan() is `bench.py`'s planning step for hosts the playbook drives: the
same profiles, models, rounds, shuffle, A/A control and plan.json
(scripts/benchlib/profiles.py, run.py), with the server host's CPUs
deciding which variants exist. It writes the run folder's plan.json,
notices.json, machine.json and peers.json, records every point that
cannot run here (a model that does not serve a scenario, the scenarios not
run across hosts yet) as the bench would, and keeps what prepare() needs in
hosts.json's "context".

prepare() turns one point into the server's command line and the one
loadgen command line every shard shares (-c, -R, --connect-rate are the
totals: `--shard I/N` takes each host's part). Open-loop rates are
resolved there, from the hello points measured so far in this run, as the
bench does.
"""
from __future__ import annotations

import copy
import json
import os
import time
from dataclasses import asdict
from pathlib import Path
from types import SimpleNamespace

from benchlib import capacity, cpus as cpulib, machine, peers, registry, summary
from benchlib.models import DEFAULT_POOL, our_models
from benchlib.point import FD_MARGIN, background_argv, loadgen_argv, split
from benchlib.profiles import PROFILES, SCENARIOS, Point
from benchlib.run import describe_plan, planned, save_plan

REPO = Path(__file__).resolve().parent.parent.parent.parent


class PlanError(ValueError):
    pass


def read_hosts(run_dir: Path, server: str, clients: list[str]) -> dict:
    """The hosts as the playbook described them, one file each
    (run_dir/hosts/NAME.json: name, address, hostinfo.py's output, the
    measured clock offset), the clients in the inventory's order, which is
    the order of the shards."""
    def read(name: str) -> dict:
        path = run_dir / "hosts" / f"{name}.json"
        try:
            return json.loads(path.read_text())
        except (OSError, ValueError) as e:
            raise PlanError(f"{path}: {e}")
    if not clients:
        raise PlanError("the inventory's clients group is empty: at least one client host is needed")
    return {"server": read(server), "clients": [read(c) for c in clients]}


def load_hosts(run_dir: Path) -> dict:
    return json.loads((run_dir / "hosts.json").read_text())


def save_hosts(run_dir: Path, hosts: dict) -> None:
    (run_dir / "hosts.json").write_text(json.dumps(hosts, indent=1))


def _profile(name: str, repeats, scenarios):
    if name not in PROFILES:
        raise PlanError(f"unknown profile {name!r} (one of {', '.join(sorted(PROFILES))})")
    profile = copy.deepcopy(PROFILES[name])
    if repeats:
        profile.repeats = max(int(repeats), profile.sweep_repeats)
    if scenarios:
        bad = set(scenarios) - set(SCENARIOS)
        if bad:
            raise PlanError(f"unknown scenario(s): {', '.join(sorted(bad))} (known: {', '.join(SCENARIOS)})")
        profile.scenarios = [s for s in SCENARIOS if s in scenarios]
    return profile


def record(run_dir: Path, pt: Point, model: str, label: str, status: str, reason: str) -> None:
    """point.json of a point that does not run, in the bench's form."""
    pdir = run_dir / "points" / pt.id
    pdir.mkdir(parents=True, exist_ok=True)
    (pdir / "point.json").write_text(json.dumps(
        {"point": asdict(pt), "id": pt.id, "model": model, "label": label, "peer": False,
         "status": status, "reason": reason, "network": "hosts"}, indent=1))


def plan(run_dir: Path, build: Path, server_name: str, client_names: list[str], profile_name: str,
         models=None, scenarios=None, repeats=None, seed=None, pool: int = DEFAULT_POOL) -> list[str]:
    """Plans the run into run_dir; returns the ids of the points to
    measure, in order."""
    hosts = read_hosts(run_dir, server_name, client_names)
    server = hosts["server"]
    clients = hosts["clients"]
    server_cpus = server["info"]["cpus"]
    profile = _profile(profile_name, repeats, scenarios)
    seed = int(seed) if seed not in (None, "") else int.from_bytes(os.urandom(4), "big")
    specs, notices = our_models(build, pool, profile=profile.name, server_cpus=len(server_cpus))
    # our_models() asked the control machine whether each model can run;
    # the server host's kernel is the one that counts (io_uring).
    model_of = {v.id: v.model for v in registry.variants(pool, len(server_cpus))}
    for model, (ok, why) in (server["info"].get("probes") or {}).items():
        if not ok:
            notices.append(f"{model}: cannot run on the server host {server['name']} ({why}): "
                           f"its points are skipped")
            specs = [s for s in specs if model_of.get(s.name) != model]
    if models:
        keep = set(models)
        unknown = keep - {s.name for s in specs}
        if unknown:
            notices.append(f"models asked for but not available: {', '.join(sorted(unknown))}")
        specs = [s for s in specs if s.name in keep]
    if not specs:
        raise PlanError("no model to measure: " + "; ".join(notices or ["the models list matched none"]))
    points, runnable, by_name = planned(profile, specs, seed)

    todo: list[Point] = []
    for pt in points:
        spec = by_name[pt.model]
        if not spec.serves(pt.scenario):
            needs = "/cpu (the background of stall)" if pt.scenario == "stall" else pt.path
            record(run_dir, pt, spec.name, spec.label, "n/a",
                   spec.why_not.get(pt.scenario) or f"{spec.name} does not serve {needs}")
        else:
            todo.append(pt)
    client_threads = min(len(c["info"]["cpus"]) for c in clients)
    hosts["context"] = {
        "profile": profile.name, "open_rates": profile.open_rates, "equal_load": profile.equal_load,
        "seed": seed,
        "client_threads": client_threads,
        "specs": {s.name: {"label": s.label, "argv": _argv_tail(s), "listen_any": s.listen_any,
                           "cpus": s.cpus, "announces": s.announces, "processes": s.processes}
                  for s in by_name.values()},
        "points": {pt.id: asdict(pt) for pt in todo}}
    save_hosts(run_dir, hosts)

    info = describe_plan(profile, points, runnable, seed, micro=False)
    info["hosts"] = {"server": server["name"], "clients": [c["name"] for c in clients]}
    save_plan(run_dir, info)
    peers.save_missing(run_dir, [], skipped_on_purpose=True)
    notices += _notices(profile, server, clients, client_threads)
    from benchlib import report   # matplotlib: not for every point's prepare
    report.save_notices(run_dir, notices)
    (run_dir / "machine.json").write_text(json.dumps(_machine(build, profile.name, server, clients), indent=1))
    return [pt.id for pt in todo]


def _argv_tail(spec) -> list[str]:
    """The server's command line with the binary by its plain name: each
    host runs the copy in its own bundle."""
    argv = spec.make_argv(0, Path("."))
    return [Path(argv[0]).name, *argv[3:]]     # drop "--port 0": the port is the run's


def _notices(profile, server: dict, clients: list[dict], threads: int) -> list[str]:
    names = ", ".join(c["name"] for c in clients)
    out = [f"network: hosts driven by Ansible (deploy/ansible): server on {server['name']} "
           f"({server['address']}), load split over {len(clients)} client host(s) {names} "
           "with loadgen --shard I/N and one start barrier, merged with loadgen --merge",
           f"cpus: server {server['info']['cpus_list']} on {server['name']} (one-core models on CPU "
           f"{server['info']['cpus'][0]}); load generator {threads} thread(s) per client host",
           "peers (nginx, Node.js, the floor) are not run across hosts: the playbook runs our own models"]
    for c in clients:
        clk = c.get("clock") or {}
        if clk:
            out.append(f"clock: {c['name']} is {clk['offset_s'] * 1e3:+.3f} ms from {server['name']} "
                       f"(± {clk['uncertainty_s'] * 1e3:.3f} ms), passed as --clock-offset")
    for host in [server, *clients]:
        out += [f"{host['name']}: {n}" for n in host["info"].get("notes") or []]
    return out


def _machine(build: Path, profile: str, server: dict, clients: list[dict]) -> dict:
    """The server host's description (what the numbers are of), the build's
    from the control machine (compiler, commit), and every client host's."""
    out = machine.describe(build, REPO)
    build_keys = ("compiler", "compiler_version", "build_type", "build_dir", "git_commit", "git_dirty", "python")
    control = {k: out[k] for k in ("hostname", "date") if k in out}
    out.update({k: v for k, v in server["info"]["machine"].items() if k not in build_keys})
    lists = [c["info"]["cpus_list"] for c in clients]
    names = ", ".join(c["name"] for c in clients)
    out.update(profile=profile, control=control, server_host=server["name"],
               # REPORT.md: "load generator to CPU <this>".
               client_cpus=(f"{lists[0]} on each of {len(clients)} client host(s) ({names})"
                            if len(set(lists)) == 1 else
                            "; ".join(f"{c['name']}: {c['info']['cpus_list']}" for c in clients)),
               client_hosts={c["name"]: c["info"]["machine"] for c in clients},
               clocks={c["name"]: c.get("clock") for c in clients})
    return out


# ---------------------------------------------------------------- one point

# What a point's helpers may take beyond the barrier's lead, the warm-up and
# the window: the server's start (up to 20 s), waiting for every shard to
# ask for the barrier (up to 60 s), stopping and packing (~15 s), closing
# thousands of connections, and a margin. Each helper runs under `timeout`
# with this bound; the playbook waits as long for its result.
BOUND_MARGIN_S = 150


def prepare(run_dir: Path, point_id: str, target: str, lead_s: float) -> dict:
    """What the playbook runs for one point, or {"skip": true} after
    recording why not. target: http://SERVER:PORT; lead_s: the start
    barrier's lead."""
    hosts = load_hosts(run_dir)
    ctx = hosts["context"]
    pt = Point(**ctx["points"][point_id])
    spec = ctx["specs"][pt.model]
    if pt.rate_fraction is not None:
        ref = _reference(run_dir, ctx["open_rates"], ctx["equal_load"])
        if ref is None:
            record(run_dir, pt.resolved(1.0), pt.model, spec["label"], "skipped",
                   "no valid hello point in this run to choose the open-loop rates "
                   "from (run open-loop together with hello)")
            return {"skip": True, "id": point_id}
        rate = ref["rates"].get(f"{pt.rate_fraction:g}") or max(1.0, round(pt.rate_fraction * ref["reference_rps"]))
        pt = Point(**{**asdict(pt), "rate": rate, "x": rate})
    server_nofile = hosts["server"]["info"].get("nofile") or 0
    if server_nofile and pt.idle + pt.connections + FD_MARGIN > server_nofile * spec.get("processes", 1):
        record(run_dir, pt, pt.model, spec["label"], "skipped",
               f"{pt.idle + pt.connections} connections exceed the server host's open-files limit "
               f"{server_nofile} x {spec.get('processes', 1)} process(es)")
        return {"skip": True, "id": point_id}
    clients = [c["name"] for c in hosts["clients"]]
    shards = min(len(clients), pt.connections)
    # Every shard must be given the same -t (the merge checks that the
    # configurations agree) and none more threads than its connections.
    threads = max(1, min(ctx["client_threads"], pt.connections // shards))
    url = f"{target}{pt.path}"
    command = _without_json(loadgen_argv(SimpleNamespace(loadgen="loadgen", client_cpus=range(threads)), pt,
                                         url, "@", pt.connections, pt.rate))
    # The client hosts taking part: a shard each on the first `shards`, and
    # for idle the idle connections spread over all of them.
    idle = split(pt.idle, len(clients)) if pt.idle else [0] * len(clients)
    parties = [{"host": h, "shard": i + 1 if i < shards else 0, "idle": idle[i]}
               for i, h in enumerate(clients) if i < shards or idle[i]]
    background = (_without_json(background_argv(SimpleNamespace(loadgen="loadgen"), pt,
                                                f"{target}{pt.background_path}", "@"))
                  if pt.background_connections else None)
    server_cpus = hosts["server"]["info"]["cpus"]
    cpus = server_cpus if spec["cpus"] == "all" else server_cpus[:1]
    port = target.rsplit(":", 1)[1]
    argv = [spec["argv"][0], "--port", port, *spec["argv"][1:], *(spec["listen_any"] or [])]
    idle_s = 120 + pt.idle / 200 if pt.idle else 0
    prepared = {"id": pt.id, "skip": False, "point": asdict(pt), "model": pt.model, "label": spec["label"],
                "server_argv": argv, "server_cpus": cpulib.format_list(cpus), "announces": spec["announces"],
                "loadgen_command": command, "shards": shards,
                "shard_hosts": clients[:shards], "parties": parties, "idle_url": url if pt.idle else "",
                "background_command": background,
                "warmup_s": pt.warmup_s, "duration_s": pt.duration_s,
                "timeout_s": float(command[command.index("--timeout") + 1].rstrip("ms")) / 1000,
                "idle_timeout_s": idle_s,
                "bound_s": int(BOUND_MARGIN_S + idle_s + lead_s + pt.warmup_s + pt.duration_s
                               + pt.connections / 1000),
                "started_at": time.time()}
    pdir = run_dir / "points" / pt.id
    pdir.mkdir(parents=True, exist_ok=True)
    (pdir / "prepared.json").write_text(json.dumps(prepared, indent=1))
    return prepared


def _without_json(argv: list[str]) -> list[str]:
    """A loadgen line without its `--json FILE`: each host names its own."""
    i = argv.index("--json")
    return argv[:i] + argv[i + 2:]


def _reference(run_dir: Path, fractions: list[float], equal_load: list[float]):
    """The bench's reference capacity (capacity.py) from this run's hello
    points, saved in open_loop.json for the report."""
    rows = [r for r in (summary.point_row(d) for d in sorted((run_dir / "points").glob("hello__*"))) if r]
    ref = capacity.reference(rows, fractions)
    if ref is not None:
        capacity.save(run_dir, ref, equal_load)
    return ref
