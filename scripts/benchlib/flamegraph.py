"""Stacks from `perf script`, folded: one line per distinct stack, root
first, frames joined by ';', then its weight (CPU nanoseconds: the sum of
the samples' periods). Kernel frames end in "_[k]", so that the drawings
and the classification below can tell them from the server's own.

The classification puts each stack in one place of "where the time goes":
user code, a syscall by kind, the scheduler, softirq, or other kernel work.
"""
from __future__ import annotations

import re
from collections import Counter
from pathlib import Path
from typing import Iterable, Optional

from .perfcount import GROUPS

KERNEL = "_[k]"
# `perf script` fields the folding reads; fixed so that its output's shape
# does not depend on perf's defaults.
SCRIPT_FIELDS = "comm,tid,period,ip,sym,dso"

HEADER = re.compile(r"^(?P<comm>\S.*?)\s+(?P<tid>\d+)\s+(?P<period>\d+)\s*$")
FRAME = re.compile(r"^\s+(?P<ip>[0-9a-f]+)\s+(?P<sym>.*?)\s+\((?P<dso>.*)\)\s*$")


def script_argv(perf: str, data: Path) -> list[str]:
    return [perf, "script", "-i", str(data), "-F", SCRIPT_FIELDS]


def _frame_name(sym: str, dso: str) -> Optional[str]:
    """A frame's name in the folded stack, None for a frame to drop."""
    kernel = dso.startswith("[kernel") or (dso.startswith("[") and dso not in
                                           ("[unknown]", "[vdso]", "[vsyscall]", "[anon]"))
    if sym == "[unknown]":
        if dso in ("[unknown]", ""):
            # An address from a broken frame-pointer chain (a library built
            # without frame pointers): noise, not a frame.
            return None
        sym = f"[{Path(dso).name}]"
    # ';' separates frames and the last space the weight: neither may
    # appear inside a name (C++ names have spaces, rarely semicolons).
    sym = sym.replace(";", ":")
    return sym + KERNEL if kernel else sym


def fold(lines: Iterable[str]) -> Counter:
    """Folds `perf script -F comm,tid,period,ip,sym,dso` output. The stack
    of a sample is listed leaf first; folded stacks are root first, under
    the thread's command name."""
    out: Counter = Counter()
    comm, period, frames = None, 0, []

    def flush():
        if comm is not None:
            stack = [comm] + [f for f in reversed(frames) if f is not None]
            out[";".join(stack)] += period

    for line in lines:
        line = line.rstrip("\n")
        if not line.strip():
            flush()
            comm, frames = None, []
            continue
        m = FRAME.match(line)
        if m and comm is not None:
            frames.append(_frame_name(m.group("sym"), m.group("dso")))
            continue
        h = HEADER.match(line)
        if h:
            flush()
            comm = h.group("comm").strip().replace(";", ":").replace(" ", "_")
            period = int(h.group("period")) or 1
            frames = []
    flush()
    return out


def write_folded(folded: Counter, path: Path) -> None:
    with open(path, "w") as f:
        for stack, w in sorted(folded.items()):
            f.write(f"{stack} {w}\n")


def read_folded(path: Path) -> Counter:
    out: Counter = Counter()
    with open(path) as f:
        for line in f:
            stack, _, w = line.rstrip("\n").rpartition(" ")
            if stack and w.isdigit():
                out[stack] += int(w)
    return out


# --- where a stack's time goes -------------------------------------------

SYSCALL_ENTRY = {"do_syscall_64", "x64_sys_call", "entry_SYSCALL_64_after_hwframe",
                 "entry_SYSCALL_64", "el0_svc_common", "invoke_syscall", "do_fast_syscall_32"}
SOFTIRQ = {"handle_softirqs", "__do_softirq", "do_softirq", "do_softirq.part.0",
           "__softirqentry_text_start", "net_rx_action", "run_ksoftirqd"}
# Switching threads and waking them: what a thread per connection pays per
# request and an event loop does not.
SCHEDULER = {"__schedule", "schedule", "schedule_idle", "preempt_schedule",
             "preempt_schedule_irq", "preempt_schedule_common", "finish_task_switch",
             "finish_task_switch.isra.0", "try_to_wake_up", "wake_up_q", "pick_next_task_fair",
             "schedule_hrtimeout_range_clock", "schedule_timeout"}
# Kernel function names (prefixes stripped, see _syscall_of) beyond the
# syscalls' own names.
EXTRA_ALIASES = {"close_fd": "close", "core_sys_select": "select", "do_select": "select",
                 "hrtimer_nanosleep": "clock_nanosleep", "nanosleep": "clock_nanosleep",
                 "pread64": "read", "recvmmsg": "read", "pwrite64": "write", "sendmmsg": "write",
                 "sendfile64": "write", "futex_waitv": "futex", "io_uring_enter2": "io_uring_enter"}
ALIASES = {n: g for g, names in GROUPS.items() for n in names} | EXTRA_ALIASES
PREFIXES = ("__x64_sys_", "__ia32_sys_", "__arm64_sys_", "__se_sys_", "__do_sys_", "ksys_",
            "__sys_", "do_sys_", "do_", "__GI___libc_", "__libc_", "__GI_", "__")

