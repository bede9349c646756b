"""The live table of scripts/demo.py: one row per (model, connections) step,
redrawn in place once a second on a terminal, or one plain line per second
when stdout is a file or a pipe (a log, a CI job, a test).

Plain ANSI only (cursor up, clear line): every terminal and every projector
laptop has it, and curses would take the whole screen away from the host's
scrollback. The table stays under 100 columns so that a large font fits.
"""
from __future__ import annotations

import sys
from dataclasses import dataclass
from typing import Optional, TextIO

COLUMNS = [  # (heading, width); the widths add up to 97 with the spaces
    ("model", 18), ("conns", 5), ("req/s", 8), ("p50", 8), ("p99", 8),
    ("RSS", 8), ("threads", 7), ("ctx sw/s", 8), ("CPU %", 5), ("errors", 6), ("served", 6),
]


@dataclass
class Row:
    model: str
    connections: int
    rps: Optional[float] = None
    p50_us: Optional[float] = None
    p99_us: Optional[float] = None
    rss_kib: Optional[int] = None
    threads: Optional[int] = None
    ctx_per_s: Optional[float] = None
    cpu_pct: Optional[float] = None
    errors: Optional[int] = None
    # A percentile that falls among requests still unanswered (or given up)
    # is only a lower bound: drawn "≥" (docs/loadgen.md).
    p50_lower_bound: bool = False
    p99_lower_bound: bool = False
    # Share of the connections answered at least once in the step's window:
    # the blocking server's other clients wait in its backlog, and this is
    # where that shows.
    served_share: Optional[float] = None
    # "" while the step runs, "done" at its end, or why it did not finish.
    state: str = ""


def fmt_latency(us: Optional[float], lower_bound: bool = False) -> str:
    if us is None:
        return "-"
    if lower_bound:
        return "≥" + fmt_latency(us)
    if us < 1000:
        return f"{us:.0f}us"
    if us < 10_000:
        return f"{us / 1000:.2f}ms"
    if us < 1_000_000:
        return f"{us / 1000:.1f}ms"
    return f"{us / 1e6:.2f}s"


def fmt_count(v: Optional[float]) -> str:
    if v is None:
        return "-"
    return f"{v:,.0f}"


def fmt_rss(kib: Optional[int]) -> str:
    return "-" if kib is None else f"{kib / 1024:.1f}MiB"


def fmt_share(share: Optional[float]) -> str:
    if share is None:
        return "-"
    if share >= 1.0:
        return "100%"
    return f"{100 * share:.1f}%" if share >= 0.001 else f"{100 * share:.2f}%"


def cells(row: Row) -> list[str]:
    return [row.model, str(row.connections), fmt_count(row.rps),
            fmt_latency(row.p50_us, row.p50_lower_bound), fmt_latency(row.p99_us, row.p99_lower_bound),
            fmt_rss(row.rss_kib), fmt_count(row.threads),
            fmt_count(row.ctx_per_s), "-" if row.cpu_pct is None else f"{row.cpu_pct:.0f}",
            fmt_count(row.errors), fmt_share(row.served_share)]


def line(values: list[str]) -> str:
    out = [values[0].ljust(COLUMNS[0][1])[:COLUMNS[0][1]]]
    out += [v.rjust(w) for v, (_, w) in zip(values[1:], COLUMNS[1:])]
    return " ".join(out)


def header() -> str:
    return line([h for h, _ in COLUMNS])


def row_line(row: Row) -> str:
    text = line(cells(row))
    if row.state == "":
        return text + " ..."  # still running: p50 arrives with the step's end
    if row.state != "done":
        return text + " !"  # the reason is printed under the table
    return text


class Screen:
    """Draws the rows; on a terminal it moves the cursor back over what it
    drew last time and rewrites it, so the table stays in one place."""

    def __init__(self, title: str, out: TextIO = sys.stdout, live: Optional[bool] = None):
        self.title = title
        self.out = out
        self.live = out.isatty() if live is None else live
        self.drawn = 0
        self.plain_header_done = False

    def draw(self, rows: list[Row], status: str = "") -> None:
        if self.live:
            lines = [self.title, header()] + [row_line(r) for r in rows] + [status]
            up = f"\x1b[{self.drawn}F" if self.drawn else ""
            self.out.write(up + "".join(f"\x1b[2K{text}\n" for text in lines))
            self.drawn = len(lines)
        else:
            # One line per second for the step that is running (or just ended).
            if not self.plain_header_done:
                self.out.write(self.title + "\n" + header() + "\n")
                self.plain_header_done = True
            if rows:
                self.out.write(row_line(rows[-1]) + "\n")
        self.out.flush()

    def final(self, rows: list[Row], notes: list[str]) -> None:
        """The whole table once more at the end (in a log: the summary)."""
        if self.live:
            self.draw(rows, "")
        else:
            self.out.write("\nfinal table\n" + header() + "\n")
            self.out.write("".join(row_line(r) + "\n" for r in rows))
        for note in notes:
            self.out.write(note + "\n")
        self.out.flush()
