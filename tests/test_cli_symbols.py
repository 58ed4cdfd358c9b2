"""`ppcftrace symbols`: /proc/kallsyms-style lines, checked against nm."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from conftest import need
from ppcftrace.cli import main
from ppcftrace.machine import fixture_path
from ppcftrace.toolchain import PREFIX


@pytest.mark.toolchain
@pytest.mark.parametrize("arch", ["ppc64", "ppc32"])
def test_lines_name_what_nm_names(arch, capsys):
    need(PREFIX[arch] + "nm")
    assert main(["symbols", "--arch", arch]) == 0
    lines = capsys.readouterr().out.splitlines()
    digits = 16 if arch == "ppc64" else 8
    ours = set()
    for line in lines:
        addr, kind, name = line.split()
        assert len(addr) == digits and len(kind) == 1
        ours.add((int(addr, 16), name))
    nm = subprocess.run([PREFIX[arch] + "nm", "--synthetic", str(fixture_path("vmlinux", arch))],
                        check=True, capture_output=True, text=True).stdout.split("\n")
    assert ours == {(int(a, 16), n) for a, _, n in (x.split() for x in nm if x)}
    addrs = [int(line.split()[0], 16) for line in lines]
    assert addrs == sorted(addrs)


def test_json_matches_text(capsys):
    assert main(["symbols", "--arch", "ppc32", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert main(["symbols", "--arch", "ppc32"]) == 0
    text = capsys.readouterr().out.splitlines()
    assert doc["arch"] == "ppc32"
    assert [f"{int(s['address'], 16):08x} {s['type']} {s['name']}" for s in doc["symbols"]] == text
    assert {"name": "printk", "type": "T"}.items() <= next(
        s for s in doc["symbols"] if s["name"] == "printk").items()


def test_ppc64_code_has_dot_names(capsys):
    assert main(["symbols"]) == 0
    out = capsys.readouterr().out
    assert " T .schedule\n" in out and " D schedule\n" in out


def test_bad_arch_is_a_usage_error():
    proc = subprocess.run([sys.executable, "-m", "ppcftrace", "symbols", "--arch", "x86"],
                          capture_output=True, text=True)
    assert proc.returncode == 2 and "invalid choice" in proc.stderr
    assert "Traceback" not in proc.stderr
