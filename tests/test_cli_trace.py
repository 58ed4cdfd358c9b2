"""`ppcftrace trace`: the trace of a module's init_module on both arches.

The expectations come from elsewhere than the tracer: every traced function must hold
an `_mcount` call site according to GNU readelf's relocations (module) or objdump's
`bl` decode (kernel); tracing must not change what the code does (same return value
and kernel log as with the nop tracer); filters select by glob (fnmatch).
"""

from __future__ import annotations

import fnmatch
import json
import re
import subprocess
import sys

import pytest

from conftest import need
from ppcftrace.machine import fixture_path
from ppcftrace.toolchain import PREFIX

ARCHES = ("ppc64", "ppc32")


def cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "ppcftrace", *args], capture_output=True,
                          text=True)


def trace(arch: str, *extra: str) -> dict:
    proc = cli("trace", "--arch", arch, "--module", str(fixture_path("hmod.o", arch)),
               "--call", "init_module", "--json", *extra)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def traced_functions(arch: str) -> set[str]:
    """Functions with an _mcount call, from GNU objdump -dr of the module and the kernel."""
    need(PREFIX[arch] + "objdump")
    names = set()
    for obj in (fixture_path("hmod.o", arch), fixture_path("vmlinux", arch)):
        out = subprocess.run([PREFIX[arch] + "objdump", "-dr", str(obj)], check=True,
                             capture_output=True, text=True).stdout
        current = None
        for line in out.splitlines():
            head = re.match(r"^[0-9a-f]+ <([^>]+)>:$", line)
            if head:
                current = head.group(1)
            elif current and re.search(r"(R_PPC(64)?_REL24\s+\.?_mcount|bl\s+[0-9a-f]+ <\.?_mcount>)", line):
                names.add(current)
    return names


@pytest.mark.parametrize("arch", ARCHES)
def test_every_traced_function_has_an_mcount_site(arch):
    doc = trace(arch)
    assert doc["trace"], "an empty filter traces every function"
    functions = traced_functions(arch)
    for entry in doc["trace"]:
        assert entry["function"] in functions, entry
    # init_module calls into the module and the kernel: both show up
    called = {e["function"].lstrip(".") for e in doc["trace"]}
    assert "printk" in called and "hmod_hello" in called


@pytest.mark.parametrize("arch", ARCHES)
def test_tracing_does_not_change_behaviour(arch):
    traced, plain = trace(arch), trace(arch, "--tracer", "nop")
    assert plain["trace"] == []
    assert traced["return"] == plain["return"]
    assert traced["log"] == plain["log"]
    # each traced call ran ftrace_caller: more instructions
    assert traced["instructions"] > plain["instructions"]


@pytest.mark.parametrize("arch", ARCHES)
def test_filter_selects_by_glob(arch):
    everything = trace(arch)
    pattern = "*hmod_*"
    only = trace(arch, "--filter", pattern)
    assert only["trace"], "the module's hmod_* functions are called"
    assert all(fnmatch.fnmatchcase(e["function"], pattern) for e in only["trace"])
    expected = [e for e in everything["trace"] if fnmatch.fnmatchcase(e["function"], pattern)]
    assert only["trace"] == expected
    # notrace removes what the filter selected
    none = trace(arch, "--filter", pattern, "--notrace", pattern)
    assert none["trace"] == []


def test_dot_names_need_the_dot_in_2008():
    """On PPC64 ELFv1 the 2008 filter sees `.printk`: `printk` matches nothing
    (filtering is then on with an empty set), unless match_adjust is asked for."""
    assert trace("ppc64", "--filter", "printk")["trace"] == []
    adjusted = trace("ppc64", "--filter", "printk", "--match-adjust")["trace"]
    assert adjusted and {e["function"] for e in adjusted} == {".printk"}


def test_errors_are_one_line():
    for args in (["--call", "no_such_function"],
                 ["--call", "init_module", "--module", "/nonexistent.o"],
                 ["--call", "schedule", "--args", *["1"] * 9]):
        proc = cli("trace", *args)
        assert proc.returncode != 0
        assert len(proc.stderr.strip().splitlines()) == 1, proc.stderr
        assert "Traceback" not in proc.stderr
