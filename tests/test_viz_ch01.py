"""Figures and HTML views: they draw, their labels come from isa.FORMS, and their
backgrounds are opaque."""

from __future__ import annotations

import io

import capstone
import pytest

from ppcftrace import isa
from ppcftrace.viz import addrmap, bitfields, style


def _texts(fig) -> list[str]:
    return [t.get_text() for ax in fig.axes for t in ax.texts] + [t.get_text() for t in fig.texts]


def _render(fig) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    return buf.getvalue()


@pytest.mark.parametrize("form", sorted(isa.FORMS))
def test_bitfield_labels_are_the_forms_fields(form):
    fig = bitfield_figure_checked(form)
    texts = _texts(fig)
    for field in bitfields.form_fields(form):
        assert field.name in texts
    assert [str(b) for b in range(32)] == [t for t in texts if t.isdigit() and len(t) <= 2][-32:]


def bitfield_figure_checked(form, word=None):
    fig = bitfields.bitfield_figure(form, word)
    assert _render(fig).startswith(b"\x89PNG")
    assert fig.get_facecolor()[3] == 1.0  # opaque
    return fig


def test_bitfield_figure_shows_the_bits_of_a_word():
    word = 0x4BFB7B79  # GNU as: `bl .-0x48488`; capstone decodes it below
    cs = capstone.Cs(capstone.CS_ARCH_PPC, capstone.CS_MODE_64 | capstone.CS_MODE_BIG_ENDIAN)
    insn = next(cs.disasm(word.to_bytes(4, "big"), 0x48488))
    assert (insn.mnemonic, insn.op_str) == ("bl", "0")
    fig = bitfield_figure_checked("I", word)
    ax = fig.axes[0]
    bit_texts = [t.get_text() for t in ax.texts if t.get_position()[1] == 0.5]
    assert "".join(bit_texts) == f"{word:032b}"
    summary = [t for t in _texts(fig) if "OPCD" in t and "LI" in t][0]
    assert "OPCD = 18" in summary and "-0x48488" in summary and "LK = 1" in summary


def test_bitfield_html_is_static_and_complete():
    word = isa.create_branch(0x1000, 0x2000, isa.BRANCH_SET_LINK)
    html = bitfields.bitfield_html(word, "I", caption="x<y")
    assert "<script" not in html and "x&lt;y" in html
    for field in isa.FORMS["I"]:
        assert f">{field.name}<br>" in html
    bits = "".join(part.split("</code>")[0] for part in html.split('">')[1:]
                   if part[:1] in "01" and "</code>" in part)
    assert bits == f"{word:032b}"


def test_address_map_segments_and_cut_label():
    kb, va = 0xC000000000000000, 0xD000000000000000
    mcount, site = kb + 0x8E20, va + 0x12340
    fig = addrmap.address_map_figure(
        [addrmap.Region("kernel text", kb, 0x800000), addrmap.Region("module area", va, 0x1000000)],
        [addrmap.Mark("_mcount", mcount), addrmap.Mark("site", site)],
        [addrmap.Window("reach", site, site - 0x2000000, site + 0x1FFFFFC)])
    assert _render(fig).startswith(b"\x89PNG")
    assert len(fig.axes) == 2
    texts = _texts(fig)
    assert any("2**60 bytes" in t for t in texts)
    assert {"kernel text", "module area", "_mcount", "site"} <= set(texts)
    assert [ax.get_xlabel() for ax in fig.axes] == [f"MiB from {kb:#x}", f"MiB from {va:#x}"]
    assert fig.get_facecolor()[3] == 1.0


def test_segments_group_near_addresses_and_keep_precision():
    segs = addrmap.segments_for([0xC000000000000004, 0xC000000000001000, 0xD000000000000000],
                                bases=[0xC000000000000000, 0xD000000000000000])
    assert len(segs) == 2
    # the axis origin is exact: no float rounding of 64-bit addresses
    assert segs[1].base == 0xD000000000000000
    with pytest.raises(ValueError):
        addrmap.segments_for([])


def test_gap_text():
    assert addrmap.gap_text(1 << 60) == "2**60 bytes"
    assert addrmap.gap_text(0x1234) == "0x1234 bytes"


def test_palette_is_opaque_hex():
    for c in (*style.PALETTE, *style.FILLS):
        assert c.startswith("#") and len(c) == 7
