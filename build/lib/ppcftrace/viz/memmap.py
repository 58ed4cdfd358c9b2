"""The memory map of a live machine on a segmented axis: SVG for the widget, a Figure for the book.

Kernel text (0xc000...) and the module area (0xd000...) are 2**60 bytes apart, and the
image is a few KiB long: no linear axis shows both. The map cuts the axis wherever
nothing is mapped for more than `JOIN` bytes, draws each segment at its own linear
scale, and marks every cut with the size of the gap it hides (`addrmap.gap_text`).

Rows, top to bottom: the ±32 MiB reach of the selected site (clipped, with the part
beyond the panel said in words), the regions, the stubs / PLT entries (coloured by
what they jump to now), the call sites (coloured by state), and the arrows site ->
stub -> target. `map_scene()` computes the geometry once, as a list of primitives;
`memmap_svg()` writes it as an SVG string (fast: one `<path>` per colour when there are
many sites) and `memmap_figure()` draws it with matplotlib collections.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ppcftrace.lab.mapmodel import MemoryMapModel
from ppcftrace.lab.sites import SITE_STATES, STATE_LABELS
from ppcftrace.viz import style
from ppcftrace.viz.addrmap import Segment, gap_text

__all__ = ["STATE_COLOURS", "JOIN", "gap_label", "map_segments", "map_scene", "memmap_svg", "memmap_html",
           "memmap_figure", "Scene"]

#: one colour per site state (Okabe-Ito, `style.PALETTE`; "other" is the error red)
STATE_COLOURS = {"mcount": style.PALETTE[0], "nop": style.PALETTE[1], "b+8": style.PALETTE[4],
                 "ftrace": style.PALETTE[2], "other": style.ERROR}
ROLE_COLOURS = {"mcount": STATE_COLOURS["mcount"], "ftrace": STATE_COLOURS["ftrace"],
                "other": style.MUTED}
REGION_FILLS = {"kernel": style.fill(1), "module": style.fill(0), "other": style.fill(3)}
#: unmapped stretches longer than this cut the axis
JOIN = 64 * 1024
#: above this many sites, the SVG draws one path per state instead of one titled line each
TITLED_SITES = 300

_Y = {"head": 12, "reach": (18, 30), "regions": (36, 60), "stubs": (64, 74), "sites": (78, 98),
      "lane": 150, "axis": 154, "ticks": 166, "legend": 190}
_HEIGHT = 202


# -- primitives ------------------------------------------------------------------------

@dataclass(frozen=True)
class Rect:
    x: float
    y: float
    w: float
    h: float
    fill: str
    stroke: str | None = None
    opacity: float = 1.0
    title: str | None = None


@dataclass(frozen=True)
class Line:
    x0: float
    y0: float
    x1: float
    y1: float
    colour: str
    width: float = 1.0
    title: str | None = None
    dash: bool = False


@dataclass(frozen=True)
class Curve:
    """A cubic Bezier from p0 to p3 with an arrowhead at p3."""

    points: tuple[float, ...]     # x0 y0 x1 y1 x2 y2 x3 y3
    colour: str
    width: float = 1.2
    title: str | None = None


@dataclass(frozen=True)
class Text:
    x: float
    y: float
    text: str
    colour: str = style.INK
    size: float = 10
    anchor: str = "start"        # start, middle, end
    bold: bool = False


@dataclass
class Scene:
    """What to draw, in pixels (y down), and how big."""

    width: float
    height: float
    items: list = field(default_factory=list)
    panels: list = field(default_factory=list)   # (Segment, x0, x1)

    def add(self, item) -> None:
        self.items.append(item)


# -- geometry --------------------------------------------------------------------------

def map_segments(model: MemoryMapModel, zoom: tuple[int, int] | None = None) -> list[Segment]:
    """The axis segments: the mapped regions grouped where gaps are under `JOIN`, or the
    one zoomed range."""
    if zoom is not None:
        return [Segment(zoom[0], zoom[0], zoom[1])]
    spans = sorted((r.start, r.end) for r in model.regions)
    if not spans:
        raise ValueError("nothing is mapped")
    groups = [list(spans[0])]
    for start, end in spans[1:]:
        if start - groups[-1][1] <= JOIN:
            groups[-1][1] = max(groups[-1][1], end)
        else:
            groups.append([start, end])
    return [Segment(lo, lo, hi) for lo, hi in groups]


def _hex_offset(n: int) -> str:
    return f"+{n:#x}"


def map_scene(model: MemoryMapModel, *, selected: int | None = None,
              zoom: tuple[int, int] | None = None, width: int = 760,
              title: str | None = None) -> Scene:
    """The map as primitives: segments, regions, stubs, sites, arrows and the reach of
    the `selected` site."""
    segs = map_segments(model, zoom)
    top = 16 if title else 0
    scene = Scene(width, _HEIGHT + top)
    if title:
        scene.add(Text(8, 13, title, size=12, bold=True))
    gap_px = 70
    weights = [1.0 if any(s.low <= site.ip < s.high for site in model.sites) else 0.35
               for s in segs]
    usable = width - 16 - gap_px * (len(segs) - 1)
    x = 8.0
    for seg, wgt in zip(segs, weights):
        w = usable * wgt / sum(weights)
        scene.panels.append((seg, x, x + w))
        x += w + gap_px
    y = {k: (v + top if isinstance(v, int) else (v[0] + top, v[1] + top)) for k, v in _Y.items()}

    def place(address: int) -> float | None:
        for seg, x0, x1 in scene.panels:
            if seg.low <= address <= seg.high:
                return x0 + (address - seg.low) * (x1 - x0) / max(seg.high - seg.low, 1)
        return None

    for seg, x0, x1 in scene.panels:
        _panel_frame(scene, seg, x0, x1, y)
    for i, ((a, ax0, ax1), (b, bx0, _)) in enumerate(zip(scene.panels, scene.panels[1:])):
        _break(scene, ax1, bx0, b.low - a.high, y)
    _regions(scene, model, place, y)
    _stubs(scene, model, place, y)
    _sites(scene, model, place, y, selected, label=zoom is not None)
    if selected is not None:
        _reach(scene, model, selected, y)
        _arrows(scene, model, selected, place, y)
        _selected_label(scene, model, selected, place, y)
    _legend(scene, model, y)
    return scene


def _panel_frame(scene: Scene, seg: Segment, x0: float, x1: float, y) -> None:
    scene.add(Text(x0, y["head"], f"{seg.low:#x}", size=10, bold=True))
    scene.add(Line(x0, y["axis"], x1, y["axis"], style.INK))
    for x in (x0, x1):
        scene.add(Line(x, y["axis"] - 3, x, y["axis"] + 3, style.INK))
    scene.add(Text(x0, y["ticks"], "+0x0", size=9, colour=style.MUTED))
    scene.add(Text(x1, y["ticks"], _hex_offset(seg.high - seg.low), size=9, colour=style.MUTED,
                   anchor="end"))


def _break(scene: Scene, left: float, right: float, gap: int, y) -> None:
    """The '//' cut between two panels, with the size of the hidden gap."""
    mid = (left + right) / 2
    for dx in (-4, 4):
        scene.add(Line(mid + dx - 3, y["axis"] + 6, mid + dx + 3, y["axis"] - 6, style.ERROR, 1.4))
    scene.add(Line(left + 2, y["axis"], mid - 8, y["axis"], style.INK, 0.8, dash=True))
    scene.add(Line(mid + 8, y["axis"], right - 2, y["axis"], style.INK, 0.8, dash=True))
    scene.add(Text(mid, y["regions"][0] + 10, "axis cut", colour=style.ERROR, size=9,
                   anchor="middle"))
    scene.add(Text(mid, y["regions"][0] + 22, gap_label(gap),
                   colour=style.ERROR, size=9, anchor="middle", bold=True))
    scene.add(Text(mid, y["regions"][0] + 34, "hidden", colour=style.ERROR, size=9,
                   anchor="middle"))


def gap_label(gap: int) -> str:
    """A short label for a hidden gap: exact for powers of two and small gaps, else ~2**n."""
    if gap > 0 and gap & (gap - 1) == 0:
        return gap_text(gap).replace(" bytes", " B")
    if gap >= 1 << 32:
        return f"~2**{gap.bit_length() - 1 + (gap >> (gap.bit_length() - 2)) % 2} B"
    return f"{gap:#x} B"


def _regions(scene: Scene, model: MemoryMapModel, place, y) -> None:
    y0, y1 = y["regions"]
    for r in model.regions:
        a, b = place(r.start), place(r.end)
        if a is None and b is None:
            continue
        panel = next(p for p in scene.panels if p[0].low <= (r.start if a is not None else r.end) <= p[0].high)
        a = panel[1] if a is None else a
        b = panel[2] if b is None else b
        w = max(b - a, 1.5)
        title = f"{r.name}: {r.start:#x}..{r.end:#x} ({r.size:#x} bytes, {r.perms})"
        scene.add(Rect(a, y0, w, y1 - y0, REGION_FILLS[r.owner], style.INK, title=title))
        name = r.name.replace("vmlinux ", "")
        if w > 6.2 * len(name) + 4:
            scene.add(Text(a + w / 2, y0 + 15, name, size=10, anchor="middle"))


def _stubs(scene: Scene, model: MemoryMapModel, place, y) -> None:
    y0, y1 = y["stubs"]
    for st in model.stubs:
        a, b = place(st.address), place(st.address + st.size)
        if a is None or b is None:
            continue
        kind = "stub" if model.arch == "ppc64" else "PLT entry"
        title = (f"{kind} at {st.address:#x} -> {st.target_name}"
                 + (" (mod->arch.tramp)" if st.tramp else ""))
        scene.add(Rect(a, y0, max(b - a, 2.5), y1 - y0, ROLE_COLOURS[st.role], style.INK, title=title))


def _sites(scene: Scene, model: MemoryMapModel, place, y, selected: int | None, label: bool) -> None:
    y0, y1 = y["sites"]
    titled = len(model.sites) <= TITLED_SITES
    shown = 0
    for s in model.sites:
        x = place(s.ip)
        if x is None:
            continue
        shown += 1
        colour = STATE_COLOURS[s.state.state]
        title = (f"{s.function} [{s.module}] " if s.module else f"{s.function} ") + \
            f"site {s.ip:#x}: {s.state.label}" if titled else None
        scene.add(Line(x, y0, x, y1, colour, 2.0, title=title))
    if selected is not None:
        x = place(selected)
        if x is not None:
            s = model.site(selected)
            scene.add(Rect(x - 4, y0 - 3, 8, y1 - y0 + 6, "none", style.INK, title=None))
    elif label and shown <= 12:
        for s in model.sites:
            x = place(s.ip)
            if x is not None:
                scene.add(Text(x, y1 + 12, s.function, size=9, anchor="middle"))


def _selected_label(scene: Scene, model: MemoryMapModel, ip: int, place, y) -> None:
    """The selected site's name on a white patch, drawn last so arrows pass under it."""
    x = place(ip)
    if x is None:
        return
    name = model.site(ip).function
    w = 6.2 * len(name) + 6
    y1 = y["sites"][1]
    scene.add(Rect(x - w / 2, y1 + 3, w, 13, style.BACKGROUND))
    scene.add(Text(x, y1 + 13, name, size=10, anchor="middle", bold=True))


