"""The student edition: notebooks without solutions.

`strip_solutions(notebook)` removes every sphinx-exercise solution from a notebook read
by jupytext from a chapter: `{solution}` directives (colon or backtick fences, nested
fences inside them included), gated `{solution-start}` ... `{solution-end}` blocks
(across cells), and cells tagged `solution`. It also clears outputs. The
`student_notebooks.py` script uses it, and so does this Sphinx extension, which the
student configuration (`_config.student.yml`) loads: after an HTML build it strips the
`.ipynb` downloads that `ipynb_download` wrote, since those are made from the chapter
sources, solutions included.
"""

from __future__ import annotations

import re
from pathlib import Path

#: an opening fence: 3+ colons or backticks, then the directive in braces
_OPEN = re.compile(r"^\s*(?P<fence>:{3,}|`{3,})\s*\{(?P<name>[\w:-]+)\}")
_BARE = re.compile(r"^\s*(?P<fence>:{3,}|`{3,})\s*$")
SOLUTION_TAG = "solution"


def _strip_text(text: str, gated: bool) -> tuple[str, bool]:
    """Drop solution directives from one markdown cell; `gated` = inside a
    solution-start ... solution-end block. Returns (text, still gated)."""
    out: list[str] = []
    stack: list[str] = []          # open fences; the first one is the solution's
    for line in text.splitlines(keepends=True):
        opening = _OPEN.match(line)
        if gated:
            if opening and opening.group("name") == "solution-end":
                gated = False
            continue
        if stack:
            bare = _BARE.match(line)
            if opening:
                stack.append(opening.group("fence"))
            elif bare and bare.group("fence")[0] == stack[-1][0] and len(bare.group("fence")) >= len(stack[-1]):
                stack.pop()
            continue
        if opening and opening.group("name") == "solution":
            stack.append(opening.group("fence"))
            continue
        if opening and opening.group("name") == "solution-start":
            gated = True
            continue
        out.append(line)
    return re.sub(r"\n{3,}", "\n\n", "".join(out)).strip("\n"), gated


def strip_solutions(notebook):
    """The notebook without solutions and outputs (modified in place and returned)."""
    cells, gated = [], False
    for cell in notebook.cells:
        tags = cell.get("metadata", {}).get("tags", [])
        if cell.cell_type == "markdown":
            text, gated = _strip_text(cell.source, gated)
            if text.strip():
                cell.source = text
                cells.append(cell)
            continue
        if gated or SOLUTION_TAG in tags:
            continue
        if cell.cell_type == "code":
            cell.outputs = []
            cell.execution_count = None
        cells.append(cell)
    notebook.cells = cells
    return notebook


def has_solution(notebook) -> bool:
    """Does any markdown cell still hold a solution directive?"""
    return any(cell.cell_type == "markdown" and (m := _OPEN.match(line)) is not None
               and m.group("name") in ("solution", "solution-start")
               for cell in notebook.cells for line in cell.source.splitlines())


def strip_downloads(app, exception) -> None:
    """Rewrite the `.ipynb` downloads in `_sources/` without solutions."""
    if exception is not None or app.builder.format != "html":
        return
    import nbformat

    for path in Path(app.outdir, "_sources").rglob("*.ipynb"):
        notebook = nbformat.read(str(path), as_version=4)
        nbformat.write(strip_solutions(notebook), str(path))


def setup(app) -> dict:
    # after ipynb_download has written the notebooks (default priority 500)
    app.connect("build-finished", strip_downloads, priority=900)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
