"""--network netns: one point with the server and N load generators on
emulated hosts (netns.Topology: own namespaces, own addresses, a switch
between them), the load generators' results merged with `loadgen --merge`.

This is the multi-host set-up of docs/multi-host.md on one machine: the same
command lines, the same merge. The merged result must equal the sum of its
parts (requests, every status and error count); run() checks that, and that
no namespace of this run is left afterwards.

    /usr/bin/python3 scripts/benchlib/network_mode.py --build build --out results/netns-smoke
"""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Optional

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from benchlib import netns                                    # noqa: E402
from benchlib.models import find_binary, our_models           # noqa: E402
from benchlib.procs import LISTENING, Child, pin              # noqa: E402

PORT = 8080   # a namespace of our own: the port is always free


def run(build: Path, out_dir: Path, model: str = "epoll", clients: int = 2,
        connections: int = 20, duration: str = "2s", path: str = "/hello",
        rate_limit: Optional[str] = None, delay: Optional[str] = None,
        server_cpus: str = "0", client_cpus: str = "1") -> dict:
    """Runs the point, writes out_dir/loadgen-<i>.json, merged.json and
    network.json (what was run and the checks); returns network.json's dict."""
    loadgen = find_binary(build, "loadgen")
    specs = {s.name: s for s in our_models(build)[0]}
    if loadgen is None or model not in specs:
        raise SystemExit(f"network mode: need loadgen and the '{model}' server under {build} "
                         f"(found: {', '.join(specs) or 'none'})")
    out_dir.mkdir(parents=True, exist_ok=True)
    stale = netns.cleanup_stale()
    result: dict = {"model": model, "clients": clients, "connections_per_client": connections,
                    "duration": duration, "path": path, "rate_limit": rate_limit,
                    "delay": delay, "stale_namespaces_removed": stale}
    spec = specs[model]
    parts = [out_dir / f"loadgen-{i}.json" for i in range(clients)]
    with netns.Topology(clients, rate_limit=rate_limit, delay=delay) as topo:
        result["namespaces"] = topo.namespaces
        result["notes"] = topo.notes
        result["server_addr"] = topo.server_addr
        result["client_addrs"] = [topo.client_addr(i) for i in range(clients)]
        server = Child(topo.server_wrap(pin(server_cpus, spec.make_argv(PORT, out_dir)
                                            + ["--host", topo.server_addr])), out_dir, "server")
        gens: list[Child] = []
        try:
            if not server.wait_for_line(LISTENING, timeout_s=10):
                raise RuntimeError("server did not start: " + (server.stderr_tail() or "no output"))
            url = f"http://{topo.server_addr}:{PORT}{path}"
            # All clients at once, as separate hosts would: each in its own
            # namespace, each writing its own JSON.
            gens += [Child(topo.client_wrap(i, pin(client_cpus, [
                        str(loadgen), "-c", str(connections), "-t", "1", "-d", duration,
                        "--quiet", "--json", str(parts[i]), *spec.loadgen_extra, url])),
                          out_dir, f"loadgen-{i}")
                    for i in range(clients)]
            budget = _seconds(duration) + 30
            for i, g in enumerate(gens):
                if not g.wait(budget):
                    g.stop()
                    raise RuntimeError(f"loadgen {i} ran past {budget:.0f} s")
                if not parts[i].exists():
                    raise RuntimeError(f"loadgen {i} wrote no JSON: {g.stderr_tail()}")
        finally:
            for child in [*gens, server]:
                child.stop()
    result["left_behind"] = [ns for ns in netns.our_namespaces() if ns in result["namespaces"]]

    merged = out_dir / "merged.json"
    proc = subprocess.run([str(loadgen), "--merge", *map(str, parts), "--json", str(merged)],
                          capture_output=True, text=True)
    if proc.returncode != 0 or not merged.exists():
        raise RuntimeError(f"loadgen --merge failed ({proc.returncode}): {proc.stderr.strip()}")
    result["check"] = check_merge(json.loads(merged.read_text()),
                                  [json.loads(p.read_text()) for p in parts])
    result["ok"] = not result["check"]["mismatches"] and not result["left_behind"]
    (out_dir / "network.json").write_text(json.dumps(result, indent=1))
    return result


