"""Small pieces the lab widgets share: the snapshot box, inline messages, labelled fields."""

from __future__ import annotations

from ppcftrace.viz import style

__all__ = ["StaticFallback", "snapshot", "message_html", "text_field", "button", "LABEL_STYLE"]

LABEL_STYLE = {"description_width": "9em"}


class StaticFallback:
    """Display as the live widget where a front end can run it, and as the static
    snapshot (`static_html()`) everywhere else: the rendered book, a terminal."""

    widget: object

    def static_html(self, title: str | None = None) -> str:
        raise NotImplementedError

    def _repr_html_(self) -> str:
        return self.static_html()

    def _repr_mimebundle_(self, **kwargs: object) -> dict:
        bundle = dict(self.widget._repr_mimebundle_(**kwargs) or {})
        bundle["text/html"] = self.static_html()
        return bundle


def snapshot(body: str, title: str | None = None) -> str:
    """A widget's static rendering: a bordered white box, `title` (plain text) on top."""
    head = f"<div><strong>{style.html_escape(title)}</strong></div>" if title else ""
    return (f'<div class="ppcftrace-snapshot" style="{style.BOX_STYLE};border:1px solid '
            f'{style.MUTED};border-radius:4px;padding:6px 10px;margin:4px 0 12px">{head}{body}</div>')


def message_html(text: str, ok: bool = False) -> str:
    """An inline message: red with a warning sign (role=alert), or green."""
    if not text:
        return ""
    colour, sign, role = (style.OK, "&#10004;", "status") if ok else (style.ERROR, "&#9888;", "alert")
    return (f'<div role="{role}" style="background:{style.BACKGROUND};color:{colour};padding:2px 0">'
            f"{sign} {style.html_escape(text)}</div>")


def text_field(w, value: str, description: str, tooltip: str, width: str = "28em"):
    """A Text field that reports on Enter / leaving it (continuous_update=False)."""
    return w.Text(value=value, description=description, tooltip=tooltip, continuous_update=False,
                  layout=w.Layout(width=width), style=LABEL_STYLE)


def button(w, description: str, tooltip: str, handler, style_: str = ""):
    """A Button with a label and a tooltip, calling `handler()` on click."""
    b = w.Button(description=description, tooltip=tooltip, button_style=style_,
                 layout=w.Layout(width="auto"))
    b.on_click(lambda _b: handler())
    return b
