"""Chapter 2 checkers: accept the reference solutions, name typical mistakes.

The sites the checkers expect are compared here with GNU objdump's relocation listing,
and the 2008-style object the checkers make in memory is read back with GNU readelf.
"""

from __future__ import annotations

import os
import re
import tempfile

import pytest

from conftest import need_toolchain
from ppcftrace.check import CheckResult, ch02
from ppcftrace.machine import fixture_path
from ppcftrace.recordmcount import find_sites
from ppcftrace.solutions import ch02 as sol


def verdict(checker, answer) -> CheckResult:
    return checker(answer, quiet=True)


def _calls(elf, keep):
    """(section, offset) of the REL24 relocations whose symbol name passes `keep`."""
    out = []
    for rsec in elf.reloc_sections:
        target = elf.sections[rsec.info]
        for r in elf.relocations(rsec):
            if r.type_name.endswith("REL24") and r.symbol is not None and keep(r.symbol.name):
                out.append((target.name, r.offset))
    return out


# --- the objects the checkers use, against GNU tools ---------------------------------------

@pytest.mark.parametrize("arch", ["ppc64", "ppc32"])
@pytest.mark.parametrize("name", ["hmod.o", "racemod.o"])
def test_expected_sites_are_objdumps(arch, name):
    need_toolchain(arch)
    from ppcftrace.toolchain import run, tool

    path = fixture_path(name, arch)
    out = run([tool(arch, "objdump"), "-r", "-j", ".text", str(path)]).stdout
    gnu = sorted(int(m.group(1), 16) for m in
                 re.finditer(r"^([0-9a-f]+) R_PPC(?:64)?_REL24\s+\.?_mcount$", out, re.M))
    from ppcftrace.elf import ElfFile
    assert gnu and gnu == sorted(s.offset for s in find_sites(ElfFile.open(path)))


def test_dot_mcount_object_reads_back_with_readelf():
    need_toolchain("ppc64")
    from ppcftrace.toolchain import run, tool

    elf = ch02.dot_mcount_object()
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "racemod-2008.o")
        with open(path, "wb") as f:
            f.write(elf.data)
        syms = run([tool("ppc64", "readelf"), "-sW", path]).stdout
        relocs = run([tool("ppc64", "objdump"), "-r", "-j", ".text", path]).stdout
    assert re.search(r"NOTYPE\s+GLOBAL\s+DEFAULT\s+UND\s+\._mcount$", syms, re.M)
    assert not re.search(r"\s_mcount$", syms, re.M)
    dotted = re.findall(r"^([0-9a-f]+) R_PPC64_REL24\s+\._mcount$", relocs, re.M)
    assert sorted(int(x, 16) for x in dotted) == [s.offset for s in find_sites(elf)]
    assert {s.symbol for s in find_sites(elf)} == {"._mcount"}


# --- exercise 1 ----------------------------------------------------------------------------

def test_ex1_accepts_reference_and_other_correct_answers():
    assert verdict(ch02.ex1, sol.find_mcount_calls)
    # another correct shape: a generator of pairs, in any order
    assert verdict(ch02.ex1, lambda e: reversed(_calls(e, lambda n: n in ("_mcount", "._mcount"))))


@pytest.mark.parametrize("wrong, message", [
    (lambda e: _calls(e, lambda n: True), "call(s) to other functions"),
    (lambda e: [c for c in _calls(e, lambda n: n == "_mcount")
                if e.arch == "ppc64" or False] if e.arch == "ppc64" else [], "ppc32"),
    (lambda e: _calls(e, lambda n: n == "_mcount"), "found no _mcount call"),
    (lambda e: [(s, o + 4) for s, o in sol.find_mcount_calls(e)], "one instruction away"),
    (lambda e: sol.find_mcount_calls(e)[:-1], "misses 1 of"),
    (lambda e: [o for _, o in sol.find_mcount_calls(e)], "(section name, offset) tuple"),
    (lambda e: None, "expected a list"),
])
def test_ex1_names_the_mistake(wrong, message):
    result = verdict(ch02.ex1, wrong)
    assert not result and message in result.text


def test_ex1_hints_at_the_2008_name():
    result = verdict(ch02.ex1, lambda e: _calls(e, lambda n: n == "_mcount"))
    assert "2008" in result.text and "dot name" in result.hint


def test_ex1_ppc32_hint():
    only64 = lambda e: [c for c in sol.find_mcount_calls(e) if e.arch == "ppc64"]  # noqa: E731
    result = verdict(ch02.ex1, only64)
    assert "ppc32" in result.message and "named differently" in result.hint


# --- exercise 2 ----------------------------------------------------------------------------

def test_ex2_accepts_reference():
    assert verdict(ch02.ex2, sol.pages_needed)


def _model(words, rounding, word_of=None):
    def pages(n, arch):
        w = (word_of or {"ppc64": 8, "ppc32": 4})[arch]
        per = (4096 - 2 * w) // (words * w)
        return -(-n // per) if rounding == "ceil" else n // per + (rounding == "+1")
    return pages


@pytest.mark.parametrize("wrong, message", [
    (_model(5, "ceil"), "exact multiples"),
    (_model(5, "floor"), "one page short"),
    (_model(3, "+1"), "records are smaller"),
    (_model(5, "+1", {"ppc64": 8, "ppc32": 8}), "wrong on ppc32"),
    (lambda n, a: n // 100 + 1, "wrong page count"),
    (lambda n, a: str(n), "should be an int"),
])
def test_ex2_names_the_mistake(wrong, message):
    result = verdict(ch02.ex2, wrong)
    assert not result and message in result.text


def test_ex2_does_not_reveal_the_formula():
    result = verdict(ch02.ex2, _model(5, "ceil"))
    assert "+ 1" not in result.text and "ENTRIES_PER_PAGE + 1" not in result.text


# --- exercise 3 ----------------------------------------------------------------------------

def test_ex3_accepts_reference_with_or_without_dots():
    assert verdict(ch02.ex3, sol.untraced_functions)
    assert verdict(ch02.ex3, lambda e: {n.lstrip(".") for n in sol.untraced_functions(e)})
    assert verdict(ch02.ex3, lambda e: sorted(sol.untraced_functions(e)))


@pytest.mark.parametrize("wrong, message", [
    (lambda e: set(), "misses 1 function(s)"),
    (lambda e: {f.name for f in e.functions}, "do call _mcount"),
    (lambda e: {s.function for s in find_sites(e)}, "the functions that do call _mcount"),
    (lambda e: sol.untraced_functions(e) | {"no_such_function"}, "not functions of the object"),
    (lambda e: 42, "expected a set"),
])
def test_ex3_names_the_mistake(wrong, message):
    result = verdict(ch02.ex3, wrong)
    assert not result and message in result.text


def test_ex3_reference_finds_the_notrace_function():
    """hmod.c marks hmod_untraced() notrace; GNU objdump shows no _mcount call in it."""
    from ppcftrace.elf import ElfFile

    for arch in ("ppc64", "ppc32"):
        names = sol.untraced_functions(ElfFile.open(fixture_path("hmod.o", arch)))
        assert {n.lstrip(".") for n in names} == {"hmod_untraced"}
