#!/usr/bin/env python3
"""Do two bench runs agree? The goal ratios and the A/A control of two
REPORT.md files side by side, and whether each pair of intervals overlaps.

    scripts/compare_runs.py RUN_A RUN_B        (run folders, or their REPORT.md)

Issue 14's check: run `make bench` twice on the same machine; every
headline ratio's intervals should overlap. They are read from the reports'
tables ("ratio [lo, hi] (confidence)"), so the comparison is of exactly
what a reader sees. Prints a markdown table; exits 1 when a pair is
disjoint, 2 on bad input. Two intervals of 75 % each (3 repeats) are
disjoint by chance alone far more often than two of 97 % (6 repeats).
"""
import os
import re
import sys

LINE = re.compile(r"\| (.+?) \| (.+?) \((\d+) \+ (\d+) valid repeats\) \| .*?"
                  r"\*\*([0-9.]+) \[([0-9.]+), ([0-9.]+)\]\*\* \(([^)]*)\)")


def die(message):
    print(f"compare_runs: {message}", file=sys.stderr)
    sys.exit(2)


def ratios(path):
    report = os.path.join(path, "REPORT.md") if os.path.isdir(path) else path
    try:
        with open(report, encoding="utf-8") as f:
            text = f.read()
    except OSError as e:
        die(f"cannot read {report}: {e.strerror}")
    out = {}
    for line in text.splitlines():
        m = LINE.match(line)
        if m:
            out[(m.group(1), m.group(2))] = (float(m.group(5)), float(m.group(6)),
                                             float(m.group(7)), m.group(8))
    if not out:
        die(f"{report} has no ratio with an interval (a run older than "
                 "the intervals' confidence, or not a bench report)")
    return out


def main(argv):
    if len(argv) != 2 or argv[0] in ("-h", "--help"):
        print(__doc__.strip())
        return 0 if argv and argv[0] in ("-h", "--help") else 2
    a, b = ratios(argv[0]), ratios(argv[1])
    common = [k for k in a if k in b]
    if not common:
        die("the two reports have no ratio in common")
    print("| ratio | where | run A [interval] (confidence) | run B | overlap |")
    print("|---|---|---|---|---|")
    disjoint = 0
    for k in common:
        (ea, la, ha, ca), (eb, lb, hb, cb) = a[k], b[k]
        overlap = la <= hb and lb <= ha
        disjoint += not overlap
        print(f"| {k[0]} | {k[1]} | {ea:.3f} [{la:.3f}, {ha:.3f}] ({ca}) | "
              f"{eb:.3f} [{lb:.3f}, {hb:.3f}] ({cb}) | {'yes' if overlap else '**no**'} |")
    print(f"\n{len(common)} ratios in both runs; {disjoint} with disjoint intervals.")
    return 1 if disjoint else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
