"""The kernel-scale path: patching tens of thousands of in-range sites in one pass.

`core.Ftrace` runs the kernel's loops record by record; each in-range site costs a
read, a compare and a journaled write through the address space. With many records
(`Ftrace(batch_min=...)`), the core first hands its loop to the functions here,
which do the same work for the sites that need nothing but the one-word `bl` <-> `nop`
swap:

- the words come from the reference code (`test_24bit_addr`, `ftrace_call_replace`),
  computed once per site and address;
- the checks are the same: the site must be readable (its region has `r`), hold
  exactly the expected word, and be writable (the write of its region's span raises
  otherwise, changing nothing);
- the writes of one update go to the address space as one journaled write per region
  (tag "ftrace_replace_code" / "ftrace_update_code"), which the 2008 kernel's
  stop_machine() made atomic anyway; `flush_icache_range(ip, ip + 8)` still follows
  for every site.

Every record it cannot take (module sites, an unexpected word, a fault) is left
untouched for the reference loop, which then fails or succeeds exactly as the kernel
did. The result is the same memory, flags and log as the reference loop alone
(tests/test_ftrace_fastpath.py checks that on random histories).
"""

from __future__ import annotations

from ppcftrace.ftrace.arch import ftrace_call_replace, test_24bit_addr
from ppcftrace.ftrace.records import FTRACE_FL_CONVERTED, FTRACE_FL_ENABLED, FTRACE_FL_FAILED, FTRACE_FL_FREE
from ppcftrace.maccess import flush_icache_range
from ppcftrace.memory import MemoryFault

__all__ = ["replace_code", "update_code"]

NOP = (0x60000000).to_bytes(4, "big")


def _call_bytes(ftrace, ip: int, addr: int) -> bytes | None:
    """`bl addr` at `ip` as bytes, or None when `ip` cannot reach `addr` (a module site)."""
    cache = ftrace._fast_words
    key = (ip, addr)
    word = cache.get(key, False)
    if word is False:
        ctx = ftrace.ctx
        word = ftrace_call_replace(ctx, ip, addr).to_bytes(4, "big") if test_24bit_addr(ctx, ip, addr) else None
        cache[key] = word
    return word


class _Staging:
    """Sites verified and waiting to be written, grouped by region."""

    def __init__(self, ftrace):
        self.ftrace = ftrace
        self.memory = ftrace.memory
        self.by_region: dict = {}
        self.region = None

    def check(self, ip: int, old: bytes) -> tuple | None:
        """(region, offset) when `ip` is readable and holds `old`, else None."""
        region = self.region
        if region is None or not (region.start <= ip and ip + 4 <= region.start + region.size):
            region = self.region = self.memory.region_at(ip)
            if region is None or ip + 4 > region.start + region.size:
                return None
        if "r" not in region.perms:
            return None
        o = ip - region.start
        return (region, o) if region.data[o:o + 4] == old else None

    def stage(self, where: tuple, new: bytes, rec, apply) -> None:
        region, o = where
        self.by_region.setdefault(id(region), (region, []))[1].append((o, new, rec, apply))

    def write(self, tag: str) -> set[int]:
        """Write every staged span; return the ids of the records written. A region whose
        span cannot be written (no `w`) is skipped whole: its records stay as they were."""
        done: set[int] = set()
        target = self.ftrace.ctx.flush_target
        flush = bool(getattr(target, "icache_flush_listeners", None))
        for region, items in self.by_region.values():
            lo = min(o for o, *_ in items)
            hi = max(o for o, *_ in items) + 4
            span = bytearray(region.data[lo:hi])
            for o, new, _, _ in items:
                span[o - lo:o - lo + 4] = new
            try:
                self.memory.write(region.start + lo, bytes(span), tag)
            except MemoryFault:
                continue
            for o, _, rec, apply in items:
                apply(rec)
                done.add(id(rec))
                if flush:
                    flush_icache_range(target, region.start + o, region.start + o + 8)
        self.by_region.clear()
        return done


def _enable(rec) -> None:
    rec.flags |= FTRACE_FL_ENABLED


def _disable(rec) -> None:
    rec.flags &= ~FTRACE_FL_ENABLED


def replace_code(ftrace, records: list, enable: bool, ftrace_addr: int) -> set[int]:
    """ftrace_replace_code() for the in-range sites among `records`; return the ids of
    the records it brought to their wanted state (the core skips those)."""
    staging = _Staging(ftrace)
    wanted = ftrace._wanted
    for rec in records:
        if rec.flags & (FTRACE_FL_FREE | FTRACE_FL_FAILED):
            continue
        want = wanted(rec, enable)
        if want is None:
            continue
        call = _call_bytes(ftrace, rec.ip, ftrace_addr)
        if call is None:
            continue
        old, new = (NOP, call) if want else (call, NOP)
        where = staging.check(rec.ip, old)
        if where is not None:
            staging.stage(where, new, rec, _enable if want else _disable)
    return staging.write("ftrace_replace_code")


def _converted(rec) -> None:
    rec.flags |= FTRACE_FL_CONVERTED


def update_code(ftrace, pending: list, start: int = 0) -> int:
    """ftrace_update_code() for the leading run of `pending[start:]` (already in the
    kernel's order) that are in-range `bl _mcount` sites; return how many it converted. The
    first record it cannot take is left, with everything after it, to the core. Runs
    are written region by region, so a region refusing the write stops the run there
    with nothing of it changed, as the kernel stopped at its first failure."""
    staging = _Staging(ftrace)
    mcount = ftrace.MCOUNT_ADDR
    converted = staged = 0
    current = None
    for k in range(start, len(pending)):
        rec = pending[k]
        call = _call_bytes(ftrace, rec.ip, mcount)
        where = staging.check(rec.ip, call) if call is not None else None
        if where is None:
            break
        if where[0] is not current and staged:
            if len(staging.write("ftrace_update_code")) != staged:
                return converted
            converted, staged = converted + staged, 0
        current = where[0]
        staging.stage(where, NOP, rec, _converted)
        staged += 1
    if staged and len(staging.write("ftrace_update_code")) == staged:
        converted += staged
    return converted
