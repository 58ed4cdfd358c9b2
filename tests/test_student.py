"""The student edition: notebooks without solutions, the student configuration on a
probe book (sphinx-exercise hide_solutions, no page sources, stripped downloads), the
appendix's student notebook executed with nbclient, and the wheel teachers hand out."""

from __future__ import annotations

import importlib.util
import re
import shutil
import subprocess
import sys
import textwrap
import zipfile
from pathlib import Path

import pytest
import yaml

from conftest import STRICT, need

ROOT = Path(__file__).resolve().parent.parent


def load(name: str, path: Path):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


notebooks = load("student_notebooks", ROOT / "scripts" / "student_notebooks.py")
config_script = load("student_config", ROOT / "scripts" / "student_config.py")
edition = sys.modules["student_edition"]


def solution_blocks(source: str) -> list[str]:
    """The body lines of every {solution} directive in a chapter (as the source has them)."""
    blocks = re.findall(r"^(:{3,})\{solution\}[^\n]*\n(.*?)^\1\s*$", source, re.M | re.S)
    return [body for _, body in blocks]


@pytest.mark.parametrize("path", notebooks.chapters(ROOT, all_parts=True), ids=lambda p: p.name)
def test_student_notebooks_keep_exercises_and_drop_solutions(path):
    source = path.read_text(encoding="utf-8")
    nb = notebooks.student_notebook(path)
    text = "\n".join(cell.source for cell in nb.cells)
    assert not edition.has_solution(nb)
    assert not re.search(r"^\s*[:`]{3,}\s*\{solution", text, re.M)
    # every exercise and every code cell the reader runs survive
    assert re.findall(r":label: (\S+)", text) == [
        m for m in re.findall(r":label: (\S+)", source)
        if m in re.findall(r"\{exercise\}\n:label: (\S+)", source)]
    import jupytext
    full = jupytext.read(path)
    kept = [c.source for c in full.cells
            if c.cell_type == "code" and "solution" not in c.metadata.get("tags", [])]
    assert [c.source for c in nb.cells if c.cell_type == "code"] == kept
    for body in solution_blocks(source):
        lines = [line.strip() for line in body.splitlines()
                 if len(line.strip()) > 25 and line.strip() not in source.replace(body, "")]
        for line in lines:                 # text found only inside solutions
            assert line not in text, line
    assert all(c.get("outputs", []) == [] for c in nb.cells if c.cell_type == "code")


def test_strip_handles_nesting_gates_and_tags():
    import nbformat
    nb = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_markdown_cell(textwrap.dedent("""\
            Before.
            ::::{exercise}
            :label: p_ex1
            Do it.
            ::::
            ::::{solution} p_ex1
            :class: dropdown
            SECRET one
            :::{note}
            SECRET nested
            :::
            ```{literalinclude} x.py
            :pyobject: f
            ```
            ::::
            After.""")),
        nbformat.v4.new_code_cell("answer = None", outputs=[nbformat.v4.new_output("stream", text="x")]),
        nbformat.v4.new_markdown_cell("```{solution-start} p_ex1\n```\nSECRET gated"),
        nbformat.v4.new_code_cell("SECRET_CODE = 1"),
        nbformat.v4.new_markdown_cell("```{solution-end}\n```\nKept."),
        nbformat.v4.new_code_cell("assert SECRET", metadata={"tags": ["remove-cell", "solution"]}),
    ])
    out = edition.strip_solutions(nb)
    text = "\n".join(c.source for c in out.cells)
    assert "SECRET" not in text
    assert "Before." in text and "After." in text and "Kept." in text and ":label: p_ex1" in text
    assert [c.cell_type for c in out.cells] == ["markdown", "code", "markdown"]
    assert out.cells[1].outputs == [] and not edition.has_solution(out)


