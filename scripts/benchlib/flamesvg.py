"""A flame graph as one self-contained SVG: open it in a browser, click a
frame to zoom into it (its ancestors stay, full width), click the bottom bar
or press Escape to zoom out, Ctrl-F or the "search" button to highlight the
frames whose name matches a regular expression (with their share). No
network, no external script: everything is inline.

Colours: user-space code warm (red to yellow), kernel frames orange,
code perf could not name (a library's address) grey-green; a differential graph colours
each frame by how much it grew (red) or shrank (blue) instead.
"""
from __future__ import annotations

import hashlib
from html import escape
from pathlib import Path
from typing import Callable, Optional

from .flamegraph import KERNEL, Node, layout, tree

WIDTH = 1200
ROW = 17
PAD_TOP = 64
PAD_BOTTOM = 34
FONT = 11
LEGEND = "orange: kernel · red-yellow: user space · green: unnamed library code · click: zoom"
DIFF_LEGEND = "red: grew per request · blue: shrank · shape: the second profile · click: zoom"
MIN_PX = 0.3    # frames narrower than this are left out (they could not be seen)


def _hash01(name: str) -> float:
    return int(hashlib.md5(name.encode()).hexdigest()[:6], 16) / 0xFFFFFF


def frame_colour(name: str) -> str:
    """The plain graph's colour for a frame, stable across runs."""
    v = _hash01(name)
    if name.endswith(KERNEL):
        return f"rgb({220 + int(30 * v)},{120 + int(60 * v)},{40 + int(30 * v)})"
    if name.startswith("[") or ".so" in name:
        return f"rgb({110 + int(50 * v)},{170 + int(40 * v)},{110 + int(40 * v)})"
    return f"rgb({225 + int(30 * v)},{60 + int(130 * v)},{50 + int(30 * v)})"


def shown(name: str) -> str:
    """A frame's name as drawn: the kernel mark is the colour, not text."""
    return name[:-len(KERNEL)] if name.endswith(KERNEL) else name


def diff_colour(delta: float, scale: float) -> str:
    """Red for growth, blue for shrinking, white for no change; scale is
    the largest |delta|, which gets the full colour."""
    t = 0.0 if scale <= 0 else max(-1.0, min(1.0, delta / scale))
    fade = int(255 * (1 - abs(t)))
    return f"rgb(255,{fade},{fade})" if t > 0 else f"rgb({fade},{fade},255)"


SCRIPT = r"""
(function () {
  var svg = document.documentElement, frames = document.getElementById('frames');
  var W = %(width)d, info = document.getElementById('info'), zoomed = null;
  var all = Array.prototype.slice.call(frames.getElementsByTagName('g'));
  all.forEach(function (g) {
    var r = g.querySelector('rect');
    g._x = +r.getAttribute('x'); g._w = +r.getAttribute('width'); g._d = +g.getAttribute('data-depth');
    g._name = g.getAttribute('data-name'); g._label = g.querySelector('title').textContent;
    g.addEventListener('click', function (e) { zoom(g); e.stopPropagation(); });
    g.addEventListener('mouseover', function () { info.textContent = g._label; });
    g.addEventListener('mouseout', function () { info.textContent = ' '; });
  });
  function fit(g, x, w) {
    var r = g.querySelector('rect'), t = g.querySelector('text');
    r.setAttribute('x', x); r.setAttribute('width', Math.max(0, w));
    t.setAttribute('x', x + 3);
    var room = Math.floor((w - 6) / %(char)f);
    t.textContent = room < 3 ? '' : (g._name.length <= room ? g._name : g._name.slice(0, room - 2) + '..');
  }
  function zoom(target) {
    zoomed = target;
    var x0 = target._x, w0 = target._w, scale = (W - 20) / w0;
    all.forEach(function (g) {
      var inside = g._x >= x0 - 1e-6 && g._x + g._w <= x0 + w0 + 1e-6;
      var below = g._d < target._d && g._x <= x0 + 1e-6 && g._x + g._w >= x0 + w0 - 1e-6;
      if (g._d >= target._d && inside) { g.style.display = ''; fit(g, 10 + (g._x - x0) * scale, g._w * scale); }
      else if (below) { g.style.display = ''; fit(g, 10, W - 20); g.style.opacity = 0.6; }
      else { g.style.display = 'none'; }
      if (!below) g.style.opacity = '';
    });
    document.getElementById('unzoom').style.display = target._d > 0 ? '' : 'none';
  }
  function reset() { zoom(all[0]); }
  document.getElementById('unzoom').addEventListener('click', reset);
  document.getElementById('search').addEventListener('click', function () {
    var term = prompt('Search frames (regular expression):', '');
    if (term === null) return;
    var re, hit = 0, total = all[0]._w, seen = [];
    try { re = new RegExp(term); } catch (e) { alert('Not a regular expression: ' + e); return; }
    all.forEach(function (g) {
      var r = g.querySelector('rect'), m = term !== '' && re.test(g._name);
      r.setAttribute('fill', m ? 'rgb(230,0,230)' : r.getAttribute('data-fill'));
      // A frame counts once: not again below an ancestor that matched.
      if (m && !seen.some(function (s) { return g._x >= s[0] - 1e-6 && g._x + g._w <= s[1] + 1e-6 && g._d > s[2]; })) {
        seen.push([g._x, g._x + g._w, g._d]); hit += g._w;
      }
    });
    document.getElementById('matched').textContent = term === '' ? '' : 'matched ' + (100 * hit / total).toFixed(1) + '%%';
  });
  document.addEventListener('keydown', function (e) {
    if (e.key === 'Escape') reset();
    if ((e.ctrlKey || e.metaKey) && e.key === 'f') { e.preventDefault(); document.getElementById('search').dispatchEvent(new Event('click')); }
  });
})();
"""


