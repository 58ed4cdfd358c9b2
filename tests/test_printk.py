"""printk formatting: against Python's % where C semantics match, against C's printf
(glibc, under qemu) through the real calling convention, and the kernel's own quirks."""

from __future__ import annotations

import subprocess

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import need
from ppcftrace.printk import PrintkError, format_printk, printk_host_call, split_level
from ppcftrace.toolchain import PREFIX, QEMU, tool

STRINGS = {0x1000: "hello", 0x2000: "", 0x3000: "ftrace on powerpc"}


def fmt(f: str, args: list[int], arch: str = "ppc64") -> str:
    return format_printk(f, args, STRINGS.__getitem__, arch)


# -- against Python's % (C semantics for these conversions) ---------------------------

conversions = st.tuples(
    st.sampled_from(["", "-", "0", "+", " ", "#", "-+", "0#"]),
    st.one_of(st.none(), st.integers(0, 24)),
    st.one_of(st.none(), st.integers(0, 12)),
    st.sampled_from(["d", "i", "u", "x", "X"]),
    st.sampled_from(["", "l", "ll", "h", "hh"]),
)


@settings(max_examples=400, deadline=None)
@given(spec=conversions, raw=st.integers(0, 2**64 - 1), arch=st.sampled_from(["ppc64", "ppc32"]))
def test_integers_match_python_percent(spec, raw, arch):
    flags, width, prec, conv, length = spec
    bits = {"": 32, "h": 16, "hh": 8, "ll": 64, "l": 64 if arch == "ppc64" else 32}[length]
    value = raw & ((1 << bits) - 1)
    if conv in "di" and value >> (bits - 1):
        value -= 1 << bits
    if arch == "ppc32" and length == "ll":
        slots = [0, raw >> 32, raw & 0xFFFFFFFF]         # r4 unused, pair in r5/r6
    else:
        slots = [raw & ((1 << (64 if arch == "ppc64" else 32)) - 1)]
    spec_text = f"%{flags}{'' if width is None else width}{'' if prec is None else '.' + str(prec)}"
    if (prec == 0 and value == 0) or (prec is not None and "0" in flags):
        return   # where Python departs from C: "%.0d" of 0, "0" with a precision (C below)
    # C applies "+" and " " to signed conversions only; Python to all
    py_spec = spec_text if conv in "di" else spec_text.replace("+", "").replace(" ", "")
    py = (py_spec + {"u": "d"}.get(conv, conv)) % value
    if "#" in flags and conv in "xX" and value == 0:
        return
    assert fmt(spec_text + length + conv, slots, arch) == py


@settings(max_examples=100, deadline=None)
@given(flags=st.sampled_from(["", "-"]), width=st.one_of(st.none(), st.integers(0, 30)),
       prec=st.one_of(st.none(), st.integers(0, 20)), addr=st.sampled_from(sorted(STRINGS)))
def test_strings_and_chars_match_python(flags, width, prec, addr):
    w = "" if width is None else str(width)
    p = "" if prec is None else f".{prec}"
    assert fmt(f"[%{flags}{w}{p}s]", [addr]) == f"[%{flags}{w}{p}s]" % STRINGS[addr]
    assert fmt(f"[%{flags}{w}c]", [0x141]) == f"[%{flags}{w}c]" % "A"


# -- the kernel's own behaviour ----------------------------------------------------------

def test_kernel_pointer_and_null_string():
    assert fmt("%p", [0xC000000000001234]) == "c000000000001234"
    assert fmt("%p", [0xC0001234], "ppc32") == "c0001234"
    assert fmt("%pS|", [0xC000000000001234]) == "c000000000001234|"   # extension skipped
    sym = format_printk("%pS", [0xC000000000001234], STRINGS.__getitem__, "ppc64",
                        symbolize=lambda a: ".schedule+0x34")
    assert sym == ".schedule+0x34"
    assert fmt("[%s]", [0]) == "[<NULL>]"
    assert fmt("%%|%y|%", [1]) == "%|%y|%"


def test_int_versus_long_per_arch():
    minus_one = 0xFFFFFFFFFFFFFFFF
    assert fmt("%d %ld %u %lu", [minus_one] * 4) == "-1 -1 4294967295 18446744073709551615"
    assert fmt("%d %ld %lu", [0xFFFFFFFF] * 3, "ppc32") == "-1 -1 4294967295"
    # ppc32 long long in r5/r6 skipping r4; then an int in r7
    assert fmt("%lld %d", [0, 0xFFFFFFFF, 0xFFFFFFFE, 7], "ppc32") == "-2 7"


