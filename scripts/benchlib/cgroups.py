"""A cgroup per point for the server's processes and one for the client's,
so that their CPU time (nanoseconds, all threads and processes, including
those that come and go) and their memory are one read each at the edges of
the measured window, whatever the thread count (issue 14 item 1).

Both cgroup versions: v1 (`cpuacct.usage`, `cpuacct.usage_user`,
`cpuacct.usage_sys`; `memory.max_usage_in_bytes`, `memory.usage_in_bytes`),
as on the project's machine, and v2 (`cpu.stat`: usage_usec, user_usec,
system_usec; `memory.peak`, `memory.current`), as on a stock Debian 12. The
total is the scheduler's exact run time; the user/system split is the
kernel's tick-based estimate scaled to that total (both versions).

The groups live under a base group of this run, created beside (v2) or
below (v1) the bench's own cgroup, and are removed when the run ends; a
base left by a killed run is removed by the next one. A process joins its
group before it execs (wrap()), so that nothing it forks can escape it and
nothing of the bench is charged to it.
"""
from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

BASE_PREFIX = "iomodels-bench-"
# The wrapper that joins the cgroups (arguments up to "--") and execs the
# command: sh is on every machine, and joining from inside the child before
# the exec leaves no window in which a fork could escape.
JOIN = ('while [ "$1" != -- ]; do echo $$ > "$1" || '
        '{ echo "iomodels: cannot join cgroup $1" >&2; exit 125; }; shift; done; shift; exec "$@"')


@dataclass
class CpuUsage:
    total_ns: int
    user_ns: Optional[int]
    system_ns: Optional[int]


@dataclass
class MemoryUsage:
    peak_bytes: Optional[int]
    current_bytes: Optional[int]


# ---------------------------------------------------------------- readers
# Pure functions of a cgroup folder, so the unit tests run them on fixture
# files (testdata/cgroup/).

