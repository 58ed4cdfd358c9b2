"""`ppcftrace boot`: JSON for both fixture modules per arch, checked against GNU
nm/readelf/as and capstone; errors for foreign and truncated objects."""

from __future__ import annotations

import json
import re
import subprocess
import sys

import capstone
import pytest

from conftest import need
from test_module_common_tools import gnu_words
from ppcftrace.machine import fixture_path
from ppcftrace.toolchain import PREFIX

ARCHES = ("ppc64", "ppc32")
HEX = re.compile(r"^0x[0-9a-f]+$")
WORD = re.compile(r"^[0-9a-f]{8}$")


def cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "ppcftrace", *args], capture_output=True,
                          text=True)


def gnu(arch: str, tool: str, *args: str) -> str:
    need(PREFIX[arch] + tool)
    return subprocess.run([PREFIX[arch] + tool, *args], check=True, capture_output=True,
                          text=True).stdout


def nm(arch: str) -> dict[str, int]:
    out = {}
    for line in gnu(arch, "nm", "--synthetic", str(fixture_path("vmlinux", arch))).splitlines():
        parts = line.split()
        if len(parts) == 3:
            out[parts[2]] = int(parts[0], 16)
    return out


def mcount_relocs(arch: str, path) -> int:
    """Entries of the object's __mcount_loc, from readelf -r."""
    out = gnu(arch, "readelf", "-rW", str(path))
    m = re.search(r"Relocation section '\.rela__mcount_loc' at offset \S+ contains (\d+) entr",
                  out)
    return int(m.group(1)) if m else 0


def kernel_mcount_entries(arch: str) -> int:
    """Non-zero words of vmlinux's __mcount_loc, from readelf -x."""
    out = gnu(arch, "readelf", "-x", "__mcount_loc", str(fixture_path("vmlinux", arch)))
    words = "".join(re.findall(r"^\s+0x[0-9a-f]+ ((?:[0-9a-f]{8} ?){1,4})", out, re.M)).split()
    size = 16 if arch == "ppc64" else 8
    hexed = "".join(words)
    return sum(1 for i in range(0, len(hexed), size) if int(hexed[i:i + size], 16))


def boot_json(arch: str, *extra: str) -> dict:
    mods = [str(fixture_path(n, arch)) for n in ("hmod.o", "racemod.o")]
    proc = cli("boot", "--arch", arch, "--module", mods[0], "--module", mods[1], "--json",
               *extra)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


@pytest.fixture(scope="module", params=ARCHES)
def booted(request):
    """After ftrace_init() and ftrace_init_module(): every site converted."""
    return request.param, boot_json(request.param)


@pytest.fixture(scope="module", params=ARCHES)
def as_linked(request):
    """--no-ftrace: the sites as the linker and the module loader left them."""
    return request.param, boot_json(request.param, "--no-ftrace")


def test_boot_json_shape(booted):
    arch, doc = booted
    assert doc["arch"] == arch
    assert [m["name"] for m in doc["modules"]] == ["hmod", "racemod"]
    k = doc["kernel"]
    assert HEX.match(k["base"]) and (k["toc"] is None) == (arch == "ppc32")
    for m in doc["modules"]:
        assert HEX.match(m["base"]) and HEX.match(m["tramp"]) and m["size"] > 0
        assert (m["toc"] is None) == (arch == "ppc32")
        assert m["tramp"] in {s["address"] for s in m["stubs"]}
        for s in m["stubs"]:
            assert HEX.match(s["address"]) and HEX.match(s["target"])
            assert all(WORD.match(w) for w in s["words"])
    assert doc["record_count"] == len(doc["records"])
    for r in doc["records"]:
        assert HEX.match(r["ip"]) and len(r["words"]) == 2
        assert all(WORD.match(w) for w in r["words"])
        assert r["state"] == "nop"


def test_boot_converts_every_site_to_the_kernels_nop_form(booted):
    """Kernel and ppc32 module sites: `nop` over the bl; ppc64 module sites: `b .+8`
    over the bl, `ld r2,40(r1)` kept (FACTS.md section 4) - words from GNU as."""
    arch, doc = booted
    linked = {r["ip"]: r for r in boot_json(arch, "--no-ftrace")["records"]}
    nop, = gnu_words(arch, ["nop"])
    assert set(linked) == {r["ip"] for r in doc["records"]}
    for r in doc["records"]:
        first, second = (int(w, 16) for w in r["words"])
        if arch == "ppc64" and r["module"] is not None:
            assert [first, second] == gnu_words(arch, ["b .+8", "ld 2,40(1)"]), r
        else:
            assert first == nop, r
        assert r["words"][1] == linked[r["ip"]]["words"][1], "the second word is never touched"


