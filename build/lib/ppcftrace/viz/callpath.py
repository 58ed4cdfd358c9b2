"""A call path across the address space: call site → stub (or PLT entry) → target.

A module's call to `_mcount` is two jumps: a `bl` to a stub a few hundred bytes away,
then a `bctr` from the stub across the gap between the module area and kernel text
(2**60 bytes on PPC64). The figure reuses `viz.addrmap`'s broken axis: nearby
addresses share a panel drawn to scale in bytes, and each cut is labelled with the
gap it hides. Each jump is an arrow; one that crosses a cut is drawn from panel to
panel, so the picture does not pretend the two ends are close.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

from ppcftrace.viz import style
from ppcftrace.viz.addrmap import Mark, Region, Segment, _break_marks, gap_text, segments_for

__all__ = ["Hop", "Mark", "Region", "call_path_figure"]


@dataclass(frozen=True)
class Hop:
    """One control transfer, drawn as an arrow from `source` to `target`."""

    label: str
    source: int
    target: int


def _segments(addresses: list[int], regions: Sequence[Region], join: int) -> list[Segment]:
    """Panels for the addresses, each padded by 6% of its span (at least 0x20 bytes)."""
    raw = segments_for(addresses, bases=[r.start for r in regions], join=join, margin=0)
    out = []
    for seg in raw:
        pad = max(0x20, (seg.high - seg.low) * 6 // 100)
        out.append(Segment(seg.base, seg.low - pad, seg.high + pad))
    return out


def call_path_figure(regions: Sequence[Region], marks: Sequence[Mark], hops: Sequence[Hop], *,
                     title: str | None = None, join: int = 1 << 20):
    """A Figure: one panel per group of addresses closer than `join` (offsets in bytes
    from the panel's base), regions as bars, marks as labelled lines, hops as arrows
    (across panels when they cross a cut, each cut labelled with the gap it hides)."""
    addresses = [a for r in regions for a in (r.start, r.end)]
    addresses += [m.address for m in marks] + [a for h in hops for a in (h.source, h.target)]
    segs = _segments(addresses, regions, join)
    fig = style.new_figure(3.7 * len(segs) + 0.4, 3.6)
    axes = fig.subplots(1, len(segs), sharey=True, squeeze=False,
                        gridspec_kw={"wspace": 0.18})[0]
    top = 2.2 + 0.55 * len(hops)
    for ax, seg in zip(axes, segs):
        _draw_panel(ax, seg, regions, marks, top)
    fig.subplots_adjust(left=0.04, right=0.97, bottom=0.26, top=0.84 if title else 0.93)
    for left, right, (a, b) in zip(axes, axes[1:], zip(segs, segs[1:])):
        _break_marks(left, right)
        x = (left.get_position().x1 + right.get_position().x0) / 2
        fig.text(x, 0.02, f"axis cut: the right panel's origin is {_gap(b.base - a.base)} "
                 "higher", ha="center", va="bottom", fontsize=style.FONT_SIZE, color=style.ERROR)
    for i, hop in enumerate(hops):
        _draw_hop(fig, axes, segs, hop, 0.75 + 0.55 * i, style.colour([4, 5, 2, 6][i % 4]))
    if title:
        fig.suptitle(title, color=style.INK, fontsize=style.FONT_SIZE + 1)
    return fig


def _gap(nbytes: int) -> str:
    """`gap_text`, with MiB added when it is a whole number of MiB but no power of 2."""
    text = gap_text(nbytes)
    mib = 1 << 20
    if nbytes % mib == 0 and "**" not in text:
        text += f" ({nbytes // mib:,} MiB)"
    return text


def _x(seg: Segment, address: int) -> float:
    """An address as a byte offset from its panel's base (exact below 2**53)."""
    return float(address - seg.base)


def _panel_of(segs: Sequence[Segment], address: int) -> int:
    return next(i for i, s in enumerate(segs) if s.low <= address <= s.high)


def _draw_panel(ax, seg: Segment, regions, marks, top: float) -> None:
    from matplotlib.ticker import FuncFormatter, MaxNLocator

    style.style_axes(ax)
    ax.set_xlim(_x(seg, seg.low), _x(seg, seg.high))
    ax.set_ylim(-0.7, top)
    ax.set_yticks([])
    ax.xaxis.set_major_locator(MaxNLocator(4, integer=True, steps=[1, 2, 4, 8, 10]))
    ax.xaxis.set_major_formatter(FuncFormatter(
        lambda v, _pos: f"+{int(v):#x}" if v >= 0 else f"-{-int(v):#x}"))
    ax.set_xlabel(f"bytes from {seg.base:#x}", color=style.INK, fontsize=style.FONT_SIZE)
    inside = [r for r in regions if r.start <= seg.high and r.end >= seg.low]
    for i, region in enumerate(inside):
        lo, hi = max(region.start, seg.low), min(region.end, seg.high)
        ax.barh(0.0, hi - lo, left=_x(seg, lo), height=0.5, color=style.fill(regions.index(region)),
                edgecolor=style.INK, linewidth=0.6)
        # a name near the panel's right edge is right-aligned there, so it stays inside
        x, align = (_x(seg, (lo + hi) // 2), "center")
        if (seg.high - (lo + hi) // 2) < (seg.high - seg.low) // 10:
            x, align = _x(seg, seg.high), "right"
        ax.text(x, -0.5 if i % 2 else 0.0, region.name, ha=align, va="center",
                fontsize=style.FONT_SIZE - 1, color=style.INK)
    shown = [m for m in marks if seg.low <= m.address <= seg.high]
    for i, mark in enumerate(sorted(shown, key=lambda m: m.address)):
        x = _x(seg, mark.address)
        ax.axvline(x, color=style.INK, linewidth=0.8, linestyle=":")
        where = (mark.address - seg.low) / max(seg.high - seg.low, 1)
        align = "left" if where < 0.1 else "right" if where > 0.9 else "center"
        ax.text(x, top - 0.3 - 0.4 * (i % 2), mark.name, ha=align, va="center",
                fontsize=style.FONT_SIZE - 1, color=style.INK,
                bbox={"facecolor": style.BACKGROUND, "edgecolor": "none", "pad": 1})


def _draw_hop(fig, axes, segs, hop: Hop, y: float, colour: str) -> None:
    """An arc from source to target at height y, labelled at its apex."""
    from matplotlib.patches import ConnectionPatch

    a, b = _panel_of(segs, hop.source), _panel_of(segs, hop.target)
    ax_a, ax_b = axes[a], axes[b]
    pa = (_x(segs[a], hop.source), y)
    pb = (_x(segs[b], hop.target), y)
    da, db = ax_a.transData.transform(pa), ax_b.transData.transform(pb)
    # bow upwards whichever way the jump goes, about 40 pixels at 100 dpi
    rise = 0.4 * fig.dpi
    rad = min(0.6, 2 * rise / max(abs(db[0] - da[0]), 1.0))
    rad = rad if db[0] < da[0] else -rad
    fig.add_artist(ConnectionPatch(pa, pb, "data", "data", axesA=ax_a, axesB=ax_b,
                                   arrowstyle="-|>", mutation_scale=14, linewidth=1.6,
                                   color=colour, connectionstyle=f"arc3,rad={rad}"))
    for ax, p in ((ax_a, pa), (ax_b, pb)):
        ax.plot([p[0]], [p[1]], marker="o", markersize=3, color=colour)
    # the apex of arc3's quadratic curve: midpoint + rad/2 * (dy, -dx), in pixels
    dx, dy = db[0] - da[0], db[1] - da[1]
    apex = ((da[0] + db[0]) / 2 + rad / 2 * dy, (da[1] + db[1]) / 2 - rad / 2 * dx)
    fx, fy = fig.transFigure.inverted().transform(apex)
    fig.text(fx, fy, hop.label, ha="center", va="bottom", fontsize=style.FONT_SIZE,
             color=colour, fontweight="bold",
             bbox={"facecolor": style.BACKGROUND, "edgecolor": "none", "pad": 1})
