"""Make the student notebooks: every chapter in _toc.yml as .ipynb, without solutions or outputs.

    python scripts/student_notebooks.py [-o _build/student/notebooks] [--all-parts]

Each MyST Markdown notebook the table of contents lists (the student edition's parts:
`_config.student.yml` drops "For teachers") is read with jupytext, stripped of its
`{solution}` blocks and of cells tagged `solution` (book/_ext/student_edition.py),
and written as `<out>/<name>.ipynb` with outputs cleared. Pages that are not notebooks
(glossary, bibliography) are skipped.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "book" / "_ext"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from student_config import student_config  # noqa: E402
from student_edition import has_solution, strip_solutions  # noqa: E402


def toc_files(toc: dict) -> list[str]:
    """The root and every chapter file of a jb-book table of contents, in order."""
    files = [toc["root"]]

    def walk(entries):
        for entry in entries or ():
            if "file" in entry:
                files.append(entry["file"])
            walk(entry.get("sections"))
    for part in toc.get("parts", []):
        walk(part.get("chapters"))
    walk(toc.get("chapters"))
    return files


def chapters(root: Path, all_parts: bool = False) -> list[Path]:
    """The MyST notebook sources of the student edition's pages, in book order."""
    if all_parts:
        toc = yaml.safe_load((root / "_toc.yml").read_text(encoding="utf-8"))
    else:
        toc = student_config(root, root / "_build" / "student")[1]
    paths = [root / (f if f.endswith(".md") else f + ".md") for f in toc_files(toc)]
    return [p for p in paths if p.exists() and is_notebook(p)]


def is_notebook(path: Path) -> bool:
    from myst_nb.core.read import is_myst_markdown_notebook

    return is_myst_markdown_notebook(path.read_text(encoding="utf-8"))


def student_notebook(path: Path):
    """The chapter at `path` as a notebook without solutions or outputs."""
    import jupytext

    notebook = jupytext.read(path)
    notebook.metadata.pop("jupytext", None)   # this copy is not paired with the .md
    notebook = strip_solutions(notebook)
    if has_solution(notebook):
        raise SystemExit(f"{path}: a solution survived stripping (unbalanced fence?)")
    return notebook


def main(argv: list[str] | None = None) -> int:
    import nbformat

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-o", "--out", default=str(ROOT / "_build" / "student" / "notebooks"))
    parser.add_argument("--all-parts", action="store_true", help="include the 'For teachers' part")
    args = parser.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    written = 0
    for path in chapters(ROOT, args.all_parts):
        notebook = student_notebook(path)
        nbformat.validate(notebook)
        nbformat.write(notebook, str(out / (path.stem + ".ipynb")))
        written += 1
    print(f"{written} student notebooks written to {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
