"""Who perf counts: the server, all its threads and processes, including the
ones it creates later.

Three ways. The bench's: its CPUs.

* cpus (whole_cpus): per-CPU events on the server's CPUs, no filter
  (`perf stat -a -C CPUS`). For a harness that gives the server CPUs of
  its own (the bench pins itself, the load generator and perf elsewhere):
  the server is all that makes syscalls there. It costs nothing at a
  context switch, where the cgroup filter below switches every event out
  and in whenever the CPU changes cgroup: about 3 µs a switch pair with
  the light level's 19 events, measured here +15-25 % server CPU per
  request for a server that sleeps once per request (blocking at 10
  connections; the open loop below capacity), nothing for a busy loop.
  What else ran there is in its counts: the summary's
  `server_cpus_foreign` says how much (the share of those CPUs' busy time
  that was not the server's).

Else (make profile's recordings, a shared CPU):

* cgroup: per-CPU events filtered by the server's cgroup (`perf stat -a -C
  CPUS -G CGROUP`). O(CPUs) events whatever the thread count, so enabling
  them at the window's start is instant, and a thread or process created
  later is in the cgroup from birth. The cgroup is the bench's own for the
  server when it has one (pass it), else one made here in the hierarchy perf
  filters by (cgroup v2, or v1's perf_event controller) and removed after.
* pids: `perf stat -p PIDS`, events inherited by every thread and process
  created after perf attached (attach before the load starts). Enabling
  them costs O(threads x events) (each inherited event is switched on in
  its task): tens of milliseconds at a few hundred threads on a busy
  machine, seconds at ten thousand. perfcount.json records how long the
  switch took (`edge_uncertainty_us`).
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

from . import cgroups

MOUNTINFO = "/proc/self/mountinfo"
# The cgroups made here: PREFIX<bench pid>-<server pid>; a killed run's are
# removed by the next one.
PREFIX = "iom-perf-"


def perf_cgroup_root(mountinfo_text: Optional[str] = None) -> tuple[Optional[Path], bool]:
    """The hierarchy perf resolves `-G NAME` in, as perf itself picks it: a
    cgroup v1 mount with the perf_event controller, else the cgroup2 mount.
    Returns (mount point or None, whether it is v1). Read with the
    accounting's own parser (cgroups.py), so that both agree on where the
    cgroup v2 hierarchy is: on a pure v2 machine (Debian 12) the bench's
    server group is then recognised as perf's, and used as it is."""
    if mountinfo_text is None:
        try:
            mountinfo_text = Path(MOUNTINFO).read_text()
        except OSError:
            return None, False
    v2, v1 = cgroups.parse_mountinfo(mountinfo_text)
    if "perf_event" in v1:
        return Path(v1["perf_event"].point), True
    return (Path(v2.point), False) if v2 else (None, False)


def cgroup_of(pid: int, root: Path, v1: bool) -> Optional[Path]:
    """The cgroup of pid in the hierarchy mounted at root."""
    try:
        return cgroup_in(Path(f"/proc/{pid}/cgroup").read_text(), root, v1)
    except OSError:
        return None


def cgroup_in(proc_cgroup_text: str, root: Path, v1: bool) -> Optional[Path]:
    """The folder, under root, that a /proc/PID/cgroup text names."""
    path = cgroups.parse_proc_cgroup(proc_cgroup_text).get("perf_event" if v1 else "")
    return None if path is None else root / path.lstrip("/")


