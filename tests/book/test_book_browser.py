"""The built book in headless Chromium, served from 127.0.0.1 only.

Every page must load without a console error, a failed request or a request to another
host (those are aborted); widget snapshots must render; search must work; screenshots
of three pages (intro, widgets, figures), light and dark, go to _build/screenshots.
Uses Debian's chromium through Playwright (never `playwright install`).
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from booksite import SCREENSHOTS, STRICT, LocalServer, html_dir, pages, soup
from conftest import need

pytestmark = [pytest.mark.browser, pytest.mark.slow]

CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                 "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
TIMEOUT_MS = 20_000

# Rendered widget views with a visible size (html-manager wraps each in .widget-subarea).
VISIBLE_WIDGETS = """() => [...document.querySelectorAll('.widget-subarea .jupyter-widgets')]
    .filter(e => { const r = e.getBoundingClientRect(); return r.width > 0 && r.height > 0; })
    .length"""
SUBAREAS = "() => document.querySelectorAll('.widget-subarea').length"


@pytest.fixture(scope="module")
def browser():
    html_dir()
    need("chromium")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        if STRICT:
            pytest.fail("playwright is not installed (PPCFTRACE_STRICT=1)")
        pytest.skip("playwright is not installed")
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=shutil.which("chromium"),
                                              args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture(scope="module")
def server():
    with LocalServer(html_dir()) as local:
        yield local


class Visitor:
    """A browser context that records every problem a page causes."""

    def __init__(self, browser, server: LocalServer, color_scheme: str = "light"):
        self.server = server
        self.problems: list[str] = []
        self.context = browser.new_context(color_scheme=color_scheme,
                                           service_workers="block",
                                           viewport={"width": 1280, "height": 900})
        self.context.route("**/*", self._only_local)
        self.page = self.context.new_page()
        self.page.set_default_timeout(TIMEOUT_MS)
        self.page.on("console", self._console)
        self.page.on("pageerror", lambda error: self.problems.append(f"page error: {error}"))
        self.page.on("requestfailed", lambda request: self.problems.append(
            f"failed request: {request.url} ({request.failure})"))
        self.page.on("response", lambda response: response.status >= 400 and
                     self.problems.append(f"HTTP {response.status}: {response.url}"))

    def _only_local(self, route) -> None:
        url = route.request.url
        if url.startswith(self.server.origin + "/"):
            route.continue_()
        else:
            self.problems.append(f"request to another host (aborted): {url}")
            route.abort()

    def _console(self, message) -> None:
        if message.type == "error":
            self.problems.append(f"console error: {message.text}")

    def open(self, path: Path, query: str = "") -> None:
        self.page.goto(self.server.url(path) + query, wait_until="load")
        self.page.wait_for_load_state("networkidle")

    def close(self) -> None:
        self.context.close()


def test_every_page_loads_cleanly_with_its_widgets_and_math(browser, server):
    html = server.root
    visitor = Visitor(browser, server)
    report = []
    try:
        for path in pages(html):
            visitor.problems.clear()
            doc = soup(path)
            views = len(doc.find_all("script", type=WIDGET_VIEW))
            visitor.open(path)
            if views:
                try:
                    visitor.page.wait_for_function(f"n => ({SUBAREAS})() >= n", arg=views)
                    visitor.page.wait_for_function(f"() => ({VISIBLE_WIDGETS})() > 0")
                except Exception as error:  # report it with the page's other problems
                    visitor.problems.append(f"{views} widget view(s) not rendered: {error}")
            if doc.find(class_="math"):
                try:
                    visitor.page.wait_for_selector("mjx-container")
                except Exception as error:
                    visitor.problems.append(f"MathJax did not typeset: {error}")
            report += [f"{path.relative_to(html)}: {p}" for p in visitor.problems]
    finally:
        visitor.close()
    assert not report, "\n".join(report)


def test_search_finds_mcount(browser, server):
    visitor = Visitor(browser, server)
    try:
        visitor.open(server.root / "search.html", "?q=mcount")
        visitor.page.wait_for_selector("ul.search li")
        hits = visitor.page.locator("ul.search li").count()
        assert not visitor.problems, visitor.problems
    finally:
        visitor.close()
    assert hits > 0


def key_pages(html: Path) -> dict[str, Path]:
    """The introduction, the first page with widgets (else the first chapter), and the
    chapter with the most figures."""
    chapters = sorted((html / "book").glob("[0-9][0-9]-*.html")) or pages(html)
    with_widgets = [p for p in chapters if soup(p).find("script", type=WIDGET_VIEW)]
    most_figures = max(chapters, key=lambda p: len(soup(p).select(".bd-content img")))
    return {"intro": html / "book" / "intro.html", "widgets": (with_widgets or chapters)[0],
            "figures": most_figures}


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_screenshots_of_key_pages(browser, server, scheme):
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    visitor = Visitor(browser, server, color_scheme=scheme)
    try:
        for name, path in key_pages(server.root).items():
            visitor.open(path)
            if soup(path).find("script", type=WIDGET_VIEW):
                visitor.page.wait_for_function(f"() => ({VISIBLE_WIDGETS})() > 0")
            # The theme follows prefers-color-scheme ("auto").
            assert visitor.page.evaluate("document.documentElement.dataset.theme") == scheme
            # In dark mode figures (cell outputs and glued figures) keep an opaque white
            # backdrop: they are drawn for a white page.
            backdrops = visitor.page.evaluate(
                "() => [...document.querySelectorAll('.bd-content img')]"
                ".map(e => getComputedStyle(e).backgroundColor)")
            if scheme == "dark":
                assert set(backdrops) <= {"rgb(255, 255, 255)"}, (name, backdrops)
            visitor.page.screenshot(path=str(SCREENSHOTS / f"{name}-{scheme}.png"),
                                    full_page=True)
        assert not visitor.problems, visitor.problems
    finally:
        visitor.close()
