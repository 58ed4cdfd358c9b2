"""Putting computed values into a chapter's prose (MyST-NB `glue`)."""

from __future__ import annotations

__all__ = ["glue_code"]


def glue_code(key: str, value: object) -> None:
    """Glue `value` for the prose as inline code (`{glue:md}`key``); ints in hex."""
    from IPython.display import Markdown
    from myst_nb import glue

    text = f"{value:#x}" if isinstance(value, int) else str(value)
    glue(key, Markdown(f"`{text}`"), display=False)