def test_missing_arguments_and_levels():
    with pytest.raises(PrintkError):
        fmt("%d %d", [1])
    assert split_level("<6>ftrace: allocating 5 entries") == (6, "ftrace: allocating 5 entries")
    assert split_level("plain") == (None, "plain")


# -- against C printf through the calling convention, under qemu ----------------------------

CASES = [
    ('"%d|%i|%u|%x|%X\\n"', "-5, 7, -1, 0xdead, 0xbeef"),
    ('"%ld|%lu|%lx|%08lx\\n"', "-5L, -1L, 0x12345678L, 0xabcL"),
    ('"%lld|%llu|%llx\\n"', "-1LL << 40, -1ULL, 0x123456789abcdefULL"),
    ('"%d %lld %d %lld\\n"', "1, 2LL, 3, -4LL"),
    ('"%5d|%-5d|%05d|%+d|% d|%.3d|%8.3x\\n"', "42, 42, -42, 42, 42, 7, 255"),
    ('"%s|%-10s|%10s|%.3s|%c%c\\n"', '"hello", "left", "right", "truncate", 65, 0x142'),
    ('"%hd|%hu|%hhx|%hhd\\n"', "70000, 70000, 0x1234, 200"),
    ('"%zu|%zd|%o|%#o|%#x|%#lx\\n"', "(size_t)99, (long)-3, 8, 8, 0x1f, 0x1fL"),
    ('"%*d|%-*d|%.*s|\\n"', '6, 12, 4, 34, 3, "abcdef"'),
    ('"%d %d %d %d %d %d %d %d %d %d\\n"', "1, 2, 3, 4, 5, 6, 7, 8, 9, 10"),
    ('"%ld %s %lld %d %d %d %d %lld %s\\n"', '1L, "x", 3LL, 4, 5, 6, 7, -8LL, "end"'),
    ('"%d %d %d %d %d %d %lld %d\\n"', "1, 2, 3, 4, 5, 6, 77LL, 8"),
    ('"no args, 100%% sure\\n"', ""),
    ('"[%.0d][%#.0x][%#.0o][%#x][%5.0u][%05.3d][%-08x]\\n"', "0, 0, 0, 0, 0, 7, 9"),
    ('"ftrace: allocating %ld entries in %d pages\\n"', "38175L, 14"),
]


def c_source() -> str:
    calls = "\n".join(f"\tn += printk({f}{', ' if a else ''}{a});" for f, a in CASES)
    return f"""#include <stdio.h>
#include <stdarg.h>
#include <stddef.h>
__attribute__((noipa)) int printk(const char *fmt, ...)
{{ va_list ap; va_start(ap, fmt); int r = vprintf(fmt, ap); va_end(ap); return r; }}
__attribute__((noipa)) int cases(void)
{{
\tint n = 0;
{calls}
\treturn n;
}}
int main(void) {{ printf("%d\\n", cases()); return 0; }}
"""


@pytest.mark.qemu
@pytest.mark.parametrize("arch", ["ppc64", "ppc32"])
def test_printk_host_call_matches_c_printf(arch, tmp_path):
    need(PREFIX[arch] + "gcc", QEMU[arch])
    from cpu_harness import load_elf
    from ppcftrace.cpu import CPU

    src, exe = tmp_path / "p.c", tmp_path / "p"
    src.write_text(c_source())
    subprocess.run([tool(arch, "gcc"), "-O2", "-static", "-w", "-o", str(exe), str(src)], check=True)
    expected = subprocess.run([QEMU[arch], str(exe)], capture_output=True, check=True,
                              timeout=60).stdout.decode("latin-1")
    mem, sym = load_elf(str(exe), arch)
    cpu = CPU(mem, arch)
    log: list[str] = []
    entry = mem.read_u64(sym["printk"]) if arch == "ppc64" else sym["printk"]
    cpu.add_host_call(entry, printk_host_call(log))
    if arch == "ppc64":
        total = cpu.call_descriptor(sym["cases"])
    else:
        total = cpu.call(sym["cases"])
    ours = "".join(log) + f"{total}\n"
    assert ours.splitlines() == expected.splitlines()
    assert len(log) == len(CASES)
