"""Helpers shared by the module-loader tests (no tests here).

Objects are built by the Debian cross compilers with the kernel's module flags; crafted
variants edit a copy's bytes (a relocation's type field) the way a broken toolchain
would have written them.
"""

from __future__ import annotations

import os
import struct
import subprocess
import tempfile
from pathlib import Path

import pytest

from conftest import need
from ppcftrace.elf import ElfFile
from ppcftrace.module import ModuleLoadError
from ppcftrace.toolchain import PREFIX

ROOT = Path(__file__).resolve().parent.parent
INCLUDE = ROOT / "fixtures" / "include"
ARCHES = ("ppc64", "ppc32")
#: how the kernel Makefiles of 2008 compile modules, cut to what matters here
CFLAGS = {"ppc64": ["-O2", "-pg", "-fno-pie", "-fno-common"],
          "ppc32": ["-O2", "-pg", "-fno-pie", "-fno-common", "-ffixed-r2", "-msoft-float"]}


def build(arch: str, source: str, suffix: str = ".c", flags: tuple[str, ...] = ()) -> bytes:
    """Compile (or assemble, suffix ".s") `source` into a relocatable object's bytes."""
    gcc = PREFIX[arch] + "gcc"
    need(gcc)
    with tempfile.TemporaryDirectory() as d:
        src, obj = os.path.join(d, "m" + suffix), os.path.join(d, "m.o")
        Path(src).write_text(source)
        proc = subprocess.run([gcc, *CFLAGS[arch], *flags, f"-I{INCLUDE}", "-c", src,
                               "-o", obj], capture_output=True, text=True)
        assert proc.returncode == 0, proc.stderr
        return Path(obj).read_bytes()


def gnu_words(arch: str, lines: list[str]) -> list[int]:
    """Instruction words GNU as makes of `lines`."""
    from ppcftrace.toolchain import gnu_assemble

    need(PREFIX[arch] + "as", PREFIX[arch] + "objcopy")
    data = gnu_assemble("\n".join(lines), arch)
    return [int.from_bytes(data[i:i + 4], "big") for i in range(0, len(data), 4)]


def set_reloc_type(data: bytes, section: str, entry: int, rtype: int) -> bytes:
    """A copy of an object with relocation `entry` of RELA `section` given type `rtype`."""
    elf = ElfFile.from_bytes(data)
    sec = elf.section(section)
    out = bytearray(data)
    if elf.bits == 64:
        at = sec.offset + entry * 24 + 8
        info = struct.unpack_from(">Q", out, at)[0]
        struct.pack_into(">Q", out, at, (info & ~0xFFFFFFFF) | rtype)
    else:
        at = sec.offset + entry * 12 + 4
        info = struct.unpack_from(">I", out, at)[0]
        struct.pack_into(">I", out, at, (info & ~0xFF) | rtype)
    return bytes(out)


def machine_state(machine) -> tuple:
    """Everything a failed load must leave as it was."""
    return (machine.memory.snapshot(), [(r.name, r.start, r.size, r.perms)
                                        for r in machine.memory.regions],
            len(machine.memory.journal), [m.name for m in machine.modules],
            dict(machine.exports), [(m.name, dict(m.symbols)) for m in machine.modules])


def assert_load_fails(machine, obj, errno: int, text: str, name: str = "bad") -> ModuleLoadError:
    """Loading `obj` raises ModuleLoadError(errno) with `text` and changes nothing."""
    before = machine_state(machine)
    with pytest.raises(ModuleLoadError) as info:
        machine.load_module(obj, name)
    err = info.value
    assert err.errno == errno, str(err)
    assert text in str(err), str(err)
    assert "\n" not in str(err)
    after = machine_state(machine)
    assert machine.memory.diff(before[0]) == []
    assert after[1:] == before[1:]
    return err