def _reach(scene: Scene, model: MemoryMapModel, ip: int, y) -> None:
    low, high = model.reach(ip)
    y0, y1 = y["reach"]
    colour = style.PALETTE[6]
    for seg, x0, x1 in scene.panels:
        lo, hi = max(low, seg.low), min(high, seg.high)
        if lo > hi:
            scene.add(Text((x0 + x1) / 2, y1 - 2, "out of reach of the selected bl",
                           colour=style.ERROR, size=9, anchor="middle"))
            continue
        span = max(seg.high - seg.low, 1)
        a = x0 + (lo - seg.low) * (x1 - x0) / span
        b = x0 + (hi - seg.low) * (x1 - x0) / span
        scene.add(Rect(a, y0, max(b - a, 1.5), y1 - y0, colour, None, 0.35,
                       title=f"a bl at {ip:#x} reaches {low:#x}..{high:#x}"))
        beyond = [side for side, out in (("below", low < seg.low), ("above", high > seg.high)) if out]
        text = "reach \u00b132 MiB" + (f", continues {' and '.join(beyond)} this panel"
                                        if beyond else "")
        scene.add(Text((a + b) / 2, y1 - 2, text, size=9, anchor="middle"))


def _arrows(scene: Scene, model: MemoryMapModel, ip: int, place, y) -> None:
    lane = y["lane"]
    for k, arrow in enumerate(model.arrows(ip)):
        xs, xd = place(arrow.source), place(arrow.dest)
        if xs is None or xd is None:
            continue
        ys = y["sites"][1] if arrow.kind != "stub" else y["stubs"][1]
        yd = y["stubs"][1] if _is_stub(model, arrow.dest) else y["regions"][1]
        if arrow.kind == "b+8":
            yd = y["sites"][1]
        depth = lane - 14 * k - (0 if abs(xd - xs) > 40 else 20)
        colour = style.INK if arrow.kind != "stub" else style.PALETTE[5]
        title = f"{arrow.kind}: {arrow.source:#x} -> {arrow.dest:#x} ({model.where(arrow.dest)})"
        scene.add(Curve((xs, ys, xs, depth, xd, depth, xd, yd), colour, 1.4, title))


