"""The PowerPC interpreter: what executes the simulated kernel and its modules.

`CPU(memory, arch)` runs big-endian ppc64 (64-bit mode) or ppc32 code from an
`AddressSpace`, compiling each instruction once into a Python closure. Host calls let
kernel functions such as printk run in Python.
"""

from ppcftrace.cpu.errors import (CpuError, CpuMemoryFault, CpuTrap, InstructionLimit,
                                  UnsupportedInstruction)
from ppcftrace.cpu.run import RETURN_ADDRESS, CPU

__all__ = ["CPU", "RETURN_ADDRESS", "CpuError", "CpuMemoryFault", "CpuTrap",
           "InstructionLimit", "UnsupportedInstruction"]
