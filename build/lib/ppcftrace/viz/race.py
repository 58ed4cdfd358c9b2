"""The two-nop race as a picture: r2 at every instruction of each run.

One band per run (`ppcftrace.race.RaceResult`), instruction index on the x axis; r2
is drawn as which TOC it holds (the module's, the kernel's, or something else). The
moment tracing is disabled and the end of the run (return or fault) are marked.
"""

from __future__ import annotations

from typing import Sequence

from ppcftrace.viz import style

__all__ = ["r2_timeline_figure", "r2_kind"]

_LEVELS = ("module TOC", "kernel TOC", "other")


def r2_kind(result, r2: int) -> str:
    """Which TOC `r2` is in `result`: "module TOC", "kernel TOC" or "other"."""
    if r2 == result.module_toc:
        return "module TOC"
    if r2 == result.kernel_toc:
        return "kernel TOC"
    return "other"


def r2_timeline_figure(results: Sequence, labels: Sequence[str], *, title: str | None = None):
    """A Figure with one step plot of r2's kind per run, stop and end marked."""
    if len(results) != len(labels) or not results:
        raise ValueError("give one label per result")
    fig = style.new_figure(8, 1.0 + 1.45 * len(results))
    axes = fig.subplots(len(results), 1, squeeze=False)[:, 0]
    for i, (ax, res, label) in enumerate(zip(axes, results, labels)):
        style.style_axes(ax)
        xs = [s.index for s in res.steps]
        ys = [_LEVELS.index(r2_kind(res, s.r2)) for s in res.steps]
        ax.step(xs, ys, where="post", color=style.colour(4), linewidth=2)
        ax.set_yticks(range(len(_LEVELS)), _LEVELS)
        ax.set_ylim(-0.5, len(_LEVELS) - 0.5)
        ax.invert_yaxis()
        ax.set_xlim(0, max(xs[-1] + 2, 10))
        stop = next((s.index for s in res.steps if s.where.startswith(
            (".function_trace_call", "function_trace_call"))), None)
        if stop is not None:
            ax.axvline(stop, color=style.colour(0), linestyle="--", linewidth=1.5)
            ax.text(stop + 1, -0.35, "preempted; tracing disabled", color=style.INK,
                    fontsize=style.FONT_SIZE - 2, va="top")
        end_x, end_y = xs[-1], ys[-1]
        if res.outcome == "fault":
            ax.plot([end_x], [end_y], marker="X", markersize=12, color=style.ERROR)
            what = f"fault at pc {res.error.pc:#x}"
        else:
            ax.plot([end_x], [end_y], marker="o", markersize=9, color=style.OK)
            what = "returned, printed its line" if res.ok else "returned"
        ax.set_title(f"{label}: {what}", fontsize=style.FONT_SIZE, color=style.INK, loc="left")
        if i == len(results) - 1:
            ax.set_xlabel("instructions executed", color=style.INK, fontsize=style.FONT_SIZE - 1)
    if title:
        fig.suptitle(title, color=style.INK, fontsize=style.FONT_SIZE + 1)
    fig.set_layout_engine("constrained")
    return fig