def _is_stub(model: MemoryMapModel, address: int) -> bool:
    return any(s.address == address for s in model.stubs)


def _legend(scene: Scene, model: MemoryMapModel, y) -> None:
    counts = model.counts()
    x = 8.0
    for state in SITE_STATES:
        if state == "other" and not counts[state]:
            continue
        scene.add(Rect(x, y["legend"] - 9, 10, 10, STATE_COLOURS[state], style.INK))
        text = f"{STATE_LABELS[state].split(' (')[0]}: {counts[state]}"
        scene.add(Text(x + 14, y["legend"], text, size=10))
        x += 22 + 6.3 * len(text)
    for role, text in (("mcount", "stub to _mcount"), ("ftrace", "stub to ftrace_caller")):
        scene.add(Rect(x, y["legend"] - 7, 14, 6, ROLE_COLOURS[role], style.INK))
        scene.add(Text(x + 18, y["legend"], text, size=10))
        x += 26 + 6.3 * len(text)


# -- SVG -------------------------------------------------------------------------------

def _esc(text: str) -> str:
    return style.html_escape(text)


def _title(t: str | None) -> str:
    return f"<title>{_esc(t)}</title>" if t else ""


def memmap_svg(model: MemoryMapModel, *, selected: int | None = None,
               zoom: tuple[int, int] | None = None, width: int = 760, title: str | None = None,
               label: str | None = None) -> str:
    """The map as an `<svg>` string (white background, explicit colours, `label` as its
    accessible name)."""
    scene = map_scene(model, selected=selected, zoom=zoom, width=width, title=title)
    name = label or "Memory map: regions, call sites by state, stubs"
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" role="img" aria-label="{_esc(name)}" '
           f'width="{scene.width:.0f}" height="{scene.height:.0f}" '
           f'viewBox="0 0 {scene.width:.0f} {scene.height:.0f}" '
           f'style="background:{style.BACKGROUND};font-family:sans-serif;max-width:100%">',
           f'<rect width="100%" height="100%" fill="{style.BACKGROUND}"/>']
    plain: dict[tuple[str, float], list[str]] = {}   # untitled lines merged per colour
    for it in scene.items:
        if isinstance(it, Rect):
            stroke = f' stroke="{it.stroke}" stroke-width="0.8"' if it.stroke else ""
            op = f' fill-opacity="{it.opacity}"' if it.opacity != 1 else ""
            out.append(f'<rect x="{it.x:.1f}" y="{it.y:.1f}" width="{it.w:.1f}" height="{it.h:.1f}" '
                       f'fill="{it.fill}"{op}{stroke}>{_title(it.title)}</rect>')
        elif isinstance(it, Line):
            seg = f"M{it.x0:.1f} {it.y0:.1f}L{it.x1:.1f} {it.y1:.1f}"
            if it.title or it.dash:
                dash = ' stroke-dasharray="3 3"' if it.dash else ""
                out.append(f'<path d="{seg}" stroke="{it.colour}" stroke-width="{it.width}"{dash}>'
                           f"{_title(it.title)}</path>")
            else:
                plain.setdefault((it.colour, it.width), []).append(seg)
        elif isinstance(it, Curve):
            x0, y0, x1, y1, x2, y2, x3, y3 = it.points
            out.append(f'<path d="M{x0:.1f} {y0:.1f}C{x1:.1f} {y1:.1f} {x2:.1f} {y2:.1f} '
                       f'{x3:.1f} {y3:.1f}" fill="none" stroke="{it.colour}" '
                       f'stroke-width="{it.width}">{_title(it.title)}</path>')
            out.append(f'<path d="{_arrowhead(it.points)}" fill="{it.colour}"/>')
        elif isinstance(it, Text):
            anchor = f' text-anchor="{it.anchor}"' if it.anchor != "start" else ""
            weight = ' font-weight="bold"' if it.bold else ""
            out.append(f'<text x="{it.x:.1f}" y="{it.y:.1f}" font-size="{it.size}" fill="{it.colour}"'
                       f"{anchor}{weight}>{_esc(it.text)}</text>")
    for (colour, width), segs in plain.items():
        out.append(f'<path d="{"".join(segs)}" stroke="{colour}" stroke-width="{width}"/>')
    out.append("</svg>")
    return "".join(out)


