"""PowerPC instructions: fields, encoder, decoder, one-line assembler, kernel helpers.

The subset is what the 2008 ftrace code, its module loaders and our simulated kernel
need; `OPS` lists it. Everything is checked against GNU as and capstone in the tests.
"""

from ppcftrace.isa.asm import assemble, assemble_lines
from ppcftrace.isa.code_patching import (BRANCH_ABSOLUTE, BRANCH_SET_LINK, PPC_HA, PPC_HI,
                                         PPC_LO, create_branch, find_bl_target, is_bl_op,
                                         is_offset_in_branch_range)
from ppcftrace.isa.decode import decode
from ppcftrace.isa.encode import encode
from ppcftrace.isa.errors import (BranchOutOfRange, DecodeError, ImmediateOutOfRange, IsaError,
                                  MisalignedOffset, OperandError, UnknownMnemonic)
from ppcftrace.isa.fields import FORMS, Field, SplitField
from ppcftrace.isa.instruction import Instruction
from ppcftrace.isa.opcodes import OPS
from ppcftrace.isa.ppc_opcode import *  # noqa: F401,F403 - the PPC_INST_* names

__all__ = [
    "assemble", "assemble_lines", "decode", "encode", "Instruction", "FORMS", "Field",
    "SplitField", "OPS", "create_branch", "find_bl_target", "is_bl_op",
    "is_offset_in_branch_range", "BRANCH_SET_LINK", "BRANCH_ABSOLUTE", "PPC_LO", "PPC_HI",
    "PPC_HA", "IsaError", "UnknownMnemonic", "OperandError", "ImmediateOutOfRange",
    "MisalignedOffset", "BranchOutOfRange", "DecodeError",
]
