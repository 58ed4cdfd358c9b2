"""Serve MathJax and the ipywidgets scripts from ``_static/vendor`` instead of CDNs.

``make vendor`` installs them with npm (versions pinned by package-lock.json) and copies
them into ``book/_static/vendor``. When they are there, this extension points
``mathjax_path`` and MyST-NB's ``nb_ipywidgets_js`` at them; when they are not (no npm),
the book keeps the CDN defaults and the build says so. Both paths are relative to
``_static/``: Sphinx prefixes it (a ``_static/`` in the value would be doubled).
"""

from __future__ import annotations

from pathlib import Path

from sphinx.application import Sphinx
from sphinx.config import Config
from sphinx.util import logging
from sphinx.util.console import bold

logger = logging.getLogger(__name__)

REQUIRE_JS = "vendor/require.js"
EMBED_AMD_JS = "vendor/html-manager/embed-amd.js"
MATHJAX_JS = "vendor/mathjax/tex-chtml.js"
VENDORED = (REQUIRE_JS, EMBED_AMD_JS, MATHJAX_JS)
# Committed beside vendor/: where RequireJS finds the manager, a MathJax 2 shim.
WIDGETS_SETUP_JS = "widgets-setup.js"


def missing_vendored(confdir: str | Path, static_paths: list[str]) -> list[str]:
    """The vendored files found in none of the ``html_static_path`` folders."""
    folders = [Path(confdir, p) for p in static_paths]
    return [rel for rel in VENDORED if not any((d / rel).is_file() for d in folders)]


def use_vendored(app: Sphinx, config: Config) -> None:
    if "intersphinx_mapping" in config and config.intersphinx_mapping:
        # Fetching inventories needs the network at build time; the book must not.
        logger.warning("offline_assets: intersphinx_mapping is set; the book builds offline")
    missing = missing_vendored(app.confdir, config.html_static_path)
    if missing:
        logger.info(
            bold("offline_assets: ") + "%s not found (run `make vendor`, which needs npm); "
            "MathJax and the widget scripts will load from CDNs",
            ", ".join(missing),
        )
        return
    config.mathjax_path = MATHJAX_JS
    # No data-jupyter-widgets-cdn: embed-amd.js bundles base, controls and output,
    # the only widget modules the chapters use.
    config.nb_ipywidgets_js = {REQUIRE_JS: {}, WIDGETS_SETUP_JS: {}, EMBED_AMD_JS: {}}
    logger.info(bold("offline_assets: ") + "MathJax and widget scripts from _static/vendor")


def setup(app: Sphinx) -> dict:
    app.connect("config-inited", use_vendored)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