def _arrowhead(points: tuple[float, ...], size: float = 6.0) -> str:
    """A small triangle at the curve's end, pointing along its last control leg."""
    x2, y2, x3, y3 = points[4:8]
    dx, dy = x3 - x2, y3 - y2
    n = (dx * dx + dy * dy) ** 0.5 or 1.0
    ux, uy = dx / n, dy / n
    bx, by = x3 - ux * size, y3 - uy * size
    return (f"M{x3:.1f} {y3:.1f}L{bx - uy * size / 2:.1f} {by + ux * size / 2:.1f}"
            f"L{bx + uy * size / 2:.1f} {by - ux * size / 2:.1f}Z")


def memmap_html(model: MemoryMapModel, *, selected: int | None = None,
                zoom: tuple[int, int] | None = None, width: int = 760, title: str | None = None) -> str:
    """The SVG map in a white box, with a one-line summary of the selected site."""
    svg = memmap_svg(model, selected=selected, zoom=zoom, width=width, title=title)
    info = ""
    if selected is not None:
        s = model.site(selected)
        where = f"{s.function}" + (f" [{s.module}]" if s.module else "")
        path = " \u2192 ".join(model.where(a.dest) for a in model.arrows(selected))
        info = (f"<div>Selected: {style.html_code(where)} site {style.html_code(f'{s.ip:#x}')}: "
                f"<strong>{style.html_escape(s.state.label)}</strong>"
                + (f" &middot; path {style.html_code(path)}" if path else "") + "</div>")
    return (f'<div class="ppcftrace-memmap" style="{style.BOX_STYLE};padding:4px">'
            f"{svg}{info}</div>")


