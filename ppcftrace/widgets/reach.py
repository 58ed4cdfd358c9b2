"""ReachExplorer: pick a call site and a target, see the `bl` word or why there is none.

`evaluate()` turns the two text fields into a `ReachView` (parsing, then
`isa.create_branch`); `render_html()` shows a view; `ReachExplorer` wires both to
ipywidgets. Invalid input becomes an inline message, never an exception.
"""

from __future__ import annotations

from dataclasses import dataclass

from ppcftrace import isa
from ppcftrace.errors import PpcftraceError
from ppcftrace.viz import style
from ppcftrace.viz.bitfields import bitfield_html
from ppcftrace.widgets._view import StaticFallback, snapshot

_BITS = {"ppc64": 64, "ppc32": 32}


@dataclass(frozen=True)
class ReachView:
    """What the explorer shows for one input: the word, or an error message."""

    site: int | None
    target: int | None
    link: bool
    arch: str = "ppc64"
    word: int | None = None
    offset: int | None = None
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.word is not None


def parse_address(text: str, what: str, bits: int = 64) -> int:
    """A hex address ("0x" optional, "_" allowed) in 0..2**bits-1, or ValueError."""
    cleaned = text.strip().replace("_", "").lower()
    if cleaned.startswith("0x"):
        cleaned = cleaned[2:]
    if not cleaned:
        raise ValueError(f"{what}: enter a hex address, e.g. 0xc000000000008e20")
    if any(c not in "0123456789abcdef" for c in cleaned):  # int() would accept "-4"
        raise ValueError(f"{what}: {text.strip()!r} is not a hex number")
    value = int(cleaned, 16)
    if value >> bits:
        raise ValueError(f"{what}: {text.strip()!r} is wider than {bits} bits")
    return value


def evaluate(site_text: str, target_text: str, link: bool = True,
             arch: str = "ppc64") -> ReachView:
    """The explorer's output for these inputs (never raises for bad input). On ppc32
    addresses are 32 bits wide and offsets wrap around, as in the kernel's C long."""
    if arch not in _BITS:
        return ReachView(None, None, link, arch, error=f"unknown architecture {arch!r}")
    try:
        site = parse_address(site_text, "call site", _BITS[arch])
        target = parse_address(target_text, "target", _BITS[arch])
    except ValueError as exc:
        return ReachView(None, None, link, arch, error=str(exc))
    flags = isa.BRANCH_SET_LINK if link else 0
    try:
        word = isa.create_branch(site, target, flags, arch=arch)
    except isa.BranchOutOfRange as exc:
        return ReachView(site, target, link, arch, offset=exc.offset, error=str(exc))
    except PpcftraceError as exc:  # any other refusal, shown inline all the same
        return ReachView(site, target, link, arch, offset=target - site, error=str(exc))
    # the offset as the word holds it: isa's signed LI field, in bytes
    offset = isa.FORMS["I"].field("LI").extract(word) * 4
    return ReachView(site, target, link, arch, word=word, offset=offset)


def _signed_hex(value: int) -> str:
    return f"-{-value:#x}" if value < 0 else f"+{value:#x}"


def render_html(view: ReachView) -> str:
    """The view as static HTML: instruction, word, coloured bits and offset, or the error.

    Colours are explicit (dark text on white) so the view reads the same in the
    book's light and dark themes.
    """
    esc, code = style.html_escape, style.html_code
    box = f'<div class="ppcftrace-reach" role="status" style="{style.BOX_STYLE};padding:2px">'
    mnemonic = "bl" if view.link else "b"
    if view.site is None:
        return (f'{box}<span style="color:{style.ERROR}">&#9888; {esc(view.error or "")}'
                "</span></div>")
    head = (f"<div>{code(f'{mnemonic} {view.target:#x}')} at {code(f'{view.site:#x}')}: "
            f"offset {code(_signed_hex(view.offset or 0))}</div>")
    if not view.ok:
        body = (f'<div style="color:{style.ERROR}" role="alert">&#9888; '
                f"{esc(view.error or '')}</div>")
    else:
        body = (f"<div>word {code(f'{view.word:#010x}')}</div>"
                + bitfield_html(view.word, "I", caption=f"{mnemonic} as an I-form word"))
    return f"{box}{head}{body}</div>"


class ReachExplorer(StaticFallback):
    """Two hex fields (site, target), a link box and the machine (ppc64/ppc32); shows
    `render_html` of the result."""

    def __init__(self, site: int = 0xC0000000000512A8, target: int = 0xC000000000008E20,
                 link: bool = True, arch: str = "ppc64"):
        import ipywidgets as w

        self._initial = (f"{site:#x}", f"{target:#x}", link, arch)
        # like the other lab widgets: a field reports on Enter or when focus leaves it
        text = {"continuous_update": False, "layout": w.Layout(width="26em"),
                "style": {"description_width": "6em"}}
        self.site = w.Text(value=self._initial[0], description="Call site",
                           tooltip="address of the bl, in hex; Enter to update", **text)
        self.target = w.Text(value=self._initial[1], description="Target",
                             tooltip="address it should call, in hex; Enter to update", **text)
        self.link = w.Checkbox(value=link, description="link (bl, not b)", indent=False)
        self.arch = w.Dropdown(options=list(_BITS), value=arch, description="Machine",
                               layout=w.Layout(width="16em"),
                               style={"description_width": "6em"})
        self.output = w.HTML()
        for control in (self.site, self.target, self.link, self.arch):
            control.observe(self._refresh, names="value")
        self.widget = w.VBox([self.site, self.target, self.link, self.arch, self.output])
        self._refresh()

    @property
    def view(self) -> ReachView:
        return evaluate(self.site.value, self.target.value, self.link.value, self.arch.value)

    def _refresh(self, _change: object = None) -> None:
        self.output.value = render_html(self.view)

    def static_html(self, title: str | None = None) -> str:
        """The explorer's initial state as HTML, for pages without a kernel; `title`
        (plain text) heads the box."""
        site, target, link, arch = self._initial
        code = style.html_code
        inputs = (f"<div>Call site {code(site)} &middot; Target {code(target)} &middot; "
                  f"link: {'yes' if link else 'no'} &middot; {arch}</div>")
        return snapshot(inputs + render_html(evaluate(site, target, link, arch)), title)