def _int_file(path: Path) -> Optional[int]:
    try:
        return int(path.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def _keyed(path: Path) -> dict[str, int]:
    out = {}
    for line in path.read_text().splitlines():
        key, _, value = line.partition(" ")
        if value.strip().lstrip("-").isdigit():
            out[key] = int(value)
    return out


def read_cpu_v1(cpuacct_dir: Path) -> CpuUsage:
    d = Path(cpuacct_dir)
    total = _int_file(d / "cpuacct.usage")
    if total is None:
        raise OSError(f"{d}/cpuacct.usage unreadable")
    return CpuUsage(total, _int_file(d / "cpuacct.usage_user"), _int_file(d / "cpuacct.usage_sys"))


def read_cpu_v2(group_dir: Path) -> CpuUsage:
    stat = _keyed(Path(group_dir) / "cpu.stat")
    if "usage_usec" not in stat:
        raise OSError(f"{group_dir}/cpu.stat has no usage_usec")

    def ns(key: str) -> Optional[int]:
        return stat[key] * 1000 if key in stat else None
    return CpuUsage(stat["usage_usec"] * 1000, ns("user_usec"), ns("system_usec"))


def read_memory_v1(memory_dir: Path) -> MemoryUsage:
    d = Path(memory_dir)
    return MemoryUsage(_int_file(d / "memory.max_usage_in_bytes"), _int_file(d / "memory.usage_in_bytes"))


def read_memory_v2(group_dir: Path) -> MemoryUsage:
    # memory.peak exists from kernel 5.19; memory.current everywhere.
    d = Path(group_dir)
    return MemoryUsage(_int_file(d / "memory.peak"), _int_file(d / "memory.current"))


# ---------------------------------------------------------------- where they are

@dataclass
class Mount:
    point: str      # where it is mounted
    root: str       # the part of the hierarchy it shows (not "/" in a cgroup namespace)


# The v1 controllers looked for: the accounting's, and perf_event (the
# hierarchy `perf stat -G` filters by when it is mounted; perftarget.py).
V1_CONTROLLERS = ("cpuacct", "memory", "cpu", "perf_event")


def parse_mountinfo(text: str) -> tuple[Optional[Mount], dict[str, Mount]]:
    """(the cgroup v2 mount, v1 controller -> its mount) from /proc/self/mountinfo."""
    v2: Optional[Mount] = None
    v1: dict[str, Mount] = {}
    for line in text.splitlines():
        left, sep, right = line.partition(" - ")
        if not sep:
            continue
        fields, rest = left.split(), right.split()
        if len(fields) < 5 or len(rest) < 3:
            continue
        mount = Mount(fields[4].replace("\\040", " "), fields[3])
        if rest[0] == "cgroup2" and v2 is None:
            v2 = mount
        elif rest[0] == "cgroup":
            for opt in rest[2].split(","):
                if opt in V1_CONTROLLERS:
                    v1.setdefault(opt, mount)
    return v2, v1


def parse_proc_cgroup(text: str) -> dict[str, str]:
    """controller -> this process's cgroup path ("" is the v2 hierarchy)."""
    out: dict[str, str] = {}
    for line in text.splitlines():
        parts = line.split(":", 2)
        if len(parts) != 3:
            continue
        if parts[1] == "":
            out[""] = parts[2]
        for controller in parts[1].split(","):
            if controller:
                out[controller] = parts[2]
    return out


def inside(mount: Mount, path: str) -> Path:
    """A cgroup path (as /proc/PID/cgroup gives it) as a folder of the mount."""
    rel = path
    if mount.root != "/" and (path == mount.root or path.startswith(mount.root + "/")):
        rel = path[len(mount.root):]
    return Path(mount.point) / rel.lstrip("/")


# ---------------------------------------------------------------- groups

class Group:
    """One side of one point: a cgroup (v2) or a cpuacct + memory pair (v1)."""

    def __init__(self, version: int, cpu_dir: Path, memory_dir: Optional[Path]):
        self.version = version
        self.cpu_dir = cpu_dir
        self.memory_dir = memory_dir
        for d in self._dirs():
            d.mkdir(exist_ok=True)

    @property
    def method(self) -> str:
        return f"cgroup-v{self.version}"

    @property
    def memory_method(self) -> Optional[str]:
        return f"cgroup-v{self.version}" if self.memory_dir else None

    @property
    def path(self) -> str:
        """The cgroup's path below the mount (what perf -G and cgroup.procs expect)."""
        return str(self.cpu_dir)

    def _dirs(self) -> list[Path]:
        # v2 has one folder for both; v1 one per hierarchy.
        return list(dict.fromkeys(d for d in (self.memory_dir, self.cpu_dir) if d))

    def procs_files(self) -> list[str]:
        return [str(d / "cgroup.procs") for d in self._dirs()]

    def wrap(self, argv: list[str]) -> list[str]:
        """argv run inside this group (it joins before it execs)."""
        return ["sh", "-c", JOIN, "iomodels-cgroup", *self.procs_files(), "--", *argv]

    def cpu(self) -> CpuUsage:
        return read_cpu_v1(self.cpu_dir) if self.version == 1 else read_cpu_v2(self.cpu_dir)

    def cpu_total_ns(self) -> int:
        """The total alone: one small read (the sampler's time series)."""
        if self.version == 1:
            with open(self.cpu_dir / "cpuacct.usage") as f:
                return int(f.read())
        with open(self.cpu_dir / "cpu.stat") as f:
            return int(f.readline().split()[1]) * 1000   # usage_usec is the first line

    def memory(self) -> Optional[MemoryUsage]:
        if not self.memory_dir:
            return None
        return read_memory_v1(self.memory_dir) if self.version == 1 else read_memory_v2(self.memory_dir)

    def pids(self) -> list[int]:
        try:
            return [int(p) for p in (self.cpu_dir / "cgroup.procs").read_text().split()]
        except (OSError, ValueError):
            return []

    def remove(self, wait_s: float = 2.0) -> bool:
        """Removes the folders once their processes are gone (a process just
        reaped may linger a moment); False if one is still busy."""
        deadline = time.monotonic() + wait_s
        ok = True
        for d in self._dirs():
            while True:
                try:
                    d.rmdir()
                    break
                except FileNotFoundError:
                    break
                except OSError:
                    if time.monotonic() >= deadline:
                        ok = False
                        break
                    time.sleep(0.05)
        return ok


class Cgroups:
    """The run's base groups; group(name) makes one point side's group."""

    def __init__(self, version: int, cpu_base: Path, memory_base: Optional[Path], note: str):
        self.version = version
        self.cpu_base = cpu_base
        self.memory_base = memory_base
        self.note = note

    def group(self, name: str) -> Group:
        return Group(self.version, self.cpu_base / name,
                     self.memory_base / name if self.memory_base else None)

    def close(self) -> None:
        for base in dict.fromkeys(b for b in (self.memory_base, self.cpu_base) if b):
            _remove_base(base)


def _remove_base(base: Path) -> None:
    """A base and its (empty) point groups; a group still busy stays."""
    for child in base.glob("*"):
        if child.is_dir():
            try:
                child.rmdir()
            except OSError:
                pass
    try:
        base.rmdir()
    except OSError:
        pass


def setup(want: str = "auto", mountinfo: str = "/proc/self/mountinfo",
          proc_cgroup: str = "/proc/self/cgroup") -> tuple[Optional[Cgroups], str]:
    """The run's cgroups, or None and why not. want: auto (v1's cpuacct where
    it is mounted, else v2), cgroup-v1 or cgroup-v2."""
    try:
        v2, v1 = parse_mountinfo(Path(mountinfo).read_text())
        own = parse_proc_cgroup(Path(proc_cgroup).read_text())
    except OSError as e:
        return None, f"cannot read {e.filename}: {e.strerror}"
    tried = []
    order = {"auto": [1, 2], "cgroup-v1": [1], "cgroup-v2": [2]}.get(want, [])
    for version in order:
        made, why = (_setup_v1(v1, own) if version == 1 else _setup_v2(v2, own))
        if made:
            return made, why
        tried.append(why)
    return None, "; ".join(tried) or f"unknown accounting method {want}"


def _base_name() -> str:
    return f"{BASE_PREFIX}{os.getpid()}"


def _make_base(parent: Path) -> Path:
    remove_stale(parent, BASE_PREFIX)
    base = parent / _base_name()
    base.mkdir(exist_ok=True)
    if not os.access(base / "cgroup.procs", os.W_OK):
        base.rmdir()
        raise PermissionError(f"{base}/cgroup.procs is not writable")
    return base


def remove_stale(parent: Path, prefix: str) -> None:
    """Groups named PREFIX<pid>[-...] of runs whose process is gone (killed
    before it could clean up), with their empty children."""
    try:
        entries = list(parent.glob(prefix + "*"))
    except OSError:
        return
    for base in entries:
        pid = base.name[len(prefix):].split("-")[0]
        if pid.isdigit() and not Path(f"/proc/{pid}").exists():
            _remove_base(base)


def base_parents(version: int, v2: Optional[Mount], v1: dict[str, Mount], own: dict[str, str]
                 ) -> dict[str, Path]:
    """Where the run's base groups go: "cpu" (and "memory" when that
    hierarchy exists). v1: below our own group of each hierarchy. v2: a
    process may only sit in a leaf once controllers are enabled below a
    group, so beside our own group (in its parent), unless we are at the
    root, where both may be."""
    if version == 1:
        return {role: inside(v1[ctl], own.get(ctl, "/"))
                for role, ctl in (("cpu", "cpuacct"), ("memory", "memory")) if ctl in v1}
    if v2 is None:
        return {}
    mine = own.get("", "/") or "/"
    parent = mine if mine == "/" else str(Path(mine).parent)
    return {"cpu": inside(v2, parent), "memory": inside(v2, parent)}


def _setup_v1(v1: dict[str, Mount], own: dict[str, str]) -> tuple[Optional[Cgroups], str]:
    if "cpuacct" not in v1:
        return None, "cgroup v1: no cpuacct hierarchy mounted"
    parents = base_parents(1, None, v1, own)
    try:
        cpu_base = _make_base(parents["cpu"])
    except OSError as e:
        return None, f"cgroup v1: cannot create a cpuacct group ({e})"
    memory_base, note = None, "cgroup v1: cpuacct and memory"
    if "memory" in parents:
        try:
            memory_base = _make_base(parents["memory"])
        except OSError as e:
            note = f"cgroup v1: cpuacct; memory from VmHWM (cannot create a memory group: {e})"
    else:
        note = "cgroup v1: cpuacct; memory from VmHWM (no memory hierarchy mounted)"
    return Cgroups(1, cpu_base, memory_base, note), note


def _setup_v2(v2: Optional[Mount], own: dict[str, str]) -> tuple[Optional[Cgroups], str]:
    if v2 is None:
        return None, "cgroup v2: not mounted"
    parent_dir = base_parents(2, v2, {}, own)["cpu"]
    try:
        base = _make_base(parent_dir)
    except OSError as e:
        return None, f"cgroup v2: cannot create a group in {parent_dir} ({e})"
    memory = False
    try:
        if "memory" in (base / "cgroup.controllers").read_text().split():
            (base / "cgroup.subtree_control").write_text("+memory")
            memory = True
    except OSError:
        pass
    note = "cgroup v2: cpu.stat" + (", memory.peak/current" if memory else
                                    "; memory from VmHWM (the memory controller is not enabled here)")
    return Cgroups(2, base, base if memory else None, note), note
