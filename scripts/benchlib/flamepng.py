"""The same flame graph as flamesvg.py, drawn with matplotlib as a PNG for
REPORT.md (which cannot embed the zoomable SVG). Frames narrower than
MIN_SHARE of the whole are left out: at a report's width they would be
invisible, and thousands of tiny rectangles make a slow, heavy file."""
from __future__ import annotations

from pathlib import Path
from typing import Callable, Optional

from .flamegraph import Node, layout, tree
from .flamesvg import frame_colour, shown

MIN_SHARE = 0.002
MAX_DEPTH_SHOWN = 60


def _rgb(css: str) -> tuple[float, float, float]:
    r, g, b = (int(v) for v in css[css.index("(") + 1:css.index(")")].split(","))
    return r / 255, g / 255, b / 255


def write(folded, path: Path, title: str, subtitle: str = "", root: Optional[Node] = None,
          colour: Optional[Callable[[Node], str]] = None) -> Path:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.patches import Rectangle

    root = root or tree(folded)
    nodes = [n for n in layout(root, MIN_SHARE) if n[0] <= MAX_DEPTH_SHOWN]
    depth = max((d for d, *_ in nodes), default=0) + 1
    fig_h = min(14.0, 1.2 + 0.22 * depth)
    fig, ax = plt.subplots(figsize=(14, fig_h), dpi=100)
    width_px = 14 * 100 * 0.96
    for d, x, w, node in nodes:
        fill = colour(node) if colour else ("rgb(200,200,200)" if d == 0 else frame_colour(node.name))
        name = "all" if d == 0 else shown(node.name)
        ax.add_patch(Rectangle((x, d), w, 0.92, facecolor=_rgb(fill), edgecolor="white",
                               linewidth=0.3))
        room = int(w * width_px / 6.2)
        if room >= 4:
            text = name if len(name) <= room else name[:room - 2] + ".."
            ax.text(x + 0.002, d + 0.46, text, fontsize=7, va="center", ha="left",
                    family="monospace", clip_on=True)
    ax.set_xlim(0, 1)
    ax.set_ylim(0, depth)
    ax.set_axis_off()
    ax.set_title(title + ("\n" + subtitle if subtitle else ""), fontsize=10)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path
