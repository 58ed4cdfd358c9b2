"""The irqsoff tracer's view of the idle loop: the latency it would report.

One bar per way of measuring the same run of `cpu_idle()`: stop/start honoured (the
2008 patch) or ignored (before it). Values come from `ppcftrace.irqsoff.max_irqsoff`;
the axis is logarithmic because the nap dwarfs the code around it.
"""

from __future__ import annotations

from typing import Sequence

from ppcftrace.viz import style

__all__ = ["irqsoff_figure"]


def irqsoff_figure(events: Sequence, *, title: str | None = None):
    """A Figure of the longest irqs-off section measured with and without stop/start."""
    from ppcftrace.irqsoff import critical_sections, max_irqsoff

    rows = (("stop/start honoured\n(the patch)", True), ("stop/start ignored\n(before)", False))
    fig = style.new_figure(7.5, 2.3)
    ax = fig.add_axes((0.25, 0.25, 0.7, 0.6 if title else 0.7))
    style.style_axes(ax)
    values = [max_irqsoff(events, honour) for _, honour in rows]
    ax.barh(range(len(rows)), values, color=[style.fill(2), style.fill(5)],
            edgecolor=[style.colour(2), style.colour(5)], height=0.55)
    ax.set_xscale("log")
    ax.set_xlim(1, max(values) * 200)
    ax.set_yticks(range(len(rows)), [r[0] for r in rows])
    ax.invert_yaxis()
    for y, ((_, honour), value) in enumerate(zip(rows, values)):
        n = len(critical_sections(events, honour))
        ax.text(value * 1.15, y, f"{value:,} ({n} section{'s' if n != 1 else ''} timed)",
                va="center", fontsize=style.FONT_SIZE - 1, color=style.INK)
    ax.set_xlabel("longest irqs-off section (instructions; the nap counts as its length)",
                  color=style.INK, fontsize=style.FONT_SIZE - 1)
    if title:
        fig.suptitle(title, color=style.INK, fontsize=style.FONT_SIZE + 1)
    return fig
