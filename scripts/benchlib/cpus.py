"""The machine's CPUs and how the bench splits them (issue 14 item 5).

The server and the load generator get disjoint CPU sets, so that neither
steals the other's time and each side's CPU can be read on its own. SMT
siblings (two hardware threads of one core) stay on the same side: two
siblings share a core's execution units, so a server thread on one and a
client thread on the other would slow each other in a way no counter shows.

By default the cores are split in half (the client gets the odd one out: on
small machines the load generator is the usual bottleneck), in the order of
(package, core), so that on a two-socket machine each side gets a socket.
--server-cpus / --client-cpus override either side; the other side is then
the rest. The topology is read from /sys/devices/system/cpu, or from a
recording of it (`grep . /sys/devices/system/cpu/online
/sys/devices/system/cpu/cpu*/topology/*`), which is how the unit tests feed
it the topologies of other machines.
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Optional

SYSFS = "/sys/devices/system/cpu"


class CpuSetError(ValueError):
    """A CPU set that cannot be used, with the reason in words."""


def parse_list(text: str, what: str = "CPU list") -> list[int]:
    """'0-3,8,10-11' -> [0, 1, 2, 3, 8, 10, 11] (the kernel's and taskset's
    list format). Raises CpuSetError on anything else."""
    cpus: set[int] = set()
    if not text or not text.strip():
        raise CpuSetError(f"{what}: empty")
    for part in text.strip().split(","):
        m = re.fullmatch(r"\s*(\d+)\s*(?:-\s*(\d+)\s*)?", part)
        if not m:
            raise CpuSetError(f"{what} '{text}': '{part}' is not a CPU number or a range like 2-5")
        lo = int(m.group(1))
        hi = int(m.group(2)) if m.group(2) is not None else lo
        if hi < lo:
            raise CpuSetError(f"{what} '{text}': range {lo}-{hi} runs backwards")
        cpus.update(range(lo, hi + 1))
    return sorted(cpus)


def format_list(cpus: Iterable[int]) -> str:
    """[0, 1, 2, 3, 8] -> '0-3,8'."""
    out: list[str] = []
    run: list[int] = []
    for c in sorted(set(cpus)):
        if run and c == run[-1] + 1:
            run.append(c)
            continue
        if run:
            out.append(f"{run[0]}-{run[-1]}" if len(run) > 1 else str(run[0]))
        run = [c]
    if run:
        out.append(f"{run[0]}-{run[-1]}" if len(run) > 1 else str(run[0]))
    return ",".join(out)


@dataclass(frozen=True)
class Topology:
    online: tuple[int, ...]
    # Sibling groups (one per physical core), in (package, core) order.
    cores: tuple[tuple[int, ...], ...]
    package_of: dict = field(default_factory=dict, compare=False)

    @property
    def smt(self) -> bool:
        return any(len(c) > 1 for c in self.cores)

    def core_of(self, cpu: int) -> tuple[int, ...]:
        return next((c for c in self.cores if cpu in c), (cpu,))

    def describe(self) -> dict:
        return {"online": format_list(self.online), "cores": len(self.cores),
                "packages": len(set(self.package_of.values())) or 1,
                "smt": self.smt, "siblings": [format_list(c) for c in self.cores]}


Reader = Callable[[str], Optional[str]]


def sysfs_reader(root: str = SYSFS) -> Reader:
    def read(rel: str) -> Optional[str]:
        try:
            return Path(root, rel).read_text().strip()
        except OSError:
            return None
    return read


def recorded_reader(text: str, root: str = SYSFS) -> Reader:
    """A reader over the output of `grep . FILES` (lines 'PATH:VALUE')."""
    files: dict[str, str] = {}
    for line in text.splitlines():
        path, sep, value = line.partition(":")
        if sep and path.startswith(root + "/"):
            files[path[len(root) + 1:]] = value.strip()
    return files.get


def read_topology(read: Reader) -> Topology:
    """The online CPUs grouped into cores. A machine (or container) that
    hides the topology files gets one core per CPU: nothing is grouped that
    the kernel did not say belongs together."""
    online_text = read("online")
    online = parse_list(online_text, "online CPUs") if online_text else list(range(os.cpu_count() or 1))
    key: dict[int, tuple[int, int]] = {}
    package_of: dict[int, int] = {}
    groups: dict[tuple[int, ...], tuple[int, int]] = {}
    for cpu in online:
        sib_text = (read(f"cpu{cpu}/topology/thread_siblings_list")
                    or read(f"cpu{cpu}/topology/core_cpus_list"))
        siblings = tuple(c for c in parse_list(sib_text) if c in online) if sib_text else (cpu,)
        if cpu not in siblings:
            siblings = (cpu,)
        package = _int(read(f"cpu{cpu}/topology/physical_package_id"), 0)
        package_of[cpu] = package
        key[cpu] = (package, min(siblings))
        groups.setdefault(siblings, key[cpu])
    cores = tuple(sorted(groups, key=lambda g: groups[g]))
    return Topology(tuple(online), cores, package_of)


def _int(text: Optional[str], default: int) -> int:
    try:
        return int(text) if text is not None else default
    except ValueError:
        return default


@dataclass
class CpuSplit:
    server: list[int]
    client: list[int]
    how: str                       # "default" or "given"
    notes: list[str] = field(default_factory=list)

    @property
    def headline(self) -> list[int]:
        """The one CPU of the one-core comparison: the headline on any machine."""
        return self.server[:1]

    def describe(self) -> dict:
        return {"server": self.server, "client": self.client, "how": self.how,
                "headline_server": self.headline, "notes": self.notes}


def split(topo: Topology, allowed: Optional[Iterable[int]] = None,
          server: Optional[str] = None, client: Optional[str] = None) -> CpuSplit:
    """Disjoint server and client sets. `allowed` is this process's affinity
    (a container or taskset may restrict it); `server`/`client` are the
    command line's lists, or None for the default."""
    usable = [c for c in topo.online if allowed is None or c in set(allowed)]
    if not usable:
        raise CpuSetError(f"no CPU both online ({format_list(topo.online)}) and allowed to this process")
    if server is None and client is None:
        return _default(topo, usable)
    given = {}
    for name, text in (("--server-cpus", server), ("--client-cpus", client)):
        if text is None:
            continue
        cpus = parse_list(text, name)
        for c in cpus:
            if c not in topo.online:
                raise CpuSetError(f"{name} {text}: CPU {c} is not online (online: {format_list(topo.online)})")
            if c not in usable:
                raise CpuSetError(f"{name} {text}: CPU {c} is not allowed to this process "
                                  f"(allowed: {format_list(usable)})")
        given[name] = cpus
    s, c = given.get("--server-cpus"), given.get("--client-cpus")
    if s is not None and c is not None:
        both = sorted(set(s) & set(c))
        if both:
            raise CpuSetError(f"--server-cpus and --client-cpus overlap on CPU {format_list(both)}: "
                              "the two sides must not share a CPU")
    elif s is not None:
        c = [x for x in usable if x not in s]
        if not c:
            raise CpuSetError(f"--server-cpus {server} leaves no CPU for the load generator")
    else:
        s = [x for x in usable if x not in c]
        if not s:
            raise CpuSetError(f"--client-cpus {client} leaves no CPU for the server")
    out = CpuSplit(sorted(s), sorted(c), "given")
    for core in topo.cores:
        if set(core) & set(s) and set(core) & set(c):
            out.notes.append(f"CPUs {format_list(core)} are SMT siblings of one core, split between "
                             "server and client: the two sides share that core's execution units")
    return out


def _default(topo: Topology, usable: list[int]) -> CpuSplit:
    cores = [tuple(c for c in core if c in usable) for core in topo.cores]
    cores = [c for c in cores if c]
    if len(cores) >= 2:
        half = len(cores) // 2
        server = sorted(c for core in cores[:half] for c in core)
        client = sorted(c for core in cores[half:] for c in core)
        return CpuSplit(server, client, "default")
    only = cores[0]
    if len(only) >= 2:
        return CpuSplit([only[0]], list(only[1:]), "default", [
            f"one core with SMT siblings {format_list(only)}: server and client get one sibling "
            "each and share that core's execution units"])
    return CpuSplit([only[0]], [only[0]], "default", [
        f"a single CPU ({only[0]}): server and load generator share it, so neither side's "
        "figures are those of a machine where they run apart"])


def from_machine(server: Optional[str] = None, client: Optional[str] = None,
                 root: str = SYSFS) -> tuple[Topology, CpuSplit]:
    topo = read_topology(sysfs_reader(root))
    return topo, split(topo, os.sched_getaffinity(0), server, client)
