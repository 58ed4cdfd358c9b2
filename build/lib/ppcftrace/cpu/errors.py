"""What can stop the interpreter, other than reaching where it was told to stop."""

from __future__ import annotations

import errno as _errno

from ppcftrace.errors import PpcftraceError


class CpuError(PpcftraceError):
    """Base class of interpreter errors; `pc` is the instruction that failed."""

    pc: int = 0


class UnsupportedInstruction(CpuError):
    """A word the interpreter cannot execute (outside the subset, or invalid here)."""

    errno = _errno.EINVAL

    def __init__(self, address: int, word: int, disassembly: str, why: str = ""):
        self.pc = self.address = address
        self.word, self.disassembly = word, disassembly
        extra = f": {why}" if why else ""
        super().__init__(f"unsupported instruction at {address:#x}: {word:08x} ({disassembly}){extra}")


class CpuMemoryFault(CpuError):
    """A load, store or fetch faulted; nothing of the instruction took effect."""

    errno = _errno.EFAULT

    def __init__(self, address: int, access: str, pc: int, size: int = 4, reason: str = ""):
        self.address, self.access, self.pc, self.size = address, access, pc, size
        verb = {"r": "read", "w": "write", "x": "fetch"}.get(access, access)
        why = f" ({reason})" if reason else ""
        super().__init__(f"memory fault at pc {pc:#x}: {verb} of {size} byte(s) at {address:#x}{why}")


class InstructionLimit(CpuError):
    """The run executed its instruction budget without reaching a stop."""

    def __init__(self, limit: int, pc: int):
        self.limit, self.pc = limit, pc
        super().__init__(f"instruction limit of {limit} reached at pc {pc:#x}")


class CpuTrap(CpuError):
    """A trap instruction (`tw`, `twi`, `td`, `tdi`) fired, as BUG() does."""

    def __init__(self, pc: int, word: int):
        self.pc, self.word = pc, word
        super().__init__(f"trap at pc {pc:#x} ({word:08x})")
