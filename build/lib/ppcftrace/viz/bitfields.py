"""Instruction bit fields: a figure and an HTML table, both drawn from `isa.FORMS`.

The layout (names, bit ranges, signedness) is read from the instruction layer's own
field table, so a figure cannot disagree with the encoder. Bits are numbered the IBM
way: bit 0 is the most significant.
"""

from __future__ import annotations

from typing import Iterator

from ppcftrace.viz import style


def form_fields(form: str) -> list:
    """The fields of `form` left to right, split fields broken into their pieces."""
    from ppcftrace.isa import FORMS

    fields = []
    for field in FORMS[form]:
        fields.extend(getattr(field, "parts", (field,)))
    return sorted(fields, key=lambda f: f.first_bit)


def _bit(word: int, ibm_bit: int) -> int:
    return (word >> (31 - ibm_bit)) & 1


def field_value_text(field, word: int) -> str:
    """`NAME = value`: small unsigned fields in decimal, others in hex; a signed field
    ending at bit 29 (LI, BD, DS) also as the byte offset it encodes (value × 4)."""
    value = field.extract(word)
    if not field.signed and field.width <= 6:
        return f"{field.name} = {value}"
    text = f"{field.name} = {_hex(value)}"
    if field.signed and field.last_bit == 29:
        text += f" (\u00d74 = {_hex(value * 4)})"
    return text


def _hex(value: int) -> str:
    return f"-{-value:#x}" if value < 0 else f"{value:#x}"


def bitfield_figure(form: str = "I", word: int | None = None, *, title: str | None = None):
    """A Figure of the 32 bits of a `form` instruction, fields named and coloured.

    With `word`, each bit shows its value and each field its decoded value.
    """
    fields = form_fields(form)
    fig = style.new_figure(7.5, 2.4 if word is not None else 2.0)
    ax = fig.add_axes((0.02, 0.05, 0.96, 0.8 if title else 0.9))
    ax.set_xlim(-0.2, 32.2)
    ax.set_ylim(-1.5 if word is not None else -0.9, 1.9)
    ax.axis("off")
    ax.set_facecolor(style.BACKGROUND)
    for i, field in enumerate(fields):
        x0, width = field.first_bit, field.width
        ax.add_patch(_rect(x0, 0, width, 1, style.fill(i)))
        narrow = width < 3
        ax.text(x0 + width / 2, 1.45, field.name, ha="center", va="center",
                fontsize=style.FONT_SIZE - (2 if narrow else -1), fontweight="bold",
                color=style.INK)
        if not narrow:  # a one-bit field's number is already on the bit row
            ax.text(x0 + width / 2, 1.12, _bit_range(field), ha="center", va="center",
                    fontsize=style.FONT_SIZE - 2, color=style.MUTED)
    if word is not None:
        ax.text(16, -1.05, "   \u00b7   ".join(field_value_text(f, word) for f in fields),
                ha="center", va="center", fontsize=style.FONT_SIZE, color=style.INK)
    for bit in range(32):
        ax.add_patch(_rect(bit, 0, 1, 1, "none", edge=style.INK, lw=0.4))
        label = str(_bit(word, bit)) if word is not None else ""
        if label:
            ax.text(bit + 0.5, 0.5, label, ha="center", va="center",
                    fontsize=style.FONT_SIZE, color=style.INK, family="monospace")
        ax.text(bit + 0.5, -0.35, str(bit), ha="center", va="center",
                fontsize=style.FONT_SIZE - 3, color=style.MUTED)
    if title:
        fig.suptitle(title, color=style.INK, fontsize=style.FONT_SIZE + 1)
    return fig


def _bit_range(field) -> str:
    return (f"bit {field.first_bit}" if field.width == 1
            else f"bits {field.first_bit}\u2013{field.last_bit}")


def _rect(x: float, y: float, w: float, h: float, fill: str, *, edge: str = "none",
          lw: float = 0.0):
    from matplotlib.patches import Rectangle

    return Rectangle((x, y), w, h, facecolor=fill, edgecolor=edge, linewidth=lw)


def _cells(word: int, fields: list) -> Iterator[tuple[object, int, str]]:
    for i, field in enumerate(fields):
        bits = "".join(str(_bit(word, b)) for b in range(field.first_bit, field.last_bit + 1))
        yield field, i, bits


def bitfield_html(word: int, form: str = "I", *, caption: str | None = None) -> str:
    """An HTML table of `word` split into the fields of `form`: name, bits, value.

    Static (no script), so it also serves as the book's snapshot of a widget.
    """
    fields = form_fields(form)
    esc = style.html_escape
    head, bits, values = [], [], []
    for field, i, text in _cells(word, fields):
        colour = style.fill(i)
        cell = f'style="background:{colour};color:{style.INK};text-align:center;padding:2px 4px"'
        head.append(f'<th scope="col" colspan="1" {cell}>{esc(field.name)}<br>'
                    f'<small>{esc(_bit_range(field))}</small></th>')
        bits.append(f'<td {cell}><code style="background:none;color:{style.INK}">'
                    f"{text}</code></td>")
        values.append(f'<td style="text-align:center;padding:2px 4px;{style.BOX_STYLE}">'
                      f"{esc(field_value_text(field, word))}</td>")
    cap = (f'<caption style="{style.BOX_STYLE}">{esc(caption)}</caption>' if caption
           else "")
    return (f'<table class="ppcftrace-bits" style="border-collapse:collapse;'
            f'font-family:monospace">{cap}<thead><tr>{"".join(head)}</tr></thead>'
            f'<tbody><tr>{"".join(bits)}</tr><tr>{"".join(values)}</tr></tbody></table>')
