"""Chapter 6 reference solutions: the words of an enabled site, the errno of a broken
one, and ftrace_modify_code's read-compare-write-flush."""

from __future__ import annotations

import errno

from ppcftrace.memory import MemoryFault


def module_site_after_make_call(ip: int, tramp: int) -> tuple[int, int]:
    """Exercise 1: the two words at a PPC64 module site after ftrace_make_call."""
    bl = 0x48000001 | ((tramp - ip) & 0x03FFFFFC)   # bl mod->arch.tramp, relative to ip
    return bl, 0xE8410028                           # ld r2,40(r1) stays (or comes back)


def errno_answers() -> dict[str, str]:
    """Exercise 2: the errno each broken site makes ftrace_make_nop return."""
    return {
        "a": "EFAULT",   # the site cannot be read: reading comes first
        "b": "EINVAL",   # a nop where a bl to _mcount was expected
        "c": "EPERM",    # read and compare pass; the write faults
        "d": "EINVAL",   # the stub leads somewhere other than _mcount
        "e": "EINVAL",   # the word after the bl is not ld r2,40(r1)
        "f": "EFAULT",   # the bl points at memory that cannot be read
    }


def modify_code(memory, ip: int, old: int, new: int, flush) -> int:
    """Exercise 3: ftrace_modify_code — 0, -EFAULT, -EINVAL or -EPERM."""
    try:
        replaced = memory.read_u32(ip)
    except MemoryFault:
        return -errno.EFAULT          # could not read the site
    if replaced != old:
        return -errno.EINVAL          # not what we expected: do not touch it
    try:
        memory.write_u32(ip, new)
    except MemoryFault:
        return -errno.EPERM           # could not write it
    flush(ip, ip + 8)                 # the CPU must fetch the new word
    return 0
