"""Which side limited a point: server-bound, client-bound, both, or neither,
from the idle time of the CPUs each side was pinned to.

accounting.json (written per point by point.py) holds /proc/stat deltas per
CPU over the loadgen's window and the two CPU sets. A set is saturated when
its CPUs were idle less than SATURATED_IDLE of the window: nothing was left
to give, whoever used it (the process, the kernel's softirq work on its
behalf, or a neighbour on a shared machine: the report's notice says when
the machine was shared). Idle time is read per CPU rather than per process
because a process's CPU share misses the kernel work done for it and draws
a cliff at an arbitrary share (issue 14).

Without accounting.json (older runs) the class falls back to the processes'
own CPU time per CPU of their set, marked `saturation_source = process`.
"""
from __future__ import annotations

from typing import Optional

SATURATED_IDLE = 0.10
FIELDS = ("user_s", "nice_s", "system_s", "idle_s", "iowait_s", "irq_s", "softirq_s", "steal_s")
CLASSES = ("neither", "server-bound", "client-bound", "both")


def set_shares(per_cpu: dict, cpus) -> Optional[dict]:
    """Shares of the set's total time: busy (not idle or iowait), user,
    system, softirq, steal. None if the set's CPUs are not all there."""
    if not cpus or not isinstance(per_cpu, dict):
        return None
    tot = dict.fromkeys(FIELDS, 0.0)
    for c in cpus:
        fields = per_cpu.get(str(c))
        if not isinstance(fields, dict):
            return None
        for k in FIELDS:
            tot[k] += float(fields.get(k) or 0.0)
    total = sum(tot.values())
    if total <= 0:
        return None
    return {"busy": round(1 - (tot["idle_s"] + tot["iowait_s"]) / total, 4),
            "user": round((tot["user_s"] + tot["nice_s"]) / total, 4),
            "system": round(tot["system_s"] / total, 4),
            "softirq": round((tot["softirq_s"] + tot["irq_s"]) / total, 4),
            "steal": round(tot["steal_s"] / total, 4)}


def classify(server_busy: Optional[float], client_busy: Optional[float]) -> str:
    """The class from the busy shares of the two sets; "" if one is unknown."""
    if server_busy is None or client_busy is None:
        return ""
    s = server_busy >= 1 - SATURATED_IDLE
    c = client_busy >= 1 - SATURATED_IDLE
    return CLASSES[int(s) + 2 * int(c)]


def columns(accounting: Optional[dict]) -> dict:
    """server_cpus_* and client_cpus_* shares, saturation and its source."""
    row: dict = {}
    if not isinstance(accounting, dict):
        return row
    per_cpu, cpus = accounting.get("per_cpu"), accounting.get("cpus") or {}
    shares = {}
    for side in ("server", "client"):
        sh = set_shares(per_cpu, cpus.get(side))
        shares[side] = sh
        for k, v in (sh or {}).items():
            row[f"{side}_cpus_{k}"] = v
    if shares["server"] and shares["client"]:
        row["saturation"] = classify(shares["server"]["busy"], shares["client"]["busy"])
        row["saturation_source"] = "per-cpu"
    foreign = foreign_share(per_cpu, cpus.get("server"), (accounting.get("server") or {}).get("cpu_s"))
    if foreign is not None:
        row["server_cpus_foreign"] = foreign
    return row


def foreign_share(per_cpu: dict, cpus, server_cpu_s) -> Optional[float]:
    """The share of the server CPUs' busy time that the server did not use:
    other processes, kernel threads, interrupts for others. Near 0 when the
    server had its CPUs to itself, as the bench intends; perf's counts on
    those CPUs (perftarget.whole_cpus) include this share of other work."""
    if not cpus or not isinstance(per_cpu, dict) or not isinstance(server_cpu_s, (int, float)):
        return None
    busy = 0.0
    for c in cpus:
        fields = per_cpu.get(str(c))
        if not isinstance(fields, dict):
            return None
        busy += sum(float(fields.get(k) or 0.0) for k in FIELDS if k not in ("idle_s", "iowait_s"))
    if busy <= 0:
        return None
    return round(max(0.0, busy - server_cpu_s) / busy, 4)


def fallback(server_util_per_cpu: Optional[float], client_util_per_cpu: Optional[float]) -> dict:
    """The class from the processes' own CPU time when no per-CPU idle time
    was recorded (format of older runs)."""
    cls = classify(server_util_per_cpu, client_util_per_cpu)
    return {"saturation": cls, "saturation_source": "process"} if cls else {}
