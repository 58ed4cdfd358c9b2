"""Two fixes so that every page loads without a browser console error.

- With thebe off (``launch_buttons.thebe: false``) sphinx-thebe still put its scripts on
  every page, and its inline ``const THEBE_JS_URL`` (a CDN address) twice, which the
  browser rejects as a redeclaration. Its listeners are disconnected.
- pydata-sphinx-theme logs "Got invalid theme mode" when ``html_context["default_mode"]``
  is unset; "auto" follows the reader's light/dark preference, as its fallback does.
"""

from __future__ import annotations

from sphinx.application import Sphinx
from sphinx.config import Config

THEBE_LISTENERS = ("init_thebe_core", "update_thebe_context")


def thebe_enabled(config: Config) -> bool:
    return bool(config.html_theme_options.get("launch_buttons", {}).get("thebe"))


def drop_thebe(app: Sphinx, config: Config) -> None:
    if thebe_enabled(config):
        return
    for listeners in list(app.events.listeners.values()):
        for listener in list(listeners):
            handler = listener.handler
            if (getattr(handler, "__module__", "") == "sphinx_thebe"
                    and handler.__name__ in THEBE_LISTENERS):
                app.disconnect(listener.id)


def default_mode_auto(app: Sphinx, config: Config) -> None:
    config.html_context.setdefault("default_mode", "auto")


def setup(app: Sphinx) -> dict:
    app.connect("config-inited", drop_thebe)
    app.connect("config-inited", default_mode_auto)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
