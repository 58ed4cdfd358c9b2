"""The committed fixtures: rebuilt identically, and shaped as the chapters need them.

Every shape check reads the files with GNU readelf/objdump, not with our ELF reader.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import need, need_toolchain
from ppcftrace.toolchain import PREFIX

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "ppcftrace" / "data"
ARCHES = ("ppc64", "ppc32")
MODULES = ("hmod.o", "racemod.o")
REL24 = {"ppc64": "R_PPC64_REL24", "ppc32": "R_PPC_REL24"}


def gnu(arch: str, tool: str, *args: str) -> str:
    need(PREFIX[arch] + tool)
    return subprocess.run([PREFIX[arch] + tool, *args], check=True, capture_output=True,
                          text=True).stdout


def full_toolchain(arch: str) -> None:
    need_toolchain(arch)
    need(*(PREFIX[arch] + t for t in ("gcc", "ld", "readelf", "nm")))


@pytest.fixture(scope="module")
def rebuilt(tmp_path_factory) -> Path:
    for arch in ARCHES:
        full_toolchain(arch)
    out = tmp_path_factory.mktemp("fixtures")
    subprocess.run([sys.executable, str(ROOT / "fixtures" / "build.py"), "--out", str(out)],
                   check=True, capture_output=True, cwd=str(ROOT))
    return out


@pytest.mark.toolchain
@pytest.mark.slow
def test_rebuild_is_byte_identical(rebuilt):
    committed = sorted(p.relative_to(DATA) for p in DATA.rglob("*") if p.is_file())
    built = sorted(p.relative_to(rebuilt) for p in rebuilt.rglob("*") if p.is_file())
    assert built == committed
    for rel in built:
        assert (rebuilt / rel).read_bytes() == (DATA / rel).read_bytes(), rel


def test_fixtures_are_small():
    files = [p for p in DATA.rglob("*") if p.is_file()]
    assert {f"{a}/{n}" for a in ARCHES for n in ("vmlinux", *MODULES)} <= \
        {f"{p.parent.name}/{p.name}" for p in files}
    assert sum(p.stat().st_size for p in files) < 256 * 1024


def mcount_relocs(arch: str, path: Path) -> list[tuple[str, int]]:
    """(section, offset) of every call relocation to _mcount, from readelf -rW."""
    out, section = [], None
    for line in gnu(arch, "readelf", "-rW", str(path)).splitlines():
        m = re.match(r"Relocation section '\.rela(\S+)'", line)
        if m:
            section = m.group(1)
            continue
        f = line.split()
        if len(f) >= 5 and f[2] == REL24[arch] and f[4] in ("_mcount", "._mcount"):
            out.append((section, int(f[0], 16)))
    return out


@pytest.mark.toolchain
@pytest.mark.parametrize("arch", ARCHES)
@pytest.mark.parametrize("name", MODULES)
def test_module_is_relocatable_with_mcount_loc(arch, name):
    path = DATA / arch / name
    assert "REL (Relocatable file)" in gnu(arch, "readelf", "-hW", str(path))
    sites = mcount_relocs(arch, path)
    assert sites and all(sec == ".text" for sec, _ in sites)
    # __mcount_loc: one word per site, each relocated
    sections = gnu(arch, "readelf", "-SW", str(path))
    m = re.search(r"\] __mcount_loc\s+PROGBITS\s+\S+\s+\S+\s+(\S+)", sections)
    assert m, "no __mcount_loc"
    assert int(m.group(1), 16) == len(sites) * (8 if arch == "ppc64" else 4)
    relocs = gnu(arch, "readelf", "-rW", str(path))
    m = re.search(r"'\.rela__mcount_loc' at offset \S+ contains (\d+) entr", relocs)
    assert m and int(m.group(1)) == len(sites)


def function_extents(arch: str, path: Path) -> dict[str, tuple[int, int]]:
    """name -> (start, end) of each function's code in an object, from objdump -d."""
    heads = re.findall(r"^([0-9a-f]+) <([^>]+)>:$", gnu(arch, "objdump", "-d", str(path)),
                       re.M)
    starts = sorted((int(a, 16), n) for a, n in heads)
    ends = [a for a, _ in starts[1:]] + [1 << 64]
    return {n: (a, e) for (a, n), e in zip(starts, ends)}