# -- matplotlib ------------------------------------------------------------------------

def memmap_figure(model: MemoryMapModel, *, selected: int | None = None,
                  zoom: tuple[int, int] | None = None, width: int = 760, title: str | None = None):
    """The same map as a matplotlib Figure (collections, not one patch per site)."""
    from matplotlib.collections import LineCollection, PatchCollection
    from matplotlib.patches import PathPatch, Polygon, Rectangle
    from matplotlib.path import Path

    scene = map_scene(model, selected=selected, zoom=zoom, width=width, title=title)
    dpi = 100
    fig = style.new_figure(scene.width / dpi, scene.height / dpi, dpi=dpi)
    ax = fig.add_axes((0, 0, 1, 1))
    ax.set_xlim(0, scene.width)
    ax.set_ylim(scene.height, 0)
    ax.axis("off")
    ax.set_facecolor(style.BACKGROUND)
    lines: dict[tuple[str, float, bool], list] = {}
    pt = 72 / dpi  # points per pixel
    for it in scene.items:
        if isinstance(it, Rect):
            if it.fill == "none":
                ax.add_patch(Rectangle((it.x, it.y), it.w, it.h, fill=False, edgecolor=it.stroke,
                                       linewidth=0.8))
            else:
                ax.add_collection(PatchCollection(
                    [Rectangle((it.x, it.y), it.w, it.h)], facecolor=it.fill, alpha=it.opacity,
                    edgecolor=it.stroke or "none", linewidth=0.6))
        elif isinstance(it, Line):
            lines.setdefault((it.colour, it.width, it.dash), []).append(
                [(it.x0, it.y0), (it.x1, it.y1)])
        elif isinstance(it, Curve):
            x0, y0, x1, y1, x2, y2, x3, y3 = it.points
            path = Path([(x0, y0), (x1, y1), (x2, y2), (x3, y3)],
                        [Path.MOVETO, Path.CURVE4, Path.CURVE4, Path.CURVE4])
            ax.add_patch(PathPatch(path, fill=False, edgecolor=it.colour, linewidth=it.width))
            head = [tuple(map(float, p.split())) for p in
                    _arrowhead(it.points)[1:-1].replace("L", "|").split("|")]
            ax.add_patch(Polygon(head, closed=True, facecolor=it.colour, edgecolor="none"))
        elif isinstance(it, Text):
            ax.text(it.x, it.y, it.text, color=it.colour, fontsize=it.size * pt * 1.05,
                    ha={"start": "left", "middle": "center", "end": "right"}[it.anchor],
                    va="baseline", fontweight="bold" if it.bold else "normal")
    for (colour, width, dash), segs in lines.items():
        ax.add_collection(LineCollection(segs, colors=colour, linewidths=width * pt * 1.4,
                                         linestyles="dashed" if dash else "solid"))
    return fig
