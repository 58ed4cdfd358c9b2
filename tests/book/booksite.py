"""The built book (``_build/html``) as the tests in tests/book see it.

These tests run after ``jupyter-book build`` (``make book-check``). A missing build
skips them locally and fails them under ``PPCFTRACE_STRICT=1``, like a missing tool.
"""

from __future__ import annotations

import functools
import os
import threading
from dataclasses import dataclass
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest

ROOT = Path(__file__).resolve().parents[2]
# PPCFTRACE_BOOK_BUILD points the tests at another build folder (default: _build).
BUILD = Path(os.environ.get("PPCFTRACE_BOOK_BUILD", ROOT / "_build"))
HTML = BUILD / "html"
SCREENSHOTS = BUILD / "screenshots"
STRICT = os.environ.get("PPCFTRACE_STRICT") == "1"

# Attributes that make the browser fetch something when the page loads.
ASSET_ATTRS = {"script": "src", "link": "href", "img": "src", "iframe": "src",
               "source": "src", "video": "src", "audio": "src", "embed": "src",
               "object": "data", "input": "src"}


def need_or_fail(ok: bool, message: str) -> None:
    """Skip (or, under PPCFTRACE_STRICT=1, fail) unless ``ok``."""
    if ok:
        return
    if STRICT:
        pytest.fail(message + " (PPCFTRACE_STRICT=1)")
    pytest.skip(message)


def html_dir() -> Path:
    need_or_fail((HTML / "index.html").is_file(),
                 f"no built book in {HTML}: run `make book` first")
    return HTML


def pages(html: Path) -> list[Path]:
    """Every HTML page of the book (not the vendored files under _static)."""
    return sorted(p for p in html.rglob("*.html")
                  if "_static" not in p.relative_to(html).parts)


def is_offsite(url: str) -> bool:
    """True for a URL that leaves the site: http(s)://, //host, or any other scheme."""
    parts = urlsplit(url.strip())
    if url.strip().startswith("//"):
        return True
    return parts.scheme not in ("", "data", "blob", "javascript", "mailto")


def local_target(page: Path, url: str) -> Path | None:
    """The file a relative URL on ``page`` names, or None for anchors and schemes."""
    parts = urlsplit(url.strip())
    if parts.scheme or url.strip().startswith("//") or not parts.path:
        return None
    return (page.parent / unquote(parts.path)).resolve()


@functools.lru_cache(maxsize=None)
def soup(path: Path):
    from bs4 import BeautifulSoup

    return BeautifulSoup(path.read_text(encoding="utf-8"), "html.parser")


@dataclass
class LocalServer:
    """The built site on http://127.0.0.1:<port>/, served from a thread."""

    root: Path
    server: ThreadingHTTPServer | None = None

    @property
    def origin(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}"

    def url(self, page: Path) -> str:
        return f"{self.origin}/{page.relative_to(self.root).as_posix()}"

    def __enter__(self) -> "LocalServer":
        class Quiet(SimpleHTTPRequestHandler):
            def log_message(self, *args) -> None:  # keep pytest output readable
                pass

        handler = functools.partial(Quiet, directory=str(self.root))
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()