def test_student_config_merges_over_the_main_config(tmp_path):
    config, toc = config_script.student_config(ROOT, tmp_path / "out")
    main = yaml.safe_load((ROOT / "_config.yml").read_text())
    assert config["sphinx"]["config"]["hide_solutions"] is True
    assert config["sphinx"]["config"]["html_copy_source"] is False
    # everything else of the main configuration is kept
    for key, value in main["sphinx"]["config"].items():
        assert config["sphinx"]["config"][key] == value
    assert set(main["sphinx"]["extra_extensions"]) <= set(config["sphinx"]["extra_extensions"])
    for name, path in config["sphinx"]["local_extensions"].items():
        assert (tmp_path / "out" / path / f"{name}.py").resolve().exists(), name
    captions = [p["caption"] for p in toc["parts"]]
    assert "For teachers" not in captions and "Appendices" in captions


PROBE_PAGE = """\
---
jupytext:
  text_representation:
    extension: .md
    format_name: myst
    format_version: 0.13
kernelspec:
  display_name: Python 3
  language: python
  name: python3
---

# Probe

:::{exercise}
:label: probe_ex1

EXERCISEMARKER: write f.
:::

```{code-cell} ipython3
answer = 1 + 1
```

:::{solution} probe_ex1
:class: dropdown

SOLUTIONMARKER in prose.

```{literalinclude} sol.py
:pyobject: f
```
:::
"""


@pytest.mark.slow
def test_student_config_hides_solutions_on_a_probe_book(tmp_path):
    """The student configuration built for real, on a one-page book with our extensions."""
    root = tmp_path / "probe"
    (root / "book" / "_ext").mkdir(parents=True)
    for ext in ("student_edition.py", "ipynb_download.py"):
        shutil.copy(ROOT / "book" / "_ext" / ext, root / "book" / "_ext" / ext)
    shutil.copy(ROOT / "_config.student.yml", root)
    (root / "book" / "probe.md").write_text(PROBE_PAGE)
    (root / "book" / "sol.py").write_text("def f():\n    return 'LITERALMARKER'\n")
    (root / "book" / "teachers.md").write_text("# Teachers\n\nTEACHERMARKER\n")
    (root / "_toc.yml").write_text("format: jb-book\nroot: book/probe\nparts:\n"
                                   "  - caption: Chapters\n    chapters:\n      - file: book/sol_page\n"
                                   "  - caption: For teachers\n    chapters:\n      - file: book/teachers\n")
    (root / "book" / "sol_page.md").write_text("# Plain page\n\nA page that is not a notebook.\n")
    (root / "_config.yml").write_text(textwrap.dedent("""\
        title: probe
        only_build_toc_files: true
        execute: {execute_notebooks: force}
        sphinx:
          extra_extensions: [sphinx_exercise, sphinx_togglebutton]
          local_extensions: {ipynb_download: book/_ext}
        """))
    out = root / "_build" / "student"
    config, toc = config_script.student_config(root, out)
    out.mkdir(parents=True)
    (out / "_config.yml").write_text(yaml.safe_dump(config))
    (out / "_toc.yml").write_text(yaml.safe_dump(toc))
    jb = Path(sys.executable).parent / "jupyter-book"
    run = subprocess.run([str(jb), "build", str(root), "--config", str(out / "_config.yml"),
                          "--toc", str(out / "_toc.yml"), "--path-output", str(out), "-W", "-n",
                          "--keep-going"], capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    html = out / "_build" / "html"
    files = [p for p in html.rglob("*") if p.is_file() and p.suffix in (".html", ".js", ".ipynb", ".md", ".txt")]
    everything = "\n".join(p.read_text(errors="replace") for p in files)
    assert "EXERCISEMARKER" in (html / "book" / "probe.html").read_text()
    assert "SOLUTIONMARKER" not in everything and "LITERALMARKER" not in everything
    assert not list(html.rglob("_sources/**/*.md"))
    download = html / "_sources" / "book" / "probe.ipynb"
    assert download.exists() and "EXERCISEMARKER" in download.read_text()
    assert "TEACHERMARKER" not in everything and not (html / "book" / "teachers.html").exists()
    assert "(student edition)" in (html / "book" / "probe.html").read_text()
    # and the same page without the student configuration does show the solution
    full = subprocess.run([str(jb), "build", str(root), "--path-output", str(root / "full")],
                          capture_output=True, text=True, timeout=300)
    assert full.returncode == 0, full.stdout[-2000:]
    assert "SOLUTIONMARKER" in (root / "full" / "_build" / "html" / "book" / "probe.html").read_text()


@pytest.mark.slow
def test_the_appendix_student_notebook_runs_with_nbclient(tmp_path):
    import nbformat
    from nbclient import NotebookClient

    nb = notebooks.student_notebook(ROOT / "book" / "appendix-port.md")
    NotebookClient(nb, timeout=300, kernel_name="python3",
                   resources={"metadata": {"path": str(tmp_path)}}).execute()
    outputs = "\n".join(str(o) for c in nb.cells if c.cell_type == "code" for o in c.outputs)
    assert "Traceback" not in outputs and "6 of 6 scenarios pass" in outputs
    nbformat.validate(nb)


@pytest.mark.slow
def test_the_wheel_carries_the_simulated_kernel(tmp_path):
    if importlib.util.find_spec("setuptools") is None:   # the backend --no-build-isolation needs
        (pytest.fail if STRICT else pytest.skip)("no setuptools in this venv")
    run = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
                          "-q", str(ROOT), "-w", str(tmp_path)], capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-3000:]
    wheel = next(tmp_path.glob("ppcftrace-*.whl"))
    names = set(zipfile.ZipFile(wheel).namelist())
    for arch in ("ppc64", "ppc32"):
        for name in ("vmlinux", "hmod.o", "racemod.o"):
            assert f"ppcftrace/data/{arch}/{name}" in names
    assert "ppcftrace/check/conformance.py" in names and "ppcftrace/solutions/port.py" in names