def render(root: Node, title: str, subtitle: str = "", unit: str = "ms",
           unit_scale: float = 1e-6, colour: Optional[Callable[[Node], str]] = None,
           label: Optional[Callable[[Node, float], str]] = None) -> str:
    """The SVG text of a flame graph of a tree (flamegraph.tree; weights in
    ns by default, shown as ms). colour(node) and label(node, share)
    override the plain graph's colours and tooltips (the differential graph
    uses both)."""
    nodes = layout(root, min_share=MIN_PX / (WIDTH - 20))
    depth = max((d for d, *_ in nodes), default=0)
    height = PAD_TOP + (depth + 1) * ROW + PAD_BOTTOM
    char = FONT * 0.59
    out = [f'<?xml version="1.0" standalone="no"?>',
           f'<svg version="1.1" width="{WIDTH}" height="{height}" viewBox="0 0 {WIDTH} {height}" '
           f'xmlns="http://www.w3.org/2000/svg" style="font-family:monospace;font-size:{FONT}px">',
           f'<rect x="0" y="0" width="{WIDTH}" height="{height}" fill="rgb(250,250,245)"/>',
           f'<text x="{WIDTH / 2}" y="20" text-anchor="middle" style="font-size:15px">{escape(title)}</text>',
           f'<text x="{WIDTH / 2}" y="36" text-anchor="middle" fill="rgb(90,90,90)">{escape(subtitle)}</text>',
           '<text id="unzoom" x="10" y="20" style="display:none;cursor:pointer">reset zoom</text>',
           f'<text id="search" x="{WIDTH - 10}" y="20" text-anchor="end" style="cursor:pointer">search</text>',
           f'<text id="matched" x="{WIDTH - 10}" y="{height - 12}" text-anchor="end"></text>',
           f'<text id="info" x="10" y="{height - 12}"> </text>',
           f'<text x="{WIDTH / 2}" y="52" text-anchor="middle" fill="rgb(120,120,120)">'
           f'{escape(LEGEND if not colour else DIFF_LEGEND)}</text>',
           '<g id="frames">']
    for d, x, w, node in nodes:
        px, pw = 10 + x * (WIDTH - 20), w * (WIDTH - 20)
        y = height - PAD_BOTTOM - (d + 1) * ROW
        fill = colour(node) if colour else ("rgb(200,200,200)" if d == 0 else frame_colour(node.name))
        name = "all" if d == 0 else shown(node.name)
        tip = (label(node, w) if label else
               f"{name} ({node.value * unit_scale:,.2f} {unit}, {100 * w:.2f}%)")
        room = int((pw - 6) / char)
        text = "" if room < 3 else (name if len(name) <= room else name[:room - 2] + "..")
        out.append(f'<g data-depth="{d}" data-name="{escape(name, quote=True)}">'
                   f'<title>{escape(tip)}</title>'
                   f'<rect x="{px:.2f}" y="{y}" width="{pw:.2f}" height="{ROW - 1}" fill="{fill}" '
                   f'data-fill="{fill}" rx="2"/>'
                   f'<text x="{px + 3:.2f}" y="{y + ROW - 5}">{escape(text)}</text></g>')
    out.append("</g>")
    out.append("<script><![CDATA[" + SCRIPT % {"width": WIDTH, "char": char} + "]]></script>")
    out.append("</svg>")
    return "\n".join(out)


def write(folded, path: Path, title: str, subtitle: str = "", root: Optional[Node] = None,
          **kw) -> Path:
    """Draws folded stacks (or a tree already built from them) to path."""
    path.write_text(render(root or tree(folded), title, subtitle, **kw))
    return path


def differential(before, after, per_before: float, per_after: float) -> tuple:
    """(tree, colour, label) for write(..., root=tree, colour=, label=): the
    tree of `after` (the shape drawn), each frame coloured by its change from
    `before`, both normalised (weights divided by per_before / per_after,
    e.g. requests, so that a frame's value is ns per request)."""
    ta, tb = tree(before), tree(after)

    def lookup(root: Node, path: list[str]) -> int:
        node = root
        for name in path:
            node = node.children.get(name)
            if node is None:
                return 0
        return node.value

    # Paths are needed per node: build a node -> path map over `after`'s tree.
    paths: dict[int, list[str]] = {}

    def walk(node: Node, path: list[str]):
        paths[id(node)] = path
        for name, child in node.children.items():
            walk(child, path + [name])

    walk(tb, [])
    deltas = {}
    for nid, path in paths.items():
        deltas[nid] = lookup(tb, path) / per_after - lookup(ta, path) / per_before
    scale = max((abs(v) for v in deltas.values()), default=0) or 1
    # The largest changes are at the root; colour by the root's children's
    # scale so that a big kernel path does not wash everything else out.
    child_scale = max((abs(deltas[id(c)]) for c in tb.children.values()), default=scale) or scale

    def colour(node: Node) -> str:
        return diff_colour(deltas.get(id(node), 0.0), child_scale)

    def label(node: Node, share: float) -> str:
        d = deltas.get(id(node), 0.0)
        return (f"{shown(node.name)}: {node.value / per_after / 1e3:,.2f} µs/request, "
                f"{'+' if d >= 0 else ''}{d / 1e3:,.2f} µs/request vs before")

    return tb, colour, label