def check_merge(merged: dict, parts: list[dict]) -> dict:
    """Counts that must add up exactly. Throughput need not (it is requests
    over the common window), so it is reported, not compared."""
    mismatches = []

    def expect(name: str, got, want) -> None:
        if got != want:
            mismatches.append(f"{name}: merged {got} != sum {want}")

    expect("requests", merged.get("requests"), sum(p["requests"] for p in parts))
    for group in ("status", "errors"):
        for key in sorted(set().union(*(p.get(group, {}) for p in parts))):
            expect(f"{group}.{key}", merged.get(group, {}).get(key, 0),
                   sum(p.get(group, {}).get(key, 0) for p in parts))
    # The histogram, bucket by bucket: "exact" means no percentile was
    # averaged anywhere, so the merged tail is the tail of all requests.
    want: dict = {}
    for p in parts:
        for index, count in p["histogram"]["buckets"]:
            want[index] = want.get(index, 0) + count
    got = {index: count for index, count in merged["histogram"]["buckets"]}
    expect("histogram.count", merged["histogram"]["count"], sum(p["histogram"]["count"] for p in parts))
    expect("histogram buckets differing", sum(got.get(k, 0) != want.get(k, 0) for k in set(got) | set(want)), 0)
    return {"mismatches": mismatches,
            "parts_requests": [p["requests"] for p in parts],
            "parts_rps": [p.get("throughput_rps") for p in parts],
            "merged_requests": merged.get("requests"),
            "merged_rps": merged.get("throughput_rps"),
            "merged_latency_us": merged.get("latency_us")}


def _seconds(text: str) -> float:
    for unit, scale in (("ms", 1e-3), ("s", 1.0), ("m", 60.0)):
        if text.endswith(unit) and text[:-len(unit)].replace(".", "", 1).isdigit():
            return float(text[:-len(unit)]) * scale
    raise ValueError(f"duration '{text}': expected e.g. 500ms, 2s, 1m")


def main(argv: list[str]) -> int:
    import argparse
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--build", type=Path, default=Path("build"), help="folder with server-* and loadgen")
    ap.add_argument("--out", type=Path, default=Path("results/netns-smoke"), help="where the JSON goes")
    ap.add_argument("--model", default="epoll", help="a model name of the bench (default epoll)")
    ap.add_argument("--clients", type=int, default=2, help="load-generator hosts (default 2)")
    ap.add_argument("--connections", type=int, default=20, help="connections per load generator")
    ap.add_argument("--duration", default="2s", help="measured time, e.g. 2s")
    ap.add_argument("--path", default="/hello", help="request path (default /hello)")
    ap.add_argument("--rate-limit", help="tc tbf rate on the server's link, e.g. 100mbit")
    ap.add_argument("--delay", help="netem delay per client link, e.g. 1ms (where netem exists)")
    ap.add_argument("--server-cpus", default="0")
    ap.add_argument("--client-cpus", default="1")
    a = ap.parse_args(argv)
    try:
        _seconds(a.duration)
        if not 1 <= a.clients <= netns.MAX_CLIENTS or a.connections < 1:
            raise ValueError("--clients must be 1..200 and --connections >= 1")
        r = run(a.build.resolve(), a.out.resolve(), a.model, a.clients, a.connections, a.duration,
                a.path, a.rate_limit, a.delay, a.server_cpus, a.client_cpus)
    except ValueError as e:
        ap.error(str(e))
    except (RuntimeError, netns.NetnsError) as e:
        print(f"network mode: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        # The namespaces and processes are already gone: the with-block and
        # the finally above ran on the way out.
        print("network mode: interrupted", file=sys.stderr)
        return 130
    c = r["check"]
    for note in r["notes"]:
        print(f"note: {note}")
    print(f"server {r['server_addr']} ({r['model']}), clients {', '.join(r['client_addrs'])}")
    print("parts: " + ", ".join(f"{n} req {rps:.0f} rps" for n, rps in zip(c["parts_requests"], c["parts_rps"])))
    print(f"merged: {c['merged_requests']} req {c['merged_rps']:.0f} rps, "
          f"p50 {c['merged_latency_us']['p50']} us, p99 {c['merged_latency_us']['p99']} us")
    print("merge check: " + ("; ".join(c["mismatches"]) or "merged counts == sum of parts"))
    print("namespaces left: " + (", ".join(r["left_behind"]) or "none"))
    return 0 if r["ok"] else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
