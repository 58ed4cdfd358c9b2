"""The map's SVG and figure, and the word views: well-formed, honest about the gaps,
one mark per site in its state's colour, words from capstone."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import capstone
import pytest

from ppcftrace.kernel import start_kernel
from ppcftrace.lab.mapmodel import MemoryMapModel
from ppcftrace.machine import fixture_path
from ppcftrace.viz import style
from ppcftrace.viz.memmap import (STATE_COLOURS, gap_label, map_scene, map_segments, memmap_figure,
                                  memmap_html, memmap_svg)
from ppcftrace.viz.words import changed_words, compare_html, read_words, words_html

SVG = "{http://www.w3.org/2000/svg}"


@pytest.fixture(scope="module")
def model():
    m = start_kernel("ppc64", modules=[fixture_path("hmod.o")], cpu=False)
    m.ftrace.set_ftrace_filter(".hmod_hello .schedule")
    m.ftrace.current_tracer = "function"
    return MemoryMapModel(m)


def test_segments_cover_every_region_and_cuts_name_the_hidden_gap(model):
    segs = map_segments(model)
    for r in model.regions:
        assert any(s.low <= r.start and r.end <= s.high for s in segs), r.name
    assert len(segs) == 3         # the image, the kernel stack, the module area
    svg = memmap_svg(model)
    for a, b in zip(segs, segs[1:]):
        assert gap_label(b.low - a.high) in svg
    assert gap_label(2**60) == "2**60 B"
    assert gap_label(0xD000000000000000 - 0xC000000000104000) == "~2**60 B"
    assert gap_label(0xFEC90) == "0xfec90 B"


def test_svg_is_well_formed_and_has_one_mark_per_site(model):
    ip = model.find_site("hmod_hello").ip
    svg = memmap_svg(model, selected=ip)
    root = ET.fromstring(svg)
    assert root.tag == SVG + "svg" and root.get("role") == "img" and root.get("aria-label")
    titles = [t.text for t in root.iter(SVG + "title")]
    for state, colour in STATE_COLOURS.items():
        marks = [p for p in root.iter(SVG + "path") if p.get("stroke") == colour
                 and p.find(SVG + "title") is not None and " site 0x" in p.find(SVG + "title").text]
        assert len(marks) == model.counts()[state], state
    assert any("mod->arch.tramp" in t for t in titles)
    assert "continues below and above this panel" in svg       # the ±32 MiB window
    assert "out of reach of the selected bl" in svg            # in the kernel's panels
    assert svg.count("<title>bl: ") == 1 and svg.count("<title>stub: ") == 1


def test_many_sites_are_drawn_as_one_path_per_state():
    m = start_kernel("ppc64", synthetic=1000, cpu=False)
    model = MemoryMapModel(m)
    root = ET.fromstring(memmap_svg(model))
    paths = [p for p in root.iter(SVG + "path") if p.get("stroke") == STATE_COLOURS["nop"]]
    assert len(paths) == 1 and paths[0].get("d").count("M") == 1000


def test_zoomed_map_and_html(model):
    lo, hi = model.zoom_range(".text")
    scene = map_scene(model, zoom=(lo, hi))
    assert len(scene.panels) == 1 and scene.panels[0][0].low == lo
    html = memmap_html(model, selected=model.find_site("schedule").ip)
    assert "call ftrace_caller" in html and style.BACKGROUND in html


def test_figure_is_opaque_and_uses_collections(model):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.collections import LineCollection

    fig = memmap_figure(model, selected=model.find_site("hmod_hello").ip, title="t")
    assert fig.get_facecolor()[3] == 1.0
    ax = fig.axes[0]
    assert any(isinstance(c, LineCollection) for c in ax.collections)
    assert len(ax.patches) < 20            # no patch per site
    FigureCanvasAgg(fig).draw()


def test_words_view_matches_capstone_and_highlights(model):
    m = model.machine
    ip = model.find_site("hmod_hello").ip
    words = read_words(m.memory, ip - 4, 4)
    html = words_html(words, ip - 4, changed={ip}, current=ip + 4, breakpoints={ip - 4})
    cs = capstone.Cs(capstone.CS_ARCH_PPC, capstone.CS_MODE_64 | capstone.CS_MODE_BIG_ENDIAN)
    for insn in cs.disasm(m.memory.read(ip - 4, 16), ip - 4):
        assert f"{insn.mnemonic} {insn.op_str}".strip() in html
    assert f'data-addr="{ip:#x}" data-state="changed"' in html
    assert f'data-addr="{ip + 4:#x}" data-state="current"' in html
    assert "breakpoint" in html
    assert read_words(m.memory, 0x10, 2) == [None, None] and "(unmapped)" in words_html([None], 0x10)
    pair = compare_html([1, 2], [1, 3], 0x100)
    assert pair.count('data-state="changed"') == 1


def test_changed_words_from_the_journal():
    from ppcftrace.memory import JournalEntry
    assert changed_words([JournalEntry(0x102, b"\0\0", b"\1\1"), JournalEntry(0x200, b"\0" * 8, b"\1" * 8)]) \
        == {0x100, 0x200, 0x204}
