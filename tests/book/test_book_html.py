"""The built HTML: nothing fetched off-site, nothing missing, alt text, downloads.

Runs on _build/html after the book build (``make book-check``).
"""

from __future__ import annotations

import re
from pathlib import Path

import nbformat
import pytest
from booksite import ASSET_ATTRS, ROOT, html_dir, is_offsite, local_target, pages, soup


@pytest.fixture(scope="module")
def html() -> Path:
    return html_dir()


def assets(page: Path):
    """(tag, url) of everything the page makes the browser load."""
    for tag, attr in ASSET_ATTRS.items():
        for node in soup(page).find_all(tag):
            if node.get(attr):
                yield tag, node[attr]
            if tag in ("img", "source") and node.get("srcset"):
                for candidate in node["srcset"].split(","):
                    yield tag, candidate.split()[0]


def test_book_has_pages(html):
    names = {p.relative_to(html).as_posix() for p in pages(html)}
    assert {"index.html", "search.html", "book/glossary.html",
            "book/bibliography.html"} <= names


def test_no_asset_is_loaded_from_another_site(html):
    offsite = [f"{p.relative_to(html)}: <{tag}> {url}"
               for p in pages(html) for tag, url in assets(p) if is_offsite(url)]
    assert not offsite, "off-site assets (the book must work offline):\n" + "\n".join(offsite)


# url(...) and @import in CSS; fonts and images would come from there.
CSS_URL = re.compile(r"""url\(\s*['"]?([^'")\s]+)|@import\s+['"]([^'"]+)""")


def test_stylesheets_fetch_nothing_off_site_or_missing(html):
    offsite, missing = [], []
    for css in html.rglob("*.css"):
        for match in CSS_URL.finditer(css.read_text(encoding="utf-8", errors="replace")):
            url = match.group(1) or match.group(2)
            if is_offsite(url):
                offsite.append(f"{css.relative_to(html)}: {url}")
            elif (target := local_target(css, url)) is not None and not target.exists():
                missing.append(f"{css.relative_to(html)}: {url}")
    assert not offsite, "off-site URLs in stylesheets:\n" + "\n".join(offsite)
    assert not missing, "stylesheets name files that are not there:\n" + "\n".join(missing)


def test_every_local_reference_exists(html):
    # -W does not notice a missing _static file (JUPYTER-BOOK-NOTES 4.8), so look.
    missing = []
    for page in pages(html):
        refs = list(assets(page)) + [("a", a["href"]) for a in soup(page).find_all("a", href=True)]
        for tag, url in refs:
            target = local_target(page, url)
            if target is not None and not target.exists():
                missing.append(f"{page.relative_to(html)}: <{tag}> {url}")
    assert not missing, "references to files that are not in _build/html:\n" + "\n".join(missing)


def test_pages_with_math_or_widgets_use_the_vendored_scripts(html):
    # Without npm the build falls back to CDNs; that fallback must not pass the tests.
    wrong = []
    for page in pages(html):
        doc = soup(page)
        srcs = [s["src"] for s in doc.find_all("script", src=True)]
        if doc.find("script", type="application/vnd.jupyter.widget-state+json"):
            for name in ("vendor/require.js", "vendor/html-manager/embed-amd.js"):
                if not any(name in s for s in srcs):
                    wrong.append(f"{page.relative_to(html)}: no {name}")
        if doc.find(class_="math") and not any("vendor/mathjax/tex-chtml.js" in s for s in srcs):
            wrong.append(f"{page.relative_to(html)}: no vendor/mathjax/tex-chtml.js")
    assert not wrong, "run `make vendor` (needs npm):\n" + "\n".join(wrong)


def test_every_image_has_alt_text(html):
    bad = []
    for page in pages(html):
        for img in soup(page).find_all("img"):
            alt = (img.get("alt") or "").strip()
            src = img.get("src", "")
            # MyST-NB falls back to the image's path when a cell gives no alt text.
            if not alt or alt == src or alt == Path(src).name:
                bad.append(f"{page.relative_to(html)}: {src} alt={alt!r}")
    assert not bad, ("images without alt text (give cells `mystnb: image: alt:` metadata "
                     "or use glue:figure :alt:):\n" + "\n".join(bad))


def test_every_page_uses_the_book_stylesheet(html):
    # It holds the dark-mode backdrop for figures.
    without = [p.relative_to(html) for p in pages(html)
               if not soup(p).find("meta", attrs={"http-equiv": "Refresh"})  # index.html
               and not any("ppcftrace.css" in link.get("href", "")
                           for link in soup(p).find_all("link", rel="stylesheet"))]
    assert not without


def notebook_sources(html: Path) -> list[Path]:
    from myst_nb.core.read import is_myst_markdown_notebook

    return [p for p in sorted((html / "_sources").rglob("*.md"))
            if is_myst_markdown_notebook(p.read_text(encoding="utf-8"))]


def test_every_notebook_chapter_offers_a_valid_ipynb(html):
    import jupytext

    sources = notebook_sources(html)
    chapters = {p.relative_to(html).with_suffix("").as_posix()
                for p in (html / "book").glob("[0-9][0-9]-*.html")}
    notebooks = {md.relative_to(html / "_sources").with_suffix("").as_posix() for md in sources}
    assert chapters <= notebooks, "chapters whose source is not a MyST notebook"
    for md in sources:
        rel = md.relative_to(html / "_sources").with_suffix("")
        page = html / rel.with_suffix(".html")
        links = [a["href"] for a in soup(page).select("a.btn-download-notebook-button")]
        assert links == [f"{'../' * (len(rel.parts) - 1)}_sources/{rel.as_posix()}.ipynb"], page
        ipynb = local_target(page, links[0])
        notebook = nbformat.read(ipynb, as_version=4)
        nbformat.validate(notebook)
        assert notebook.metadata.kernelspec.name
        # Same code, cell for cell, as the chapter the page was built from.
        expected = [c.source for c in jupytext.read(md).cells if c.cell_type == "code"]
        assert [c.source for c in notebook.cells if c.cell_type == "code"] == expected


def test_glossary_defines_the_terms_chapters_use(html):
    terms = {dt.get_text(" ", strip=True).rstrip("#¶").strip()
             for dt in soup(html / "book" / "glossary.html").select("dl.glossary dt")}
    for term in ("TOC", "r2", "function descriptor", "dot symbol", ".opd", "stub",
                 "trampoline", "PLT entry", "_mcount", "-pg", "__mcount_loc",
                 "recordmcount", "dyn_ftrace record", "ftrace_caller", "ftrace_stub",
                 "b .+8", "vmalloc", "KERNELBASE", "I-form", "LI field", "@ha / @l",
                 "restore_r2", "kallsyms", "notrace", "stop_machine", "icache flush"):
        assert term in terms, term


def test_bibliography_lists_every_entry_of_references_bib(html):
    from pybtex.database import parse_file

    entries = parse_file(str(ROOT / "book" / "references.bib")).entries
    listed = [c.get_text(" ", strip=True)
              for c in soup(html / "book" / "bibliography.html").select("div.citation")]
    assert len(listed) == len(entries)
    for key, entry in entries.items():
        # The title as written, less BibTeX braces and escapes (ftrace\_caller).
        title = entry.fields["title"].replace("{", "").replace("}", "")
        title = re.sub(r"\\([_&%#$])", r"\1", title)
        assert any(title in text for text in listed), (
            f"{key}: title not shown as written (double-brace it to keep its case)")
