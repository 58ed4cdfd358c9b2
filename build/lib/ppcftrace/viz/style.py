"""Shared look of the figures: opaque backgrounds, one palette, one font size.

The palette is Okabe and Ito's colour-blind-safe set; text is near-black on white so a
figure reads the same in the book's light and dark themes (a transparent PNG would put
black text on a dark page).
"""

from __future__ import annotations

from typing import Any

#: Okabe-Ito colours, in the order fields and regions take them
PALETTE: tuple[str, ...] = (
    "#E69F00",  # orange
    "#56B4E9",  # sky blue
    "#009E73",  # bluish green
    "#F0E442",  # yellow
    "#0072B2",  # blue
    "#D55E00",  # vermillion
    "#CC79A7",  # reddish purple
)
#: light tints of PALETTE, for areas that carry near-black text
FILLS: tuple[str, ...] = (
    "#F5C97A", "#A6D8F5", "#7FD1B9", "#F7EF9A", "#8DB9DE", "#F0A57A", "#E5B3D3",
)
BACKGROUND = "#ffffff"
INK = "#1a1a1a"
MUTED = "#6b6b6b"
ERROR = "#b00020"
OK = "#1b7f3b"
FONT_SIZE = 10


def colour(index: int) -> str:
    """The palette colour for the index-th field or region (cycles)."""
    return PALETTE[index % len(PALETTE)]


def fill(index: int) -> str:
    """The light fill for the index-th field or region (cycles)."""
    return FILLS[index % len(FILLS)]


def new_figure(width: float, height: float, **kwargs: Any):
    """A matplotlib Figure with an opaque white background and the shared font size.

    Uses the object-oriented API (no pyplot state), so figures never leak between
    cells or tests.
    """
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), facecolor=BACKGROUND, **kwargs)
    fig.patch.set_alpha(1.0)
    return fig


def style_axes(ax) -> None:
    """Opaque axes background and near-black ink for spines, ticks and labels."""
    ax.set_facecolor(BACKGROUND)
    ax.tick_params(colors=INK, labelsize=FONT_SIZE - 1)
    for spine in ax.spines.values():
        spine.set_color(INK)


#: HTML views set their own colours: the book's dark theme would otherwise recolour
#: inline code and text inside a white box (light pink on white)
BOX_STYLE = f"background:{BACKGROUND};color:{INK}"
CODE_STYLE = f"color:{INK};background:#eef0f2;padding:0 3px;border-radius:3px"


def html_code(text: str) -> str:
    """`text` as inline code with explicit colours (escaped)."""
    return f'<code style="{CODE_STYLE}">{html_escape(text)}</code>'


def html_escape(text: str) -> str:
    """Escape text for inclusion in the HTML views."""
    import html

    return html.escape(text, quote=True)
