"""Word views: instruction words with their disassembly, as HTML tables.

The views of PatchBench and CpuStepper (after Ripes and Compiler Explorer): each row
is one word (address, where, hex word, capstone's text with branch targets named);
words written since a journal mark are highlighted ("last changed"), the current
instruction is marked, and so are breakpoints. `compare_html` puts the words before
and after an operation side by side. Colours are explicit, so the tables read the same
in the book's dark theme.
"""

from __future__ import annotations

from typing import Callable, Iterable, Sequence

from ppcftrace.disasm import disassemble
from ppcftrace.lab.journal import changed_words, read_words  # noqa: F401 - re-exported for views
from ppcftrace.viz import style

__all__ = ["CHANGED", "CURRENT", "read_words", "changed_words", "words_html", "compare_html"]

#: background of words written since the mark, and of the current instruction
CHANGED = "#fff0a8"
CURRENT = "#cfe3fa"
_TABLE = (f'style="{style.BOX_STYLE};border-collapse:collapse;font-family:monospace;'
          'font-size:12px;margin:2px 0"')
_CELL = "padding:1px 8px;text-align:left;white-space:nowrap"


def _lines(words: Sequence[int | None], start: int, arch: str, symbolize):
    known = [w if w is not None else 0 for w in words]
    lines = disassemble(known, start, arch, symbolize=symbolize)
    return [(ln if w is not None else None) for ln, w in zip(lines, words)]


def words_html(words: Sequence[int | None], start: int, arch: str = "ppc64", *,
               symbolize: Callable[[int], str | None] | None = None,
               changed: Iterable[int] = (), current: int | None = None,
               breakpoints: Iterable[int] = (), caption: str | None = None) -> str:
    """A table of `words` at `start`: where, address, word, disassembly."""
    changed, breakpoints = set(changed), set(breakpoints)
    digits = 16 if arch == "ppc64" else 8
    esc = style.html_escape
    rows = []
    for i, ln in enumerate(_lines(words, start, arch, symbolize)):
        addr = start + 4 * i
        marks, bg = "", ""
        if addr in breakpoints:
            marks += f'<span style="color:{style.ERROR}" title="breakpoint">&#9679;</span>'
        if addr == current:
            marks += '<span title="current instruction">&#9654;</span>'
            bg = CURRENT
        elif addr in changed:
            bg = CHANGED
        state = []
        if addr in changed:
            state.append("changed")
        if addr == current:
            state.append("current")
        where = symbolize(addr) if symbolize else None
        word = "????????" if ln is None else f"{ln.word:08x}"
        text = "(unmapped)" if ln is None else ln.text
        data = f' data-state="{" ".join(state)}"' if state else ""
        rows.append(
            f'<tr data-addr="{addr:#x}"{data} style="background:{bg or style.BACKGROUND}">'
            f'<td style="{_CELL};width:2em">{marks}</td>'
            f'<td style="{_CELL};color:{style.MUTED}">{esc(where or "")}</td>'
            f'<td style="{_CELL}">{addr:0{digits}x}</td>'
            f'<td style="{_CELL}"><strong>{word}</strong></td>'
            f'<td style="{_CELL}">{esc(text)}</td></tr>')
    cap = (f'<caption style="caption-side:top;text-align:left;color:{style.INK};font-family:sans-serif">'
           f"{esc(caption)}</caption>" if caption else "")
    return f"<table {_TABLE}>{cap}<tbody>{''.join(rows)}</tbody></table>"


def compare_html(before: Sequence[int | None], after: Sequence[int | None], start: int,
                 arch: str = "ppc64", *, symbolize=None) -> str:
    """Words before and after side by side; the words that differ are highlighted."""
    changed = {start + 4 * i for i, (a, b) in enumerate(zip(before, after)) if a != b}
    left = words_html(before, start, arch, symbolize=symbolize, caption="before")
    right = words_html(after, start, arch, symbolize=symbolize, changed=changed, caption="after")
    return (f'<div style="display:flex;gap:12px;flex-wrap:wrap;{style.BOX_STYLE}">'
            f"<div>{left}</div><div>{right}</div></div>")
