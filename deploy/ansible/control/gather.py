"""One point's folder in the bench's layout, from what the hosts sent back.

Each host hands back one archive per point (points/ID/hosts/HOST.tgz,
fetched by the playbook); it is unpacked beside it (points/ID/hosts/HOST/,
kept as the raw record). Then, as scripts/benchlib/README.md describes a
point folder:

* loadgen-I.json: shard I's result; loadgen.json: `loadgen --merge` of
  them on this machine (a point run by one shard: that shard's result),
  checked bucket by bucket against the parts (point.json's merge_check);
* samples.csv: the server's samples; loadgen_samples.csv: shard 1's;
* accounting.json: the server host's, read at the window's edges on the
  reference clock, with the client side of the busiest client host (the
  one that decides whether the load generators were the limit; all of
  them under client_hosts) and its CPUs under host-qualified names
  ("b2:1"), since CPU numbers repeat from host to host;
* point.json: the point, command lines, exits with their rusage, marks,
  status and reason, the hosts and their clock offsets.
"""
from __future__ import annotations

import json
import shutil
import tarfile
from pathlib import Path

from benchlib import merge
from benchlib.perfctl import read_json as _json

MEMBER_MAX_BYTES = 512 << 20


def unpack(pdir: Path) -> dict[str, Path]:
    """host -> its unpacked folder; every archive is checked to hold only
    plain files at its top level before anything is written."""
    out = {}
    for archive in sorted((pdir / "hosts").glob("*.tgz")):
        dest = archive.with_suffix("")
        dest.mkdir(exist_ok=True)
        with tarfile.open(archive) as tar:
            for m in tar.getmembers():
                if not m.isfile() or "/" in m.name or m.name.startswith(".") or m.size > MEMBER_MAX_BYTES:
                    raise ValueError(f"{archive}: unexpected member {m.name!r}")
                with tar.extractfile(m) as src, open(dest / m.name, "wb") as dst:
                    shutil.copyfileobj(src, dst)
        archive.unlink()
    for folder in sorted(p for p in (pdir / "hosts").glob("*") if p.is_dir()):
        out[folder.name] = folder
    return out


def finish(run_dir: Path, point_id: str, loadgen: Path) -> dict:
    pdir = run_dir / "points" / point_id
    prepared = json.loads((pdir / "prepared.json").read_text())
    folders = unpack(pdir) if (pdir / "hosts").is_dir() else {}
    server = next(((h, f) for h, f in folders.items() if (f / "server.json").exists()), None)
    info: dict = {"point": prepared["point"], "id": point_id, "model": prepared["model"],
                  "label": prepared["label"], "peer": False, "started_at": prepared["started_at"],
                  "network": "hosts", "loadgen_command": prepared["loadgen_command"],
                  "hosts": {"server": server[0] if server else None,
                            "clients": [p["host"] for p in prepared["parties"]]}}
    srv = _json(server[1] / "server.json") if server else None
    if srv is None:
        return _done(pdir, info, "failed", "the server host sent back no server.json (see the playbook's output)", [])
    info.update(server_argv=srv.get("server_argv"), marks=srv.get("marks") or {},
                cpus={"server": srv.get("cpus"), "client": None})
    if srv.get("server_exit"):
        info["server_exit"] = srv["server_exit"]
    notes = [f"{server[0]}: {n}" for n in srv.get("notes") or []]
    if not srv.get("start_at"):
        return _done(pdir, info, "failed", srv.get("reason") or "the server did not start", notes)
    _copy(server[1] / "samples.csv", pdir / "samples.csv")
    # "ok" may still carry a reason (an exit status other than 0 on SIGTERM).
    reasons = [srv.get("reason") or ""]
    sent = _parties(pdir, prepared, folders, info, reasons, notes)
    shard_hosts = {p["host"] for p in prepared["parties"] if p["shard"]}
    shards = [(h, sh) for h, sh in sent if h in shard_hosts]
    _merge(pdir, loadgen, prepared["shards"], info, reasons)
    merged = _json(pdir / "loadgen.json")
    if merged is None:
        return _done(pdir, info, "failed", "; ".join(["loadgen wrote no JSON", *reasons]), notes)
    acc = _json(server[1] / "accounting.json")
    if acc is not None:
        (pdir / "accounting.json").write_text(json.dumps(accounting(acc, shards, merged), indent=1))
    # The server died, or the point was stopped before its end: not a result.
    status = "ok" if srv.get("status") == "ok" else "failed"
    return _done(pdir, info, status, "; ".join(r for r in reasons if r), notes)


