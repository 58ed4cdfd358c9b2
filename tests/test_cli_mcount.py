"""`ppcftrace mcount`: JSON and text output against readelf/objdump, and error paths."""

from __future__ import annotations

import bisect
import json
import subprocess
import sys

import pytest

from conftest import need, need_toolchain


def ppcftrace(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "ppcftrace", *args],
                          capture_output=True, text=True)


@pytest.mark.parametrize("arch", ["ppc64", "ppc32"])
def test_json_matches_readelf_and_objdump(arch):
    need_toolchain(arch)
    from ppcftrace.elf.gnu import objdump_labels, readelf_relocs
    from ppcftrace.elf.samples import corpus

    path = corpus(arch, count=20)[5]
    proc = ppcftrace("mcount", path, "--json")
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    assert list(doc) == ["arch", "abi", "sites"]
    assert doc["arch"] == arch and doc["abi"] == ("elfv1" if arch == "ppc64" else "sysv")
    expected = sorted((r.section[len(".rela"):], r.offset, r.symbol)
                      for r in readelf_relocs(path, arch) if r.symbol in ("_mcount", "._mcount"))
    assert sorted((s["section"], s["offset"], s["symbol"]) for s in doc["sites"]) == expected
    labels = objdump_labels(path, arch)
    for s in doc["sites"]:
        assert list(s) == ["section", "offset", "function", "symbol"]
        starts = labels[s["section"]]
        i = bisect.bisect_right([a for a, _ in starts], s["offset"]) - 1
        assert s["function"] == starts[i][1]


def test_json_of_an_image(tmp_path):
    need_toolchain("ppc64")
    from ppcftrace.elf.gnu import objdump_bl_calls, readelf_sections
    from ppcftrace.elf.samples import corpus, link_image
    from ppcftrace.recordmcount import record_object

    rec = str(tmp_path / "r.o")
    record_object(corpus("ppc64", count=20)[2], rec)
    image = link_image([rec], "ppc64", str(tmp_path / "img.elf"))
    doc = json.loads(ppcftrace("mcount", image, "--json").stdout)
    starts = {s.name: s.addr for s in readelf_sections(image)}
    got = sorted(starts[s["section"]] + s["offset"] for s in doc["sites"])
    assert got == sorted(objdump_bl_calls(image, ("_mcount", "._mcount")))
    assert got and all(s["function"].startswith(".") for s in doc["sites"])


def test_text_output_one_line_per_site():
    need_toolchain("ppc32")
    from ppcftrace.elf.samples import corpus

    path = corpus("ppc32", count=20)[0]
    text = ppcftrace("mcount", path).stdout.splitlines()
    doc = json.loads(ppcftrace("mcount", path, "--json").stdout)
    assert len(text) == 1 + len(doc["sites"])
    for line, s in zip(text[1:], doc["sites"]):
        assert f"{s['section']}+{s['offset']:#x}" in line and s["function"] in line


def _one_line_error(proc: subprocess.CompletedProcess) -> str:
    assert proc.returncode == 1
    assert proc.stdout == ""
    assert "Traceback" not in proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    return lines[0]


def test_missing_file(tmp_path):
    line = _one_line_error(ppcftrace("mcount", str(tmp_path / "nope.o")))
    assert "No such file" in line


def test_not_elf(tmp_path):
    path = tmp_path / "text.o"
    path.write_text("not an object\n")
    assert "not an ELF file" in _one_line_error(ppcftrace("mcount", str(path)))


def test_x86_object(tmp_path):
    need("gcc")
    src = tmp_path / "x.c"
    src.write_text("int f(void) { return 0; }\n")
    subprocess.run(["gcc", "-c", "-o", str(tmp_path / "x.o"), str(src)], check=True)
    assert "not PowerPC" in _one_line_error(ppcftrace("mcount", str(tmp_path / "x.o"),
                                                       "--json"))


def test_truncated_object(tmp_path):
    need_toolchain("ppc64")
    from ppcftrace.elf.samples import corpus

    data = open(corpus("ppc64", count=20)[0], "rb").read()
    path = tmp_path / "cut.o"
    path.write_bytes(data[: len(data) // 2])
    line = _one_line_error(ppcftrace("mcount", str(path)))
    assert str(path) in line and "end of file" in line   # says which file and why


def test_start_up_imports_stay_light():
    """`ppcftrace mcount` loads numpy, never pyelftools, capstone or matplotlib."""
    need_toolchain("ppc64")
    from ppcftrace.elf.samples import corpus

    proc = subprocess.run([sys.executable, "-X", "importtime", "-m", "ppcftrace", "mcount",
                           corpus("ppc64", count=20)[0], "--json"],
                          capture_output=True, text=True)
    assert proc.returncode == 0
    modules = {line.split("|")[-1].strip().split(".")[0]
               for line in proc.stderr.splitlines() if line.startswith("import time:")}
    assert "numpy" in modules  # the measurement really saw the imports
    assert not modules & {"elftools", "capstone", "matplotlib", "ipywidgets", "unicorn"}
