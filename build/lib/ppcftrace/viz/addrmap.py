"""An address map on a broken axis: regions far apart, each shown at a readable scale.

Kernel text at 0xc000... and the module area at 0xd000... are 2**60 bytes apart while
a `bl` reaches 32 MiB; no single linear axis shows both. The map groups nearby items
into segments, draws each segment at its own scale (in MiB from a base address), and
marks the breaks with the size of the gap they hide.

Coordinates are converted to MiB *relative to each segment's base* before plotting,
because a float cannot hold a 64-bit address to the byte.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

from ppcftrace.viz import style

MiB = 1 << 20


@dataclass(frozen=True)
class Region:
    """A mapped range [start, start + size), e.g. kernel text or the module area."""

    name: str
    start: int
    size: int

    @property
    def end(self) -> int:
        return self.start + self.size


@dataclass(frozen=True)
class Mark:
    """One address with a label, e.g. `_mcount` or a call site."""

    name: str
    address: int


@dataclass(frozen=True)
class Window:
    """The targets [low, high] (inclusive) that a branch at `site` can reach."""

    name: str
    site: int
    low: int
    high: int


@dataclass(frozen=True)
class Segment:
    """One piece of the broken axis: addresses [low, high], ticks in MiB from base."""

    base: int
    low: int
    high: int


def segments_for(addresses: Sequence[int], *, bases: Sequence[int] = (), join: int = 1 << 32,
                 margin: int = 8 * MiB) -> list[Segment]:
    """Group addresses closer than `join` into segments, with `margin` either side.

    A segment's base (its axis origin) is the first of `bases` inside it, else its
    lowest address.
    """
    if not addresses:
        raise ValueError("an address map needs at least one address")
    points = sorted(addresses)
    groups: list[list[int]] = [[points[0]]]
    for a in points[1:]:
        if a - groups[-1][-1] <= join:
            groups[-1].append(a)
        else:
            groups.append([a])
    segments = []
    for g in groups:
        inside = [b for b in bases if g[0] <= b <= g[-1]]
        segments.append(Segment(inside[0] if inside else g[0], g[0] - margin, g[-1] + margin))
    return segments


def gap_text(nbytes: int) -> str:
    """A gap as a power of two when it is one, else in hex, e.g. `2**60 bytes`."""
    if nbytes > 0 and nbytes & (nbytes - 1) == 0:
        return f"2**{nbytes.bit_length() - 1} bytes"
    return f"{nbytes:#x} bytes"


def address_map_figure(regions: Sequence[Region], marks: Sequence[Mark] = (),
                       windows: Sequence[Window] = (), *, title: str | None = None,
                       margin: int = 8 * MiB):
    """A Figure: one panel per segment, regions as bars (at least 1% of the panel
    wide, so a small one stays visible), windows as spans with the site marked, marks
    as labelled lines; breaks labelled with the hidden gap."""
    addresses = [a for r in regions for a in (r.start, r.end)]
    addresses += [m.address for m in marks]
    addresses += [a for w in windows for a in (w.low, w.high, w.site)]
    segs = segments_for(addresses, bases=[r.start for r in regions], margin=margin)
    longest = max((len(w.name) for w in windows), default=6)
    label_room = 0.3 + 0.085 * longest  # inches for the row labels, per character
    fig = style.new_figure(2.9 * len(segs) + label_room, 3.3)
    axes = fig.subplots(1, len(segs), sharey=True, squeeze=False,
                        gridspec_kw={"wspace": 0.12})[0]
    rows = {"regions": 0.0, "windows": [1.0 + i for i in range(len(windows))]}
    top = 1.0 + len(windows)
    for ax, seg in zip(axes, segs):
        _draw_segment(ax, seg, regions, marks, windows, rows, top)
    axes[0].set_yticks([0.0, *rows["windows"]],
                       ["mapped"] + [w.name for w in windows], color=style.INK)
    for left, right, (a, b) in zip(axes, axes[1:], zip(segs, segs[1:])):
        _break_marks(left, right)
        x = (left.get_position().x1 + right.get_position().x0) / 2
        fig.text(x, 0.03, f"axis cut: the right panel's origin is {gap_text(b.base - a.base)}"
                 " higher", ha="center", va="bottom", fontsize=style.FONT_SIZE,
                 color=style.ERROR)
    if title:
        fig.suptitle(title, color=style.INK, fontsize=style.FONT_SIZE + 1)
    fig.subplots_adjust(left=label_room / fig.get_figwidth(), right=0.98,
                        bottom=0.24, top=0.82 if title else 0.9)
    return fig


def _mib(seg: Segment, address: int) -> float:
    return (address - seg.base) / MiB


def _clip(seg: Segment, low: int, high: int) -> tuple[float, float] | None:
    lo, hi = max(low, seg.low), min(high, seg.high)
    return (_mib(seg, lo), _mib(seg, hi)) if lo <= hi else None


def _draw_segment(ax, seg: Segment, regions, marks, windows, rows, top) -> None:
    style.style_axes(ax)
    ax.set_xlim(_mib(seg, seg.low), _mib(seg, seg.high))
    ax.set_ylim(-0.5, top + 0.2)
    ax.set_xlabel(f"MiB from {seg.base:#x}", color=style.INK, fontsize=style.FONT_SIZE)
    least = (seg.high - seg.low) / MiB / 100  # a region narrower than 1% still shows
    for i, region in enumerate(regions):
        span = _clip(seg, region.start, region.end)
        if span:
            ax.barh(rows["regions"], max(span[1] - span[0], least), left=span[0], height=0.5,
                    color=style.fill(i), edgecolor=style.INK, linewidth=0.6)
            ax.text(sum(span) / 2, rows["regions"] + 0.4, region.name, ha="center", va="center",
                    fontsize=style.FONT_SIZE, color=style.INK)
    for i, (window, y) in enumerate(zip(windows, rows["windows"])):
        span = _clip(seg, window.low, window.high)
        if span:
            ax.barh(y, span[1] - span[0], left=span[0], height=0.45,
                    color=style.colour(i + 4), alpha=0.35, edgecolor=style.colour(i + 4))
        if seg.low <= window.site <= seg.high:
            ax.plot([_mib(seg, window.site)], [y], marker="v", color=style.INK, markersize=7)
    for mark in marks:
        if seg.low <= mark.address <= seg.high:
            x = _mib(seg, mark.address)
            ax.axvline(x, color=style.INK, linewidth=0.8, linestyle=":")
            ax.text(x, top - 0.3, mark.name, ha="center", va="center", fontsize=style.FONT_SIZE,
                    color=style.INK, bbox={"facecolor": style.BACKGROUND, "edgecolor": "none",
                                           "pad": 1})


def _break_marks(left, right) -> None:
    """The usual '//' where the axis is cut between two panels."""
    left.spines["right"].set_visible(False)
    right.spines["left"].set_visible(False)
    right.tick_params(left=False)
    kw = {"marker": [(-1, -1.5), (1, 1.5)], "markersize": 10, "linestyle": "none",
          "color": style.INK, "mec": style.INK, "mew": 1, "clip_on": False}
    left.plot([1, 1], [0, 1], transform=left.transAxes, **kw)
    right.plot([0, 0], [0, 1], transform=right.transAxes, **kw)