USER, SCHED, SOFT, KOTHER, SYSOTHER = "user", "scheduler", "softirq", "kernel other", "other syscalls"
# The order of the stacked bar, bottom up.
CATEGORIES = [USER] + list(GROUPS) + [SYSOTHER, SCHED, SOFT, KOTHER]


def _syscall_of(name: str) -> Optional[str]:
    for p in PREFIXES:
        if name.startswith(p):
            name = name[len(p):]
            break
    return ALIASES.get(name)


def _split(stack: str) -> tuple[list[str], list[str]]:
    """(user frames, kernel frames without their mark), root first, without
    the command name."""
    frames = stack.split(";")[1:]
    return ([f for f in frames if not f.endswith(KERNEL)],
            [f[:-len(KERNEL)] for f in frames if f.endswith(KERNEL)])


def _syscall(user: list[str], kernel: list[str]) -> tuple[Optional[str], int]:
    """(the syscall group of a kernel stack, or SYSOTHER for an unknown
    syscall, or None when it is no syscall; the index of its first frame
    past the entry). The group is read from the first frames past the entry
    (kernels differ in which wrappers show), else from the libc wrapper the
    user side called."""
    for i, f in enumerate(kernel):
        if f in SYSCALL_ENTRY:
            continue
        if i and kernel[i - 1] in SYSCALL_ENTRY:
            for g in filter(None, (_syscall_of(x) for x in kernel[i:i + 3])):
                return g, i
            return (_syscall_of(user[-1]) if user else None) or SYSOTHER, i
        return None, i
    return None, len(kernel)


def classify(stack: str) -> str:
    """The category of one folded stack (a member of CATEGORIES)."""
    user, kernel = _split(stack)
    if not kernel:
        return USER
    names = set(kernel)
    if names & SOFTIRQ:
        return SOFT
    if names & SCHEDULER:
        return SCHED
    return _syscall(user, kernel)[0] or KOTHER


# The layer between a syscall's entry and the socket, which two models
# reach through differently named functions (write against writev): left
# out of kernel_only's stacks so that the same work lines up.
PLUMBING = {"vfs_read", "vfs_write", "vfs_readv", "vfs_writev", "do_iter_readv_writev",
            "do_iter_read", "do_iter_write", "new_sync_read", "new_sync_write", "sock_read_iter",
            "sock_write_iter", "____sys_recvmsg", "____sys_sendmsg", "___sys_recvmsg",
            "___sys_sendmsg", "sock_recvmsg", "sock_sendmsg", "__sock_sendmsg"}


def kernel_only(folded: Counter) -> Counter:
    """The kernel part of every stack, for comparing two different programs
    (which share no user frames, not even the command name): a syscall's
    stack is rooted at its group ("write", whether reached by write or
    writev) with the entry, the wrappers and the VFS/socket plumbing left
    out; interrupts and faults keep their own frames; user-space stacks
    fold into one "[user]" frame."""
    out: Counter = Counter()
    for stack, w in folded.items():
        user, kernel = _split(stack)
        if not kernel:
            out["[user]"] += w
            continue
        group, first = _syscall(user, kernel)
        if group is None:
            out[";".join(f + KERNEL for f in kernel)] += w
            continue
        rest = [f for f in kernel[first:] if f not in PLUMBING and _syscall_of(f) != group]
        out[";".join([f"{group} (syscall)"] + [f + KERNEL for f in rest])] += w
    return out


def by_category(folded: Counter) -> dict[str, int]:
    out = {c: 0 for c in CATEGORIES}
    for stack, w in folded.items():
        out[classify(stack)] += w
    return out


def kernel_self(folded: Counter) -> Counter:
    """Own (leaf) weight of each kernel function: the rows of the
    differential table. Own time, not inclusive: two models reach the same
    work through different wrappers (write against writev), which inclusive
    times would show as one path vanishing and another appearing."""
    out: Counter = Counter()
    for stack, w in folded.items():
        leaf = stack.rsplit(";", 1)[-1]
        if leaf.endswith(KERNEL):
            out[leaf[:-len(KERNEL)]] += w
    return out


# --- the tree the drawings share -------------------------------------------

class Node:
    __slots__ = ("name", "value", "children")

    def __init__(self, name: str):
        self.name = name
        self.value = 0
        self.children: dict[str, "Node"] = {}


def tree(folded: Counter, root_name: str = "all") -> Node:
    root = Node(root_name)
    for stack, w in folded.items():
        root.value += w
        node = root
        for f in stack.split(";"):
            node = node.children.setdefault(f, Node(f))
            node.value += w
    return root


def layout(root: Node, min_share: float = 0.0):
    """(depth, x0, width, node) for every node at least min_share of the
    root wide; x and width as shares of the root. Children sorted by name,
    so that two graphs of the same code line up (the flame graph's
    convention: x is not time)."""
    out = []
    total = root.value or 1

    def walk(node: Node, depth: int, x: float):
        w = node.value / total
        if w < min_share:
            return
        out.append((depth, x, w, node))
        for name in sorted(node.children):
            child = node.children[name]
            walk(child, depth + 1, x)
            x += child.value / total

    walk(root, 0, 0.0)
    return out
