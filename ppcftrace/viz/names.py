"""Names for addresses in disassembly and figures: kernel symbols, module symbols, and
the loader's stubs / PLT entries named after what they jump to (`stub→.schedule`)."""

from __future__ import annotations

from typing import Callable

__all__ = ["symbolizer", "show_code"]


def symbolizer(machine) -> Callable[[int], str | None]:
    """A `symbolize(addr)` for `ppcftrace.disasm` covering the machine's modules too.

    Inside a stub (PPC64) or PLT entry (PPC32): `stub→target[+off]` / `plt→target[+off]`; in a module: `name+off`; in the
    kernel: kallsyms' `name+off`; elsewhere None. Modules loaded later are seen too.
    """
    kind = "stub" if machine.arch == "ppc64" else "plt"

    def name(addr: int) -> str | None:
        for mod in getattr(machine, "modules", ()):
            if addr not in mod:
                continue
            for stub in mod.arch.stubs:
                if stub.address <= addr < stub.address + 4 * len(stub.words):
                    target = machine.kallsyms.lookup(stub.target)
                    label = target[0] if target else f"{stub.target:#x}"
                    offset = addr - stub.address
                    return f"{kind}\u2192{label}" + (f"+{offset:#x}" if offset else "")
            found = mod.lookup(addr)
            if found:
                return found[0] + (f"+{found[1]:#x}" if found[1] else "")
        return machine.kallsyms.symbolize(addr)
    return name


def show_code(machine, address: int, count: int = 1, symbolize=None) -> None:
    """Print `count` words of `machine`'s memory at `address`, disassembled, with branch
    targets named (by `symbolizer(machine)` unless `symbolize` is given)."""
    from ppcftrace.disasm import disassemble, format_lines

    data = machine.memory.read(address, 4 * count)
    print(format_lines(disassemble(data, address, machine.arch,
                                   symbolize=symbolize or symbolizer(machine)), machine.arch))
