"""Chapter 9 reference solutions: a site's state from its words, the errno each
injected fault earns, and the preemption points the two-nop race punishes."""

from __future__ import annotations

import errno


def site_state(words, ip, mcount, ftrace_caller, stubs):
    """Exercise 1: "mcount", "nop", "b+8", "ftrace" or "other" for the two words at ip.

    `stubs` maps a stub's address to the code address it jumps to.
    """
    w0 = words[0]
    if w0 == 0x60000000:                          # ori r0,r0,0
        return "nop"
    if w0 == 0x48000008:                          # b .+8 (relative, no link)
        return "b+8"
    if w0 & 0xFC000003 != 0x48000001:             # not a relative bl
        return "other"
    offset = w0 & 0x03FFFFFC
    if offset & 0x02000000:                       # sign-extend the 26-bit offset
        offset -= 0x04000000
    target = (ip + offset) % 2**64
    target = stubs.get(target, target)            # through a stub: where it jumps
    if target == mcount:
        return "mcount"
    if target == ftrace_caller:
        return "ftrace"
    return "other"


def injected_errnos():
    """Exercise 2: what the kernel returns for each broken thing."""
    return {
        "corrupt funcaddr": -errno.EINVAL,     # the stub does not lead to addr
        "read-only text": -errno.EPERM,        # probe_kernel_write faults
        "bl into unmapped memory": -errno.EFAULT,   # the stub cannot be read
    }


def race_window(pcs, site):
    """Exercise 3: the indices k such that a task preempted before instruction k comes
    back to the word after the site (pcs[k] is the k-th instruction executed)."""
    entered = pcs.index(site)                     # the bl to the trampoline
    back = pcs.index(site + 4, entered + 1)       # the return to the word after it
    return set(range(entered + 1, back + 1))
