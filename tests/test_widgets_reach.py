"""ReachExplorer without Jupyter: set the fields, read the output; bad input is shown
inline, never raised. Encodings are checked against capstone."""

from __future__ import annotations

import capstone
import pytest

from ppcftrace import isa
from ppcftrace.widgets import ReachExplorer, evaluate
from ppcftrace.widgets.reach import parse_address

CS = capstone.Cs(capstone.CS_ARCH_PPC, capstone.CS_MODE_64 | capstone.CS_MODE_BIG_ENDIAN)


def _capstone(word: int, address: int) -> str:
    insn = next(CS.disasm(word.to_bytes(4, "big"), address))
    return f"{insn.mnemonic} {insn.op_str}"


@pytest.mark.parametrize("site, target, link", [
    (0xC000000000007A10, 0xC00000000001E3F4, True),
    (0xC0000000000512A8, 0xC000000000008E20, True),
    (0x1000, 0x1000 + 0x1FFFFFC, False),
    (0x2001000, 0x1000, True),
])
def test_in_range_word_matches_capstone(site, target, link):
    view = evaluate(f"{site:#x}", f"{target:x}", link)
    assert view.ok and view.error is None
    assert _capstone(view.word, site) == f"{'bl' if link else 'b'} {target:#x}"
    assert view.offset == target - site


def test_out_of_range_shows_offset_inline():
    view = evaluate("0xd000000000012340", "0xc000000000008e20")
    assert not view.ok and view.word is None
    assert view.offset == 0xC000000000008E20 - 0xD000000000012340
    assert "out of range" in view.error


def test_misaligned_target_is_an_inline_error():
    view = evaluate("0x1000", "0x1002")
    assert not view.ok and "misaligned" in view.error


@pytest.mark.parametrize("site, target, message", [
    ("", "0x10", "enter a hex address"),
    ("0xzz", "0x10", "not a hex number"),
    ("0x10", "1" * 17, "wider than 64 bits"),
    ("0x10", "-4", "not a hex number"),
])
def test_invalid_input_is_an_inline_message(site, target, message):
    view = evaluate(site, target)
    assert not view.ok and message in view.error


def test_parse_address_accepts_common_spellings():
    assert parse_address(" 0xC000_0000 ", "x") == 0xC0000000
    assert parse_address("d0000000", "x") == 0xD0000000


def test_explorer_updates_on_edit_and_never_raises():
    explorer = ReachExplorer(site=0xC000000000007A10, target=0xC00000000001E3F4)
    word = isa.create_branch(0xC000000000007A10, 0xC00000000001E3F4, isa.BRANCH_SET_LINK)
    assert f"{word:#010x}" in explorer.output.value
    explorer.target.value = "0xd000000000000000"
    assert "cannot branch" in explorer.output.value and "out of range" in explorer.output.value
    explorer.target.value = "nonsense!"
    assert "not a hex number" in explorer.output.value
    explorer.target.value = "0xc00000000001e3f4"
    explorer.link.value = False
    b_word = word & ~1
    assert f"{b_word:#010x}" in explorer.output.value
    assert explorer.view.word == b_word


def test_static_html_is_the_initial_state():
    explorer = ReachExplorer(site=0xC000000000007A10, target=0xC00000000001E3F4)
    before = explorer.static_html()
    explorer.site.value = "0x0"
    assert explorer.static_html() == before  # the snapshot does not follow edits
    word = isa.create_branch(0xC000000000007A10, 0xC00000000001E3F4, isa.BRANCH_SET_LINK)
    assert f"{word:#010x}" in before and "<script" not in before
    assert explorer._repr_html_() == before
    bundle = explorer._repr_mimebundle_()
    assert "application/vnd.jupyter.widget-view+json" in bundle
    assert bundle["text/html"] == before


def test_controls_have_labels_for_keyboard_and_screen_readers():
    explorer = ReachExplorer()
    assert explorer.site.description and explorer.target.description
    assert explorer.link.description
    assert list(explorer.widget.children[:3]) == [explorer.site, explorer.target, explorer.link]


def test_static_html_has_its_own_colours_and_escapes_the_title():
    """Dark mode: every piece of inline code and the box carry explicit colours."""
    html = ReachExplorer().static_html(title="a <b> & c")
    assert "a &lt;b&gt; &amp; c" in html
    assert html.count("<code ") == html.count("<code")  # no bare <code>
    assert "background:#ffffff" in html


def test_ppc32_wraps_around_and_limits_addresses():
    # a bl near address 0 reaching the top of a 32-bit address space: the kernel's
    # C long arithmetic wraps; capstone (32-bit mode) prints the target sign-extended
    view = evaluate("0x100", "0xffffff00", arch="ppc32")
    assert view.ok and view.offset == -0x200
    cs32 = capstone.Cs(capstone.CS_ARCH_PPC, capstone.CS_MODE_32 | capstone.CS_MODE_BIG_ENDIAN)
    insn = next(cs32.disasm(view.word.to_bytes(4, "big"), 0x100))
    assert insn.mnemonic == "bl" and int(insn.op_str, 16) % 2**32 == 0xFFFFFF00
    assert not evaluate("0x100", "0xffffff00").ok  # on ppc64 that is 4 GiB away
    assert "wider than 32 bits" in evaluate("0x100", "0x100000000", arch="ppc32").error
    assert "unknown architecture" in evaluate("0", "0", arch="x86").error


def test_explorer_machine_dropdown():
    explorer = ReachExplorer(site=0x100, target=0xFFFFFF00)
    assert "cannot branch" in explorer.output.value
    explorer.arch.value = "ppc32"
    assert explorer.view.ok and "cannot branch" not in explorer.output.value
