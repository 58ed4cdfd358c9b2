"""Offer each chapter as a Jupyter notebook (``.ipynb``) in the page's download menu.

Chapters are MyST Markdown notebooks, so the theme's menu would offer only the ``.md``.
After an HTML build, each one is converted with jupytext (without outputs: readers run
it) to ``_sources/<page>.ipynb``, the file sphinx-book-theme links as ".ipynb" when the
page context holds ``ipynb_source``.
"""

from __future__ import annotations

from pathlib import Path

from sphinx.application import Sphinx
from sphinx.util import logging

logger = logging.getLogger(__name__)


def is_notebook(app: Sphinx, docname: str) -> bool:
    """True when MyST-NB reads this page as a notebook (a jupytext/mystnb header)."""
    from myst_nb.core.read import is_myst_markdown_notebook

    path = Path(app.env.doc2path(docname))
    return path.suffix == ".md" and is_myst_markdown_notebook(path.read_text(encoding="utf-8"))


def notebook_docnames(app: Sphinx) -> list[str]:
    return [d for d in sorted(app.env.found_docs) if is_notebook(app, d)]


def offer_ipynb(app: Sphinx, pagename: str, templatename, context: dict, doctree) -> None:
    # Runs before the theme builds its header buttons (priority 501).
    if doctree is not None and pagename in app.env.found_docs and is_notebook(app, pagename):
        context["ipynb_source"] = pagename + ".ipynb"


def write_ipynb(app: Sphinx, docname: str, target: Path) -> None:
    import jupytext
    import nbformat

    notebook = jupytext.read(app.env.doc2path(docname))
    # The jupytext header describes the .md file, not this copy.
    notebook.metadata.pop("jupytext", None)
    nbformat.validate(notebook)
    target.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(notebook, str(target))


def write_notebooks(app: Sphinx, exception: Exception | None) -> None:
    if exception is not None or app.builder.format != "html":
        return
    sources = Path(app.outdir, "_sources")
    docnames = notebook_docnames(app)
    for docname in docnames:
        write_ipynb(app, docname, sources / f"{docname}.ipynb")
    logger.info("ipynb_download: %d notebook(s) written to %s", len(docnames), sources)


def setup(app: Sphinx) -> dict:
    app.connect("html-page-context", offer_ipynb, priority=500)
    app.connect("build-finished", write_notebooks)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