@pytest.mark.slow
def test_make_student_builds_the_whole_edition_without_solutions(tmp_path):
    """`make student` for real (about a minute on two cores), into a temporary folder."""
    need("make")
    out = tmp_path / "student"
    # -o: take the venv and the vendored scripts as they are (no pip, no npm here)
    run = subprocess.run(["make", "-o", ".venv/.installed", "-o", "vendor", "student", f"STUDENT={out}"],
                         cwd=ROOT, capture_output=True, text=True, timeout=900)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    html, nbs = out / "html", out / "notebooks"
    assert (html / "index.html").exists() and not (html / "book" / "instructor-guide.html").exists()
    assert not list(html.rglob("_sources/**/*.md"))
    texts = {p: p.read_text(errors="replace") for p in [*html.rglob("*.html"), *html.rglob("*.js"),
                                                          *html.rglob("*.ipynb"), *nbs.glob("*.ipynb")]}
    for chapter in notebooks.chapters(ROOT):
        source = chapter.read_text(encoding="utf-8")
        page = (html / "book" / (chapter.stem + ".html")).read_text()
        for label in re.findall(r"\{exercise\}\n:label: (\S+)", source):
            assert f'id="{label}"' in page, (chapter.name, label)
        assert (nbs / (chapter.stem + ".ipynb")).exists()
        # the page's .ipynb download is the student notebook, code cell for code cell
        import nbformat
        download = nbformat.read(html / "_sources" / "book" / (chapter.stem + ".ipynb"), as_version=4)
        nbformat.validate(download)
        student = nbformat.read(nbs / (chapter.stem + ".ipynb"), as_version=4)
        assert [c.source for c in download.cells if c.cell_type == "code"] == \
            [c.source for c in student.cells if c.cell_type == "code"]
        for body in solution_blocks(source):
            for line in body.splitlines():
                line = line.strip()
                if len(line) > 25 and line not in source.replace(body, ""):
                    leaks = [p.name for p, t in texts.items() if line in t]
                    assert not leaks, (chapter.name, line, leaks)


def test_no_chapter_uses_gated_solutions():
    # sphinx-exercise's hide_solutions crashes on {solution-start} (sphinx-exercise#89)
    for path in notebooks.chapters(ROOT, all_parts=True):
        assert not re.search(r"\{(solution|exercise)-start\}", path.read_text(encoding="utf-8")), path.name
