"""Dynamic ftrace at kernel scale: converting, enabling and disabling 40,000 sites.

A 2022 ppc64le boot printed "ftrace: allocating 38175 entries in 14 pages" (FACTS.md
section 5). On a synthetic kernel of N = 40,000 functions (`ppcftrace.synthetic`),
each of ftrace_init() (every site to a nop), enabling the function tracer (every site
to `bl ftrace_caller`) and disabling it must take at most TARGET_RATIO times a bare
verify-then-write loop over the same sites in the same kind of address space (read
u32, compare, write u32) measured in this run, with every kernel check on. The ratio
against a loop over the raw bytearray is printed too, for reference.
"""

from __future__ import annotations

import time

from ppcftrace.ftrace import Ftrace
from ppcftrace.synthetic import synthetic_machine

N = 40_000
TARGET_RATIO = 5.0
REPEATS = 3


def baseline_addressspace(arch: str) -> float:
    """Seconds for read u32 / compare / write u32 at every site through the AddressSpace."""
    m = synthetic_machine(N, arch)
    mem = m.memory
    work = [(ip, mem.read_u32(ip)) for ip in m.mcount_sites]
    start = time.perf_counter()
    for ip, old in work:
        if mem.read_u32(ip) == old:
            mem.write_u32(ip, 0x60000000)
    return time.perf_counter() - start


def baseline_bytearray(arch: str) -> float:
    """The same loop on the region's bytearray, with no address space at all."""
    m = synthetic_machine(N, arch)
    region = m.memory.region("vmlinux .text")
    data, base = region.data, region.start
    work = [(ip - base, bytes(data[ip - base:ip - base + 4])) for ip in m.mcount_sites]
    nop = (0x60000000).to_bytes(4, "big")
    start = time.perf_counter()
    for o, old in work:
        if data[o:o + 4] == old:
            data[o:o + 4] = nop
    return time.perf_counter() - start


def ftrace_phases(arch: str) -> dict[str, float]:
    """Seconds for ftrace_init, enable-all and disable-all on a fresh machine."""
    m = synthetic_machine(N, arch)
    f = Ftrace(m)
    out = {}
    start = time.perf_counter()
    f.ftrace_init()
    out["convert"] = time.perf_counter() - start
    start = time.perf_counter()
    f.current_tracer = "function"
    out["enable-all"] = time.perf_counter() - start
    start = time.perf_counter()
    f.current_tracer = "nop"
    out["disable-all"] = time.perf_counter() - start
    assert not f.ftrace_disabled and len(f.records) == N and f.ftrace_update_cnt == N
    assert all(m.memory.read_u32(ip) == 0x60000000 for ip in m.mcount_sites)
    return out


def main() -> bool:
    ok = True
    for arch in ("ppc64", "ppc32"):
        base = min(baseline_addressspace(arch) for _ in range(REPEATS))
        raw = min(baseline_bytearray(arch) for _ in range(REPEATS))
        runs = [ftrace_phases(arch) for _ in range(REPEATS)]
        print(f"{arch}: {N} sites; baseline {base / N * 1e6:.2f} us/site (AddressSpace), "
              f"{raw / N * 1e6:.2f} us/site (bytearray)")
        for phase in ("convert", "enable-all", "disable-all"):
            t = min(r[phase] for r in runs)
            ratio = t / base
            good = ratio <= TARGET_RATIO
            ok &= good
            print(f"  {phase:<12} {t:6.3f} s  {t / N * 1e6:5.2f} us/site  x{ratio:4.2f} baseline"
                  f"  (x{t / raw:5.1f} bytearray)  {'ok' if good else 'MISSED'} (target x{TARGET_RATIO:g})")
    return ok


if __name__ == "__main__":
    raise SystemExit(0 if main() else 1)