def test_boot_json_against_nm_and_readelf(booted):
    arch, doc = booted
    syms = nm(arch)
    dot = "." if arch == "ppc64" else ""
    for name, value in doc["kernel"]["symbols"].items():
        assert int(value, 16) == syms[name]
    assert dot + "ftrace_caller" in doc["kernel"]["symbols"]
    sections = gnu(arch, "readelf", "-SW", str(fixture_path("vmlinux", arch)))
    addrs = [int(a, 16) for a in re.findall(r"\]\s+\S+\s+\S+\s+([0-9a-f]{8,16}) ", sections)
             if int(a, 16)]
    assert int(doc["kernel"]["base"], 16) == min(addrs)
    for m in doc["modules"]:
        tramp = next(s for s in m["stubs"] if s["address"] == m["tramp"])
        assert int(tramp["target"], 16) == syms[dot + "ftrace_caller"]
    want = kernel_mcount_entries(arch) + sum(
        mcount_relocs(arch, fixture_path(n, arch)) for n in ("hmod.o", "racemod.o"))
    assert doc["record_count"] == want


def test_stub_words_in_json_are_gnu_as_words(booted):
    arch, doc = booted
    for m in doc["modules"]:
        for s in m["stubs"]:
            addr, target = int(s["address"], 16), int(s["target"], 16)
            if arch == "ppc64":
                off = addr - int(m["toc"], 16)
                lines = [f"addis 12,2,({off})@ha", f"addi 12,12,({off})@l", "std 2,40(1)",
                         "ld 11,32(12)", "ld 2,40(12)", "mtctr 11", "bctr"]
            else:
                lines = [f"lis 11,({target})@ha", f"addi 11,11,({target})@l", "mtctr 11",
                         "bctr"]
            assert [int(w, 16) for w in s["words"]] == gnu_words(arch, lines)


def test_record_words_call_mcount(as_linked):
    arch, doc = as_linked
    mode = capstone.CS_MODE_64 if arch == "ppc64" else capstone.CS_MODE_32
    cs = capstone.Cs(capstone.CS_ARCH_PPC, mode | capstone.CS_MODE_BIG_ENDIAN)
    cs.detail = True
    syms = nm(arch)
    mcount = syms["._mcount" if arch == "ppc64" else "_mcount"]
    stubs = {int(s["address"], 16): int(s["target"], 16)
             for m in doc["modules"] for s in m["stubs"]}
    kinds = set()
    for r in doc["records"]:
        ip = int(r["ip"], 16)
        insn = next(cs.disasm(bytes.fromhex("".join(r["words"])), ip))
        assert insn.mnemonic == "bl"
        target = insn.operands[0].imm % (2 ** (64 if arch == "ppc64" else 32))
        if r["module"] is None:
            assert target == mcount
            if arch == "ppc64":
                assert r["words"][1] == "60000000"
        else:
            assert stubs[target] == mcount
            if arch == "ppc64":
                assert r["words"][1] == "e8410028"
                assert r["function"].startswith(".")
        kinds.add(r["module"])
    assert kinds == {None, "hmod", "racemod"}


def test_plain_output_and_module_names():
    path = fixture_path("hmod.o", "ppc32")
    proc = cli("boot", "--arch", "ppc32", "--module", f"{path}:hello")
    assert proc.returncode == 0, proc.stderr
    assert "module hello:" in proc.stdout and "mcount record(s)" in proc.stdout


def test_foreign_and_truncated_objects_exit_1_with_one_line(tmp_path):
    need("gcc")
    (tmp_path / "x.c").write_text("int f(void) { return 1; }\n")
    subprocess.run(["gcc", "-c", str(tmp_path / "x.c"), "-o", str(tmp_path / "x86.o")],
                   check=True)
    data = fixture_path("hmod.o", "ppc64").read_bytes()
    (tmp_path / "trunc.o").write_bytes(data[:300])
    for obj in ("x86.o", "trunc.o"):
        proc = cli("boot", "--module", str(tmp_path / obj), "--json")
        assert proc.returncode == 1
        assert proc.stdout == ""
        lines = proc.stderr.splitlines()
        assert len(lines) == 1 and lines[0].startswith("ppcftrace: error: ")
        assert obj in lines[0]


@pytest.mark.parametrize("arch", ARCHES)
def test_synthetic_boot_reports_records_and_timings(arch):
    from ppcftrace.cli.boot import SYNTHETIC_MODULE_FUNCTIONS

    n = 3000
    proc = cli("boot", "--arch", arch, "--synthetic", str(n), "--json")
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    # one record per kernel function and per module function, nothing lost on the way
    assert doc["record_count"] == n + len(doc["modules"]) * SYNTHETIC_MODULE_FUNCTIONS
    assert len(doc["modules"]) == 2
    assert any(f"allocating {n} entries" in line for line in doc["log"])
    assert set(doc["timings"]) == {"convert_nops_s", "enable_all_s", "disable_all_s"}
    assert all(isinstance(t, float) and 0 < t < 60 for t in doc["timings"].values())
    for m in doc["modules"]:
        assert HEX.match(m["base"]) and HEX.match(m["tramp"])
        assert (m["toc"] is None) == (arch == "ppc32")


def test_synthetic_boot_errors_are_one_line():
    for extra in (["--synthetic", "0"], ["--synthetic", "10", "--module", "x.o"]):
        proc = cli("boot", *extra)
        assert proc.returncode == 1 and len(proc.stderr.strip().splitlines()) == 1, proc.stderr
        assert "Traceback" not in proc.stderr
