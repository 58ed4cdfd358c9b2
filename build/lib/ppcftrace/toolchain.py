"""The GNU cross tools (binutils, gcc) and qemu-user, found on PATH.

Used by the fixture build and by the differential tests; the package itself never
needs them at run time.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile

#: GNU target prefix per architecture
PREFIX = {"ppc64": "powerpc64-linux-gnu-", "ppc32": "powerpc-linux-gnu-"}
#: qemu-user binary per architecture
QEMU = {"ppc64": "qemu-ppc64", "ppc32": "qemu-ppc"}


class ToolMissing(RuntimeError):
    """A cross tool is not installed."""


def tool(arch: str, name: str) -> str:
    """Path of `<prefix>name` for `arch` (e.g. tool("ppc64", "as")), or raise ToolMissing."""
    exe = PREFIX[arch] + name
    path = shutil.which(exe)
    if path is None:
        raise ToolMissing(f"{exe} not found (Debian: binutils-{PREFIX[arch][:-1]} / gcc-{PREFIX[arch][:-1]})")
    return path


def have(*exes: str) -> bool:
    """True when every executable named is on PATH."""
    return all(shutil.which(e) for e in exes)


def run(argv: list[str], **kw) -> subprocess.CompletedProcess:
    """Run a tool, raising with its stderr when it fails."""
    proc = subprocess.run(argv, capture_output=True, text=kw.pop("text", True), **kw)
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} failed ({proc.returncode}): {proc.stderr.strip()}")
    return proc


def gnu_assemble(source: str, arch: str = "ppc64") -> bytes:
    """Assemble `source` with GNU as and return the raw bytes of its .text section."""
    with tempfile.TemporaryDirectory() as d:
        src, obj, binf = (os.path.join(d, n) for n in ("a.s", "a.o", "a.bin"))
        with open(src, "w") as f:
            f.write(source if source.endswith("\n") else source + "\n")
        bits = ["-a64"] if arch == "ppc64" else ["-a32"]
        run([tool(arch, "as"), *bits, "-mregnames", "-many", "-o", obj, src])
        run([tool(arch, "objcopy"), "-O", "binary", "-j", ".text", obj, binf])
        with open(binf, "rb") as f:
            return f.read()