def _parties(pdir: Path, prepared: dict, folders: dict, info: dict, reasons: list, notes: list) -> list:
    """Each client host's shard.json, its loadgen's result as loadgen-I.json
    (loadgen.json when one shard is the whole load), the background's and
    the idle holders' records; returns [(host, shard.json)] in party order."""
    sent = []
    for party in prepared["parties"]:
        host, i = party["host"], party["shard"]
        if host not in folders:
            reasons.append(f"no result from {host}")
            continue
        sh = _json(folders[host] / "shard.json") or {}
        sent.append((host, sh))
        reasons += [f"{host}: {p}" for p in sh.get("problems") or []]
        notes += [f"{host}: {n}" for n in sh.get("notes") or []]
        if i:
            _copy(folders[host] / "loadgen.json",
                  pdir / (f"loadgen-{i}.json" if prepared["shards"] > 1 else "loadgen.json"))
            _copy(folders[host] / "loadgen_samples.csv",
                  pdir / ("loadgen_samples.csv" if i == 1 else f"loadgen_samples-{i}.csv"))
        if sh.get("background_argv"):
            # stall: the background load ran beside shard 1, as on one machine.
            _copy(folders[host] / "background.json", pdir / "background.json")
            _copy(folders[host] / "background_samples.csv", pdir / "background_samples.csv")
            info.update(background_argv=sh["background_argv"], background_exit=sh.get("background_exit"))
            info["marks"].update((sh.get("marks") or {}))
        if sh.get("idle_exit"):
            info.setdefault("idle_exits", []).append(sh["idle_exit"])
    shards = [sh for _, sh in sent if sh.get("loadgen_argv")]
    info.update(loadgen_argv=shards[0]["loadgen_argv"] if shards else None,
                loadgen_argvs=[sh["loadgen_argv"] for sh in shards],
                loadgen_exit=shards[0].get("loadgen_exit") if shards else None,
                loadgen_exits=[sh["loadgen_exit"] for sh in shards if sh.get("loadgen_exit")],
                clock_offsets={h: sh.get("clock_offset_s") for h, sh in sent})
    if shards:
        info["cpus"]["client"] = shards[0].get("cpus")
    return sent


def _merge(pdir: Path, loadgen: Path, shards: int, info: dict, reasons: list) -> None:
    """loadgen.json from loadgen-1..N.json, checked against them."""
    if shards < 2:
        return
    parts = [pdir / f"loadgen-{i}.json" for i in range(1, shards + 1)]
    problem = merge.merge(loadgen, parts, pdir / "loadgen.json")
    if problem:
        reasons.append(problem)
    elif (pdir / "loadgen.json").exists():
        info["merge_check"] = merge.check(_json(pdir / "loadgen.json"), [_json(p) for p in parts])
        if info["merge_check"]["mismatches"]:
            reasons.append("merged != sum of parts: " + "; ".join(info["merge_check"]["mismatches"]))


def accounting(acc: dict, sent: list[tuple[str, dict]], merged: dict) -> dict:
    """The server host's accounting.json with the client side added."""
    hosts = []
    for host, sh in sent:
        a = sh.get("accounting") or {}
        client = a.get("client") or {}
        window = a.get("window") or {}
        span = ((window.get("end_monotonic_ns") or 0) - (window.get("start_monotonic_ns") or 0)) / 1e9
        cpus = a.get("cpus") or sh.get("cpus") or []
        util = (client["cpu_s"] / span / max(1, len(cpus))
                if client.get("cpu_s") is not None and span > 0 else None)
        hosts.append({"host": host, "cpus": cpus, "client": client, "util_per_cpu": util,
                      "per_cpu": a.get("per_cpu") or {}, "window": window})
    acc["client_hosts"] = hosts
    measured = [h for h in hosts if h["util_per_cpu"] is not None]
    if measured:
        busiest = max(measured, key=lambda h: h["util_per_cpu"])
        acc["client"] = dict(busiest["client"], host=busiest["host"])
        acc["cpus"]["client"] = [f"{busiest['host']}:{c}" for c in busiest["cpus"]]
        acc["per_cpu"].update({f"{busiest['host']}:{c}": v for c, v in busiest["per_cpu"].items()})
    acc["window"]["loadgen_reported"] = merged.get("window")
    return acc


def _copy(src: Path, dst: Path) -> bool:
    if not src.exists():
        return False
    shutil.copyfile(src, dst)
    return True


def _done(pdir: Path, info: dict, status: str, reason: str, notes: list[str]) -> dict:
    info["status"], info["reason"] = status, reason
    if notes:
        info["notes"] = notes
    (pdir / "point.json").write_text(json.dumps(info, indent=1))
    return info
