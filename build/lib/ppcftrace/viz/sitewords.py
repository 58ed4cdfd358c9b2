"""Call-site words through a sequence of states: a figure of before/after words.

Each column is a state of the site ("as linked", "after ftrace_make_nop", ...), each
row a word (ip, ip + 4, ...). A cell shows the word in hex and as capstone reads it;
a word that differs from the column before is drawn in a stronger colour. The text
comes from `ppcftrace.disasm`, so the figure cannot disagree with the disassembler.
"""

from __future__ import annotations

from typing import Callable, Sequence

from ppcftrace.viz import style

__all__ = ["site_words_figure"]


def site_words_figure(address: int, states: Sequence[tuple[str, Sequence[int]]], *,
                      arch: str = "ppc64", symbolize: Callable[[int], str | None] | None = None,
                      title: str | None = None):
    """A Figure of the words at `address` in each of `states` (label, words)."""
    from matplotlib.patches import Rectangle

    from ppcftrace.disasm import disassemble_word

    if not states:
        raise ValueError("site_words_figure needs at least one state")
    rows = max(len(words) for _, words in states)
    cols = len(states)
    fig = style.new_figure(1.2 + 2.9 * cols, 0.9 + 0.62 * rows)
    ax = fig.add_axes((0.01, 0.02, 0.98, 0.8 if title else 0.92))
    ax.set_xlim(-1.25, cols * 2.9)
    ax.set_ylim(rows + 0.1, -0.7)
    ax.axis("off")
    ax.set_facecolor(style.BACKGROUND)
    for r in range(rows):
        ax.text(-1.2, r + 0.45, "ip" if r == 0 else f"ip+{4 * r}", ha="left", va="center",
                family="monospace", fontsize=style.FONT_SIZE - 1, color=style.MUTED)
    previous: Sequence[int] | None = None
    for c, (label, words) in enumerate(states):
        x = c * 2.9
        ax.text(x + 1.35, -0.35, label, ha="center", va="center", fontsize=style.FONT_SIZE,
                color=style.INK, weight="bold")
        for r, word in enumerate(words):
            changed = previous is not None and (r >= len(previous) or previous[r] != word)
            ax.add_patch(Rectangle((x, r + 0.05), 2.7, 0.8, facecolor=style.fill(5 if changed else 1),
                                   edgecolor=style.colour(5 if changed else 4), linewidth=2 if changed else 1))
            text = disassemble_word(word, address + 4 * r, arch, symbolize).text
            ax.text(x + 0.08, r + 0.3, f"{word:08x}", ha="left", va="center", family="monospace",
                    fontsize=style.FONT_SIZE - 1, color=style.INK, weight="bold")
            ax.text(x + 0.08, r + 0.65, _shorten(text), ha="left", va="center", family="monospace",
                    fontsize=style.FONT_SIZE - 2, color=style.INK)
        previous = words
    if title:
        fig.suptitle(title, color=style.INK, fontsize=style.FONT_SIZE + 1)
    return fig


def _shorten(text: str, width: int = 34) -> str:
    return text if len(text) <= width else text[:width - 1] + "\u2026"
