"""The exceptions of the instruction layer."""

from __future__ import annotations

from ppcftrace.errors import PpcftraceError


class IsaError(PpcftraceError):
    """An instruction that cannot be encoded, assembled or decoded."""


class UnknownMnemonic(IsaError):
    """The assembler does not know this mnemonic (or it is outside the subset)."""


class OperandError(IsaError):
    """A bad register, a bad operand, or the wrong number of operands."""


class ImmediateOutOfRange(IsaError):
    """An immediate does not fit its field."""


class MisalignedOffset(IsaError):
    """A DS displacement or a branch target that is not a multiple of 4."""


class BranchOutOfRange(IsaError):
    """A branch offset beyond the reach of its field; `.offset` is the byte offset."""

    def __init__(self, message: str, *, offset: int):
        super().__init__(message)
        self.offset = offset


class DecodeError(IsaError):
    """A word outside the instruction subset."""

    def __init__(self, message: str, *, word: int):
        super().__init__(message)
        self.word = word
