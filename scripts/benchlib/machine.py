"""machine.json: what the numbers of a run came from (SPEC §6: no number is
quoted without its machine). The one machine description of the Python
tools: the bench, microbench.py and compare_wrk.py all write it."""
from __future__ import annotations

import datetime
import os
import platform
import re
import resource
import subprocess
from pathlib import Path
from typing import Optional

from .cpus import CpuSplit, Topology, format_list


def _first(path: str, key: str, sep: str = ":") -> str:
    try:
        for line in Path(path).read_text().splitlines():
            if line.startswith(key) and sep in line:
                return line.split(sep, 1)[1].strip().strip('"')
    except OSError:
        pass
    return ""


def _cmd(argv: list[str], cwd: Path | None = None) -> str:
    try:
        return subprocess.run(argv, capture_output=True, text=True, cwd=cwd, timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return ""


def _cmake_cache(build_dir: Path, key: str) -> str:
    cache = build_dir / "CMakeCache.txt"
    if cache.exists():
        m = re.search(rf"^{key}:\w+=(.*)$", cache.read_text(errors="replace"), re.M)
        if m:
            return m.group(1)
    return ""


def _read(path: str) -> str:
    try:
        return Path(path).read_text().strip()
    except OSError:
        return ""


def describe(build_dir: Path, repo: Path, topology: Optional[Topology] = None,
             cpus: Optional[CpuSplit] = None) -> dict:
    compiler = _cmake_cache(build_dir, "CMAKE_CXX_COMPILER")
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    out = {
        "hostname": platform.node(),
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "cpu_model": _first("/proc/cpuinfo", "model name"),
        "cores_online": os.cpu_count(),
        "cpus": os.cpu_count(),
        "cpus_allowed": len(os.sched_getaffinity(0)),
        "memory_kib": int((_first("/proc/meminfo", "MemTotal") or "0 kB").split()[0]),
        "kernel": platform.release(),
        "os": _first("/etc/os-release", "PRETTY_NAME", "=") or platform.platform(),
        "compiler": compiler,
        "compiler_version": _cmd([compiler, "--version"]).splitlines()[0] if compiler else "",
        "build_type": _cmake_cache(build_dir, "CMAKE_BUILD_TYPE"),
        "build_dir": str(build_dir),
        "git_commit": _cmd(["git", "rev-parse", "HEAD"], cwd=repo),
        "git_dirty": bool(_cmd(["git", "status", "--porcelain", "--untracked-files=no"], cwd=repo)),
        "python": platform.python_version(),
        "nofile_limit": [soft, hard],
        "port_range": _read("/proc/sys/net/ipv4/ip_local_port_range").split(),
        "somaxconn": _read("/proc/sys/net/core/somaxconn"),
        "threads_max": _read("/proc/sys/kernel/threads-max"),
    }
    if topology is not None:
        out["topology"] = topology.describe()
    if cpus is not None:
        # The taskset lists as a reader would type them, and the sets in full.
        out["server_cpus"] = format_list(cpus.server)
        out["client_cpus"] = format_list(cpus.client)
        out["cpu_sets"] = cpus.describe()
    return out
