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

COLUMNS = [  # (heading, width); the widths add up to 95 with the spaces
    ("model", 18), ("conns", 5), ("req/s", 9), ("p50", 8), ("p99", 8),
    ("RSS", 9), ("threads", 7), ("ctx sw/s", 9), ("CPU %", 6), ("errors", 7),
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
    # "" while the step runs, "done" at its end, or why it did not finish.
    state: str = ""


def fmt_latency(us: Optional[float]) -> str:
    if us is None:
        return "-"
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


def cells(row: Row) -> list[str]:
    return [row.model, str(row.connections), fmt_count(row.rps), fmt_latency(row.p50_us),
            fmt_latency(row.p99_us), fmt_rss(row.rss_kib), fmt_count(row.threads),
            fmt_count(row.ctx_per_s), "-" if row.cpu_pct is None else f"{row.cpu_pct:.0f}",
            fmt_count(row.errors)]


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