@pytest.mark.toolchain
@pytest.mark.parametrize("arch", ARCHES)
def test_hmod_traces_all_but_the_notrace_function(arch):
    path = DATA / arch / "hmod.o"
    dot = "." if arch == "ppc64" else ""
    extents = function_extents(arch, path)
    traced = {n for n, (a, e) in extents.items()
              for _, off in mcount_relocs(arch, path) if a <= off < e}
    assert traced == {dot + n for n in ("count_vowels", "hmod_parse", "hmod_compare",
                                        "hmod_hello", "init_module", "cleanup_module")}
    assert dot + "hmod_untraced" in extents
    # calls into the kernel: far calls the module loader must route
    relocs = gnu(arch, "readelf", "-rW", str(path))
    for fn in ("printk", "strlen", "strcmp", "simple_strtoul"):
        assert re.search(rf"{REL24[arch]}\s+0+\s+{fn} \+ 0", relocs), fn
    # count_vowels is static: a local symbol
    assert re.search(r"LOCAL\s+DEFAULT\s+\d+ count_vowels$",
                     gnu(arch, "readelf", "-sW", str(path)), re.M)


@pytest.mark.toolchain
def test_ppc64_modules_reach_strings_through_the_toc():
    small = gnu("ppc64", "readelf", "-rSW", str(DATA / "ppc64" / "racemod.o"))
    assert "] .toc " in small and "R_PPC64_TOC16_DS" in small
    medium = gnu("ppc64", "readelf", "-rW", str(DATA / "ppc64" / "hmod.o"))
    assert "R_PPC64_TOC16_HA" in medium and "R_PPC64_TOC16_LO" in medium
    assert ".opd" in gnu("ppc64", "readelf", "-SW", str(DATA / "ppc64" / "hmod.o"))


@pytest.mark.toolchain
def test_ppc32_modules_reach_strings_with_ha_lo():
    relocs = gnu("ppc32", "readelf", "-rW", str(DATA / "ppc32" / "hmod.o"))
    assert "R_PPC_ADDR16_HA" in relocs and "R_PPC_ADDR16_LO" in relocs
    assert "R_PPC_PLTREL24" not in relocs     # -fno-pie: plain REL24 calls


@pytest.mark.toolchain
@pytest.mark.parametrize("arch", ARCHES)
def test_racemod_prints_after_a_traced_kernel_call(arch):
    """racemod_yield: its mcount site, then `bl schedule`, then the printk string."""
    path = DATA / arch / "racemod.o"
    dis = gnu(arch, "objdump", "-dr", str(path))
    dot = "." if arch == "ppc64" else ""
    body = dis.split(f"<{dot}racemod_yield>:")[1].split("\n\n")[0]
    order = [m.group(1) for m in re.finditer(r"R_PPC(?:64)?_\w+\s+(\S+)", body)]
    calls = [s for s in order if s in ("_mcount", "schedule", "printk")]
    assert calls == ["_mcount", "schedule", "printk"]
    string_load = "TOC16_DS" if arch == "ppc64" else "ADDR16_HA"
    after_schedule = body.split("schedule")[1]
    assert string_load in after_schedule.split("printk")[0]


@pytest.mark.toolchain
@pytest.mark.parametrize("arch", ARCHES)
def test_kernel_is_linked_at_kernelbase_with_one_rwx_segment(arch):
    path = DATA / arch / "vmlinux"
    headers = gnu(arch, "readelf", "-lhW", str(path))
    assert "EXEC (Executable file)" in headers
    loads = [line.split() for line in headers.splitlines() if line.strip().startswith("LOAD")]
    assert len(loads) == 1 and loads[0][6] == "RWE"
    assert int(loads[0][2], 16) == (0xC000000000000000 if arch == "ppc64" else 0xC0000000)
