"""The TOC window: what a signed 16-bit displacement from r2 reaches (PPC64 ELFv1).

r2 points `bias` (0x8000) bytes above the TOC base, so `ld rX,d(r2)` with
d in [-0x8000, 0x7fff] reaches [TOC base, TOC base + 64 KiB). The figure draws that
window on an axis of offsets from r2 and, optionally, a second panel that zooms
on a stretch of it (where the sections actually are) with the regions and marks.

The x axes are byte offsets from r2 (small numbers, exact as floats); absolute
addresses appear only in labels, formatted from Python ints.
"""

from __future__ import annotations

from typing import Sequence

from ppcftrace.viz import style
from ppcftrace.viz.addrmap import Mark, Region

__all__ = ["toc_window_figure", "D_MIN", "D_MAX", "TOC_BIAS"]

#: a D-form displacement: signed 16 bits
D_MIN, D_MAX = -0x8000, 0x7FFF
#: r2 = TOC base + 0x8000 (module_64.c: my_r2 = .toc sh_addr + 0x8000)
TOC_BIAS = 0x8000
#: labels sit on an opaque patch so dashed lines do not cross the text
_LABEL_BOX = {"facecolor": style.BACKGROUND, "edgecolor": "none", "pad": 1}


def _signed_hex(value: int) -> str:
    return f"-{-value:#x}" if value < 0 else f"+{value:#x}"


def toc_window_figure(r2: int, regions: Sequence[Region] = (), marks: Sequence[Mark] = (), *,
                      zoom: tuple[int, int] | None = None, bias: int = TOC_BIAS,
                      title: str | None = None):
    """A Figure of the window r2 + [-0x8000, +0x7fff], the TOC base at r2 - bias.

    `zoom` = (low, high) absolute addresses adds a lower panel at byte scale that shows
    `regions` (bars) and `marks` (ticks) in that stretch; without it they are drawn
    on the window panel.
    """
    if zoom is not None and not zoom[0] < zoom[1]:
        raise ValueError(f"zoom ({zoom[0]:#x}, {zoom[1]:#x}) is empty")
    panels = 2 if zoom else 1
    fig = style.new_figure(8.0, 2.3 * panels + 0.6)
    axes = fig.subplots(panels, 1, squeeze=False)[:, 0]
    pad = 0x1800
    _window_panel(axes[0], r2, bias, (D_MIN - pad, D_MAX + 1 + pad),
                  () if zoom else regions, () if zoom else marks, zoom)
    if zoom:
        _zoom_panel(axes[1], r2, bias, zoom, regions, marks)
    if title:
        fig.suptitle(title, color=style.INK, fontsize=style.FONT_SIZE + 1)
    fig.subplots_adjust(left=0.05, right=0.97, bottom=0.16 if panels == 1 else 0.1,
                        top=0.84 if title else 0.9, hspace=0.75)
    return fig


def _base_axes(ax, lim: tuple[int, int], label: str) -> None:
    style.style_axes(ax)
    ax.set_xlim(*lim)
    ax.set_ylim(-0.9, 2.2)
    ax.set_yticks([])
    ax.set_xlabel(label, color=style.INK, fontsize=style.FONT_SIZE)


def _window_panel(ax, r2, bias, lim, regions, marks, zoom) -> None:
    _base_axes(ax, lim, "offset from r2 (bytes)")
    ticks = [D_MIN, D_MIN // 2, 0, D_MAX // 2 + 1, D_MAX + 1]
    ax.set_xticks(ticks, [_signed_hex(t) for t in ticks])
    ax.barh(1.0, D_MAX + 1 - D_MIN, left=D_MIN, height=0.55, color=style.fill(1),
            edgecolor=style.colour(4), linewidth=1.0)
    ax.text(0, 1.0, f"ld rX,d(r2): d from {_signed_hex(D_MIN)} to {_signed_hex(D_MAX)} (64 KiB)",
            ha="center", va="center", fontsize=style.FONT_SIZE, color=style.INK)
    base = -bias
    for x, text, where in ((base, f"TOC base\n{r2 - bias:#x}", "left"),
                           (0, f"r2 = TOC base + {bias:#x}\n{r2:#x}", "center")):
        ax.axvline(x, color=style.INK, linewidth=1.0, linestyle="--")
        ax.text(x, 1.55, text, ha=where, va="bottom", fontsize=style.FONT_SIZE - 1,
                color=style.INK, bbox=_LABEL_BOX)
    if zoom:
        lo, hi = zoom[0] - r2, zoom[1] - r2
        ax.axvspan(lo, hi, ymin=0.0, ymax=0.25, color=style.colour(5), alpha=0.5)
        ax.text(min(hi, lim[1]) + 0x200, -0.55, "zoomed below", ha="left", va="center",
                fontsize=style.FONT_SIZE - 1, color=style.INK)
    _draw_items(ax, r2, lim, regions, marks, least=(lim[1] - lim[0]) / 150)


def _zoom_panel(ax, r2, bias, zoom, regions, marks) -> None:
    lim = (zoom[0] - r2, zoom[1] - r2)
    _base_axes(ax, lim, f"offset from r2 (bytes), zoom on {zoom[0]:#x}-{zoom[1]:#x}")
    span = lim[1] - lim[0]
    step = max(0x10, 1 << max(4, (span // 6).bit_length() - 1))
    first = -(-lim[0] // step) * step
    ticks = list(range(first, lim[1] + 1, step))
    ax.set_xticks(ticks, [_signed_hex(t) for t in ticks])
    # the window's edge (and r2, if in view) at byte scale
    lo, hi = max(D_MIN, lim[0]), min(D_MAX + 1, lim[1])
    if lo < hi:
        ax.barh(1.6, hi - lo, left=lo, height=0.3, color=style.fill(1),
                edgecolor=style.colour(4), linewidth=1.0)
        ax.text(hi, 1.6, "reachable from r2 ", ha="right", va="center",
                fontsize=style.FONT_SIZE - 1, color=style.INK)
    for x, text in ((-bias, "TOC base"), (0, "r2")):
        if lim[0] <= x <= lim[1]:
            ax.axvline(x, color=style.INK, linewidth=1.0, linestyle="--")
            ax.text(x, 1.95, text, ha="left", va="bottom", fontsize=style.FONT_SIZE - 1,
                    color=style.INK, bbox=_LABEL_BOX)
    _draw_items(ax, r2, lim, regions, marks, least=span / 150)


def _draw_items(ax, r2, lim, regions, marks, least) -> None:
    """Regions as bars on row 0 (names above them), marks as ticks below, clipped."""
    for i, region in enumerate(regions):
        lo, hi = max(region.start - r2, lim[0]), min(region.end - r2, lim[1])
        if lo >= hi:
            continue
        ax.barh(0.0, max(hi - lo, least), left=lo, height=0.5, color=style.fill(i + 2),
                edgecolor=style.INK, linewidth=0.6)
        ax.text((lo + hi) / 2, 0.0, region.name, ha="center", va="center",
                fontsize=style.FONT_SIZE - 1, color=style.INK)
    shown = [m for m in marks if lim[0] <= m.address - r2 <= lim[1]]
    for k, mark in enumerate(sorted(shown, key=lambda m: m.address)):
        x = mark.address - r2
        ax.plot([x, x], [-0.3, -0.45], color=style.INK, linewidth=1.0)
        ax.text(x, -0.5 - 0.25 * (k % 2), mark.name, ha="center", va="top",
                fontsize=style.FONT_SIZE - 2, color=style.INK, bbox=_LABEL_BOX)
