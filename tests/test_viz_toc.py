"""The TOC window figure: it draws, its window is the D field's, backgrounds are opaque."""

from __future__ import annotations

import io

import pytest

from ppcftrace import isa
from ppcftrace.machine import Machine
from ppcftrace.viz import tocwindow
from ppcftrace.viz.addrmap import Mark, Region


def _texts(fig) -> list[str]:
    return [t.get_text() for ax in fig.axes for t in ax.texts] + [t.get_text() for t in fig.texts]


def _png(fig) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    return buf.getvalue()


def test_window_limits_are_the_d_field():
    d = isa.FORMS["D"].field("D")
    assert (tocwindow.D_MIN, tocwindow.D_MAX) == (d.min, d.max)
    assert tocwindow.D_MAX + 1 - tocwindow.D_MIN == 64 * 1024


def test_figure_of_the_kernel_toc():
    m = Machine.boot("ppc64")
    got = m.kernel.section(".got")
    regions = [Region(n, m.kernel.section(n).addr, m.kernel.section(n).size)
               for n in (".opd", ".got")]
    marks = [Mark("schedule", m.kernel.descriptor("schedule").address)]
    fig = tocwindow.toc_window_figure(m.toc, regions, marks,
                                      zoom=(m.kernel.section(".opd").addr, got.addr + got.size),
                                      title="t")
    assert _png(fig).startswith(b"\x89PNG")
    assert fig.get_facecolor()[3] == 1.0 and all(ax.get_facecolor()[3] == 1.0 for ax in fig.axes)
    texts = _texts(fig)
    assert any(f"{m.toc:#x}" in t for t in texts)               # r2, labelled with its address
    assert any(f"{m.toc - 0x8000:#x}" in t for t in texts)      # the TOC base
    assert ".opd" in texts and ".got" in texts and "schedule" in texts
    window = fig.axes[0]
    labels = [t.get_text() for t in window.get_xticklabels()]
    assert labels[0] == "-0x8000" and labels[2] == "+0x0" and labels[-1] == "+0x8000"
    # in the zoom panel the TOC base is at offset -0x8000 from r2
    zoom = fig.axes[1]
    assert zoom.get_xlim()[0] == m.kernel.section(".opd").addr - m.toc


def test_without_zoom_items_go_on_the_window():
    fig = tocwindow.toc_window_figure(0x18000, [Region(".toc", 0x10000, 0x100)],
                                      [Mark("x", 0x10010)])
    assert len(fig.axes) == 1 and ".toc" in _texts(fig) and "x" in _texts(fig)


def test_empty_zoom_is_refused():
    with pytest.raises(ValueError, match="empty"):
        tocwindow.toc_window_figure(0x18000, zoom=(0x10000, 0x10000))
