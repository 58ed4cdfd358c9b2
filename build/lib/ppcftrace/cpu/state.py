"""The user-visible registers of one PowerPC processor."""

from __future__ import annotations


class Registers:
    """GPRs, CR, LR, CTR and XER (kept as SO/OV/CA bits plus the rest).

    Values are unsigned and already reduced to the register width.
    """

    __slots__ = ("gpr", "cr", "lr", "ctr", "so", "ov", "ca", "xer_rest", "reserve", "msr", "sprg")

    def __init__(self) -> None:
        self.gpr = [0] * 32
        self.cr = 0
        self.lr = 0
        self.ctr = 0
        self.so = self.ov = self.ca = 0
        #: XER bits other than SO/OV/CA (the string byte count), as mtxer left them
        self.xer_rest = 0
        #: lwarx/ldarx reservation address, or None
        self.reserve = None
        #: machine state: the CPU set it to kernel mode with interrupts on (MSR_EE)
        self.msr = 0
        #: SPRG0..3, the kernel's scratch SPRs
        self.sprg = [0, 0, 0, 0]

    @property
    def xer(self) -> int:
        return (self.so << 31) | (self.ov << 30) | (self.ca << 29) | self.xer_rest

    @xer.setter
    def xer(self, value: int) -> None:
        self.so = (value >> 31) & 1
        self.ov = (value >> 30) & 1
        self.ca = (value >> 29) & 1
        self.xer_rest = value & 0x7F

    def crf(self, n: int) -> int:
        """CR field n (0..7) as 4 bits LT GT EQ SO."""
        return (self.cr >> (28 - 4 * n)) & 0xF