@dataclass
class Target:
    pids: list[int]
    cpus: list[int]
    cgroup: Optional[Path] = None        # counting by cgroup when set
    root: Optional[Path] = None          # the hierarchy perf filters by
    made: bool = False                   # we made the cgroup: release() removes it
    moved_from: dict = field(default_factory=dict)   # pid -> its cgroup before
    note: str = ""                       # why not by cgroup, when not
    cpus_whole: bool = False             # counting everything on cpus (whole_cpus)

    @property
    def mode(self) -> str:
        return "cpus" if self.cpus_whole else "cgroup" if self.cgroup else "pids"

    def perf_args(self, n_events: int) -> tuple[list[str], list[str]]:
        """(arguments before the events, arguments after them): perf wants
        -G after the events, one cgroup name per event."""
        if self.cpus_whole:
            return ["-a", "-C", ",".join(map(str, self.cpus))], []
        if self.cgroup:
            name = "/" + str(self.cgroup.relative_to(self.root))
            before = ["-a"] + (["-C", ",".join(map(str, self.cpus))] if self.cpus else [])
            return before, ["-G", ",".join([name] * n_events)]
        return ["-p", ",".join(map(str, self.pids))], []

    def as_json(self) -> dict:
        return {"mode": self.mode, "pids": self.pids, "cpus": self.cpus,
                "cgroup": str(self.cgroup) if self.cgroup else None, "cgroup_made": self.made,
                **({"note": self.note} if self.note else {})}

    def release(self) -> None:
        """Removes the cgroup we made once its last user is done (a point's
        counting and profile share one): the server's processes (if any are
        left) go back where they were first."""
        if not (self.made and self.cgroup):
            return
        self.made = False   # released once per Target
        _users[self.cgroup] = _users.get(self.cgroup, 1) - 1
        if _users[self.cgroup] > 0:
            return
        del _users[self.cgroup]
        _origins.pop(self.cgroup, None)
        try:
            left = [int(p) for p in (self.cgroup / "cgroup.procs").read_text().split()]
        except OSError:
            left = []
        for pid in left:
            back = self.moved_from.get(pid) or self.root
            try:
                (back / "cgroup.procs").write_text(str(pid))
            except OSError:
                pass
        try:
            self.cgroup.rmdir()
        except OSError:
            pass


# Users of each cgroup made here: a point's counting and its profile target
# the same server, so they share one cgroup, removed when both are done.
_users: dict[Path, int] = {}
_origins: dict[Path, dict] = {}


def whole_cpus(pids: list[int], cpus: list[int]) -> Target:
    """Everything on cpus, which the server has to itself (see above)."""
    return Target(pids, cpus, cpus_whole=True)


def choose(pids: list[int], cpus: list[int], cgroup: Optional[str] = None,
           make_cgroup: bool = True) -> Target:
    """The way to count these processes. `cgroup`: the server's own cgroup
    if the bench made one. When it lies in the hierarchy perf filters by, it
    is used as is (moving the server out would take it from the bench's
    accounting); in another hierarchy (cgroup v1's cpuacct beside a v2 that
    perf uses) it is no concern of perf's, and one is made here."""
    root, v1 = perf_cgroup_root()
    note = ""
    if cgroup:
        path = Path(cgroup)
        if root and path.is_dir() and (path == root or root in path.parents):
            return Target(pids, cpus, path, root)
        note = f"{cgroup} is not in perf's cgroup hierarchy ({root}): "
    if not make_cgroup:
        return Target(pids, cpus, note=note + "counting by pid")
    if root is None:
        return Target(pids, cpus, note=note + "no cgroup hierarchy perf can filter by")
    path = root / f"{PREFIX}{os.getpid()}-{pids[0]}"
    if path in _users:
        _users[path] += 1
        return Target(pids, cpus, path, root, made=True, moved_from=_origins.get(path, {}))
    cgroups.remove_stale(root, PREFIX)
    try:
        path.mkdir(exist_ok=True)
    except OSError as e:
        return Target(pids, cpus, note=note + f"cannot make a cgroup under {root}: {e.strerror}")
    _users[path] = 1
    target = Target(pids, cpus, path, root, made=True, note=note.rstrip(": "))
    _origins[path] = target.moved_from
    for pid in pids:
        target.moved_from[pid] = cgroup_of(pid, root, v1)
        try:
            # A whole process moves (all its threads); what it forks later
            # is born in the cgroup.
            (path / "cgroup.procs").write_text(str(pid))
        except OSError as e:
            target.release()
            return Target(pids, cpus, note=f"cannot move the server into {path}: {e.strerror}")
    return target
