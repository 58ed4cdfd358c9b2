"""What GNU readelf and objdump say about a file, parsed.

The reference our reader is tested against (as pyelftools tests itself against
readelf), and what chapters show beside our own view. Needs the cross binutils.
"""

from __future__ import annotations

import os
import re
from typing import NamedTuple

from ppcftrace.toolchain import run, tool

__all__ = ["ReadelfSection", "ReadelfSymbol", "ReadelfReloc", "readelf_sections",
           "readelf_symbols", "readelf_relocs", "objdump_labels", "objdump_bl_calls",
           "objdump_section_bytes", "readelf_flags"]


class ReadelfSection(NamedTuple):
    index: int
    name: str
    type: str
    addr: int
    offset: int
    size: int
    entsize: int
    flags: str
    link: int
    info: int
    align: int


class ReadelfSymbol(NamedTuple):
    index: int
    value: int
    size: int
    type: str
    bind: str
    ndx: str
    name: str


class ReadelfReloc(NamedTuple):
    section: str       #: the relocation section, e.g. .rela.text
    offset: int
    info: int
    type: str
    symbol: str        #: as readelf prints it ('' when there is none)
    addend: int


_SECTION = re.compile(r"^\s*\[\s*(\d+)\]\s(.*?)\s+([A-Z_]+|LOOS\+\S+|LOPROC\+\S+|<unknown>: \S+)\s+"
                      r"([0-9a-f]+) ([0-9a-f]+) ([0-9a-f]+) ([0-9a-f]+)\s+([A-Za-z]*)\s+"
                      r"(\d+)\s+(\d+)\s+(\d+)$")
_SYMBOL = re.compile(r"^\s*(\d+): ([0-9a-f]+)\s+(0x[0-9a-f]+|\d+) (\S+)\s+(\S+)\s+(\S+)"
                     r"(?: \[[^\]]*\])?\s+(\S+) ?(.*)$")


_C_LOCALE = {**os.environ, "LC_ALL": "C"}


def _readelf(arch: str, args: list[str], path: str) -> str:
    return run([tool(arch, "readelf"), "-W", *args, path], env=_C_LOCALE).stdout


def readelf_flags(path: str, arch: str = "ppc64") -> str:
    """The `Flags:` line of `readelf -h` (e.g. '0x2, abiv2')."""
    for line in _readelf(arch, ["-h"], path).splitlines():
        if line.strip().startswith("Flags:"):
            return line.split(":", 1)[1].strip()
    return ""


def readelf_sections(path: str, arch: str = "ppc64") -> list[ReadelfSection]:
    out = []
    for line in _readelf(arch, ["-S"], path).splitlines():
        m = _SECTION.match(line)
        if m:
            g = m.groups()
            out.append(ReadelfSection(int(g[0]), g[1].strip(), g[2], int(g[3], 16),
                                      int(g[4], 16), int(g[5], 16), int(g[6], 16), g[7],
                                      int(g[8]), int(g[9]), int(g[10])))
    return out


def readelf_symbols(path: str, arch: str = "ppc64") -> list[ReadelfSymbol]:
    """The entries of .symtab (the first symbol table readelf -s prints)."""
    out, seen_table = [], 0
    for line in _readelf(arch, ["-s"], path).splitlines():
        if line.startswith("Symbol table"):
            seen_table += 1
            if ".symtab" not in line and out:
                break
            out = [] if ".symtab" in line else out
            continue
        m = _SYMBOL.match(line)
        if m:
            g = m.groups()
            out.append(ReadelfSymbol(int(g[0]), int(g[1], 16), int(g[2], 0), g[3], g[4], g[6],
                                     g[7]))
    return out


def readelf_relocs(path: str, arch: str = "ppc64") -> list[ReadelfReloc]:
    out, current = [], ""
    for line in _readelf(arch, ["-r"], path).splitlines():
        m = re.match(r"^Relocation section '([^']+)'", line)
        if m:
            current = m.group(1)
            continue
        parts = line.split()
        if len(parts) < 4 or not re.fullmatch(r"[0-9a-f]{8,16}", parts[0]):
            continue
        offset, info = int(parts[0], 16), int(parts[1], 16)
        if parts[2] == "unrecognized:":
            rtype, rest = "unrecognized: " + parts[3], parts[4:]
        else:
            rtype, rest = parts[2], parts[3:]
        if len(rest) == 1:                     # no symbol: just the addend
            out.append(ReadelfReloc(current, offset, info, rtype, "", int(rest[0], 16)))
        else:                                  # value name +|- addend
            sign = -1 if rest[2] == "-" else 1
            out.append(ReadelfReloc(current, offset, info, rtype, rest[1],
                                    sign * int(rest[3], 16)))
    return out


def _objdump(arch: str, args: list[str], path: str) -> str:
    return run([tool(arch, "objdump"), *args, path], env=_C_LOCALE).stdout


def objdump_labels(path: str, arch: str = "ppc64") -> dict[str, list[tuple[int, str]]]:
    """{section: [(address, label)]} from `objdump -d`: the function starts objdump
    shows (it makes ELFv1 dot names from .opd itself)."""
    out: dict[str, list[tuple[int, str]]] = {}
    current = None
    for line in _objdump(arch, ["-d"], path).splitlines():
        m = re.match(r"^Disassembly of section (.+):$", line)
        if m:
            current = out.setdefault(m.group(1), [])
            continue
        m = re.match(r"^([0-9a-f]+) <(.+)>:$", line)
        if m and current is not None:
            current.append((int(m.group(1), 16), m.group(2)))
    return out


def objdump_bl_calls(path: str, targets: tuple[str, ...], arch: str = "ppc64") -> list[int]:
    """Addresses of every `bl` objdump -d shows going to one of the symbols `targets`."""
    out = []
    pat = re.compile(r"^\s*([0-9a-f]+):\s+(?:[0-9a-f]{2} ){4}\s*bl\s+[0-9a-f]+ <([^>+]+)>")
    for line in _objdump(arch, ["-d"], path).splitlines():
        m = pat.match(line)
        if m and m.group(2) in targets:
            out.append(int(m.group(1), 16))
    return out


def objdump_section_bytes(path: str, section: str, arch: str = "ppc64") -> tuple[int, bytes]:
    """(start address, contents) of one section from `objdump -s -j SECTION`."""
    data, start = bytearray(), None
    for line in _objdump(arch, ["-s", "-j", section], path).splitlines():
        m = re.match(r"^ ([0-9a-f]+) ((?:[0-9a-f]{2,8} ?){1,4})", line)
        if not m:
            continue
        if start is None:
            start = int(m.group(1), 16)
        data += bytes.fromhex(m.group(2).replace(" ", "")[:32])
    return (start or 0), bytes(data)
