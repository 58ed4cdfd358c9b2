"""The address space: a sparse, big-endian memory of named regions.

What `probe_kernel_read()`/`probe_kernel_write()` see. A region is a bytearray mapped
at a start address with r/w/x permissions; everything else is unmapped. An access that
touches an unmapped byte, crosses a region's end, or lacks the permission raises
`MemoryFault` and changes nothing. Every successful write is recorded in a journal
(address, old bytes, new bytes, tag) so that a chapter can show what changed and undo it.
"""

from __future__ import annotations

import bisect
import errno as _errno
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Callable, Iterator, NamedTuple

from ppcftrace.errors import PpcftraceError

__all__ = [
    "AddressSpace", "Region", "JournalEntry", "Change", "Snapshot",
    "MemoryError_", "MemoryFault", "MapError",
]


class MemoryError_(PpcftraceError):
    """Base class of address-space errors (named so as not to shadow the builtin)."""


class MemoryFault(MemoryError_):
    """An access to an unmapped byte, across a region's end, or without permission."""

    errno = _errno.EFAULT

    def __init__(self, address: int, size: int, access: str, reason: str = "unmapped"):
        self.address, self.size, self.access, self.reason = address, size, access, reason
        verb = {"r": "read", "w": "write", "x": "fetch"}.get(access, access)
        super().__init__(f"memory fault: {verb} of {size} byte(s) at {address:#x} ({reason})")


class MapError(MemoryError_):
    """A bad map/unmap/protect request: overlap, duplicate name, bad size or perms."""

    errno = _errno.EINVAL


@dataclass(eq=False)
class Region:
    """A mapped range [start, start + size) holding its bytes."""

    name: str
    start: int
    size: int
    perms: str
    data: bytearray

    @property
    def end(self) -> int:
        """First address after the region."""
        return self.start + self.size

    def __contains__(self, address: int) -> bool:
        return self.start <= address < self.start + self.size

    def __repr__(self) -> str:
        return f"Region({self.name!r}, {self.start:#x}..{self.end:#x}, {self.perms!r})"


class JournalEntry(NamedTuple):
    """One write: where, the bytes before, the bytes after, and who wrote it."""

    address: int
    old: bytes
    new: bytes
    tag: object = None


class Change(NamedTuple):
    """A run of bytes that differ between a snapshot and now."""

    address: int
    old: bytes
    new: bytes
    region: str


class Snapshot(NamedTuple):
    """Copies of every region's bytes at one moment (see `AddressSpace.snapshot`)."""

    regions: dict  # name -> (start, bytes)


def _check_perms(perms: str) -> str:
    if not set(perms) <= set("rwx") or len(set(perms)) != len(perms):
        raise MapError(f"bad permissions {perms!r}: use a subset of 'rwx'")
    return "".join(p for p in "rwx" if p in perms)


class AddressSpace:
    """A sparse big-endian address space of `bits` (64, or 32 for ppc32) address bits.

    Addresses are reduced modulo 2**bits, so on ppc32 0x1_0000_0004 is 0x4. An access
    must lie inside a single region.
    """

    def __init__(self, bits: int = 64):
        if bits not in (32, 64):
            raise MapError(f"address width must be 32 or 64 bits, not {bits}")
        self.bits = bits
        self.mask = (1 << bits) - 1
        self._starts: list[int] = []
        self._regions: list[Region] = []
        self._by_name: dict[str, Region] = {}
        self.journal: list[JournalEntry] = []
        #: False while bulk loads run (see `unjournaled`)
        self.journaling = True
        self._observers: list[Callable[[int, int], None]] = []
        self._last: Region | None = None

    # -- regions ---------------------------------------------------------------

    def map(self, name: str, start: int, size: int, perms: str = "rwx", data: bytes = b"") -> Region:
        """Map a new region of `size` bytes at `start`, initialised with `data` then zeros."""
        perms = _check_perms(perms)
        if name in self._by_name:
            raise MapError(f"region {name!r} is already mapped")
        if size <= 0:
            raise MapError(f"region {name!r}: size must be positive, not {size}")
        if start < 0 or start + size - 1 > self.mask:
            raise MapError(f"region {name!r} at {start:#x}+{size:#x} does not fit a {self.bits}-bit space")
        if len(data) > size:
            raise MapError(f"region {name!r}: {len(data)} bytes of data exceed its size {size:#x}")
        i = bisect.bisect_right(self._starts, start)
        for j in (i - 1, i):
            if 0 <= j < len(self._regions):
                other = self._regions[j]
                if start < other.end and other.start < start + size:
                    raise MapError(f"region {name!r} at {start:#x}+{size:#x} overlaps {other.name!r}")
        buf = bytearray(size)
        buf[: len(data)] = data
        region = Region(name, start, size, perms, buf)
        self._starts.insert(i, start)
        self._regions.insert(i, region)
        self._by_name[name] = region
        return region

    def unmap(self, name: str) -> Region:
        """Remove a region; its address range becomes unmapped."""
        region = self.region(name)
        i = self._regions.index(region)
        del self._starts[i], self._regions[i]
        del self._by_name[name]
        self._last = None
        self._notify(region.start, region.size)
        return region

    def protect(self, name: str, perms: str) -> None:
        """Change a region's permissions (fault injection: make text read-only)."""
        perms = _check_perms(perms)
        self.region(name).perms = perms

    def region(self, name: str) -> Region:
        """The region called `name`."""
        try:
            return self._by_name[name]
        except KeyError:
            raise MapError(f"no region named {name!r}") from None

    def region_at(self, address: int) -> Region | None:
        """The region holding `address`, or None."""
        address &= self.mask
        i = bisect.bisect_right(self._starts, address) - 1
        if i >= 0:
            region = self._regions[i]
            if address < region.start + region.size:
                return region
        return None

    @property
    def regions(self) -> list[Region]:
        """All regions, by start address."""
        return list(self._regions)

    def is_mapped(self, address: int, size: int = 1, access: str = "r") -> bool:
        """True when `size` bytes at `address` could be accessed with `access`."""
        try:
            self._locate(address, size, access)
        except MemoryFault:
            return False
        return True

    def _locate(self, address: int, size: int, access: str) -> tuple[Region, int]:
        address &= self.mask
        region = self._last
        # most accesses hit the region the previous one did (the interpreter's hot path)
        if region is not None and region.start <= address and address + size <= region.start + region.size \
                and access in region.perms:
            return region, address - region.start
        region = self.region_at(address)
        if region is None:
            raise MemoryFault(address, size, access, "unmapped")
        offset = address - region.start
        if offset + size > region.size:
            raise MemoryFault(address, size, access, f"crosses the end of {region.name}")
        if access not in region.perms:
            raise MemoryFault(address, size, access, f"{region.name} is {region.perms or 'inaccessible'}")
        self._last = region
        return region, offset

    # -- reads ------------------------------------------------------------------

    def read(self, address: int, size: int, access: str = "r") -> bytes:
        """`size` bytes at `address`; `access` "x" checks execute permission instead."""
        region, offset = self._locate(address, size, access)
        return bytes(region.data[offset : offset + size])

    # one call each: these are the interpreter's loads
    def read_u8(self, address: int) -> int:
        region, offset = self._locate(address, 1, "r")
        return region.data[offset]

    def read_u16(self, address: int) -> int:
        region, offset = self._locate(address, 2, "r")
        return int.from_bytes(region.data[offset : offset + 2], "big")

    def read_u32(self, address: int) -> int:
        region, offset = self._locate(address, 4, "r")
        return int.from_bytes(region.data[offset : offset + 4], "big")

    def read_u64(self, address: int) -> int:
        region, offset = self._locate(address, 8, "r")
        return int.from_bytes(region.data[offset : offset + 8], "big")

    def fetch(self, address: int) -> int:
        """The instruction word at `address` (needs execute permission)."""
        region, offset = self._locate(address, 4, "x")
        return int.from_bytes(region.data[offset : offset + 4], "big")

    def read_cstring(self, address: int, limit: int = 4096) -> bytes:
        """The NUL-terminated string at `address` (without the NUL), at most `limit` bytes."""
        out = bytearray()
        while len(out) < limit:
            b = self.read_u8(address + len(out))
            if b == 0:
                break
            out.append(b)
        return bytes(out)

    # -- writes -----------------------------------------------------------------

    def write(self, address: int, data: bytes, tag: object = None, *, journal: bool = True) -> None:
        """Store `data` at `address`; journal it (unless `journal` is False or the journal
        is paused) and tell the write observers."""
        size = len(data)
        if size == 0:
            return
        region, offset = self._locate(address, size, "w")
        address &= self.mask
        if journal and self.journaling:
            old = bytes(region.data[offset : offset + size])
            self.journal.append(JournalEntry(address, old, bytes(data), tag))
        region.data[offset : offset + size] = data
        if self._observers:
            self._notify(address, size)

    def write_u8(self, address: int, value: int, tag: object = None) -> None:
        self.write(address, (value & 0xFF).to_bytes(1, "big"), tag)

    def write_u16(self, address: int, value: int, tag: object = None) -> None:
        self.write(address, (value & 0xFFFF).to_bytes(2, "big"), tag)

    def write_u32(self, address: int, value: int, tag: object = None) -> None:
        self.write(address, (value & 0xFFFFFFFF).to_bytes(4, "big"), tag)

    def write_u64(self, address: int, value: int, tag: object = None) -> None:
        self.write(address, (value & 0xFFFFFFFFFFFFFFFF).to_bytes(8, "big"), tag)

    @contextmanager
    def unjournaled(self) -> Iterator[None]:
        """Pause the journal (bulk loads); observers are still told."""
        saved, self.journaling = self.journaling, False
        try:
            yield
        finally:
            self.journaling = saved

    # -- journal ----------------------------------------------------------------

    def mark(self) -> int:
        """A position in the journal to `undo` back to."""
        return len(self.journal)

    def undo(self, mark: int = 0) -> None:
        """Restore the bytes written since `mark`, newest first, and drop those entries.

        Permissions are not checked (the bytes were writable when written), but every
        entry's region must still be mapped; otherwise nothing is restored.
        """
        if not 0 <= mark <= len(self.journal):
            raise MapError(f"journal mark {mark} is outside 0..{len(self.journal)}")
        entries = self.journal[mark:]
        places = []
        for e in entries:
            region = self.region_at(e.address)
            if region is None or e.address + len(e.old) > region.end:
                raise MemoryFault(e.address, len(e.old), "w", "unmapped since it was written")
            places.append((region, e.address - region.start))
        for e, (region, offset) in zip(reversed(entries), reversed(places)):
            region.data[offset : offset + len(e.old)] = e.old
            if self._observers:
                self._notify(e.address, len(e.old))
        del self.journal[mark:]

    def add_write_observer(self, fn: Callable[[int, int], None]) -> None:
        """Call `fn(address, size)` after every write, undo and unmap."""
        self._observers.append(fn)

    def remove_write_observer(self, fn: Callable[[int, int], None]) -> None:
        self._observers.remove(fn)

    def _notify(self, address: int, size: int) -> None:
        for fn in self._observers:
            fn(address, size)

    # -- snapshots --------------------------------------------------------------

    def snapshot(self) -> Snapshot:
        """Copies of all regions' bytes, to `diff` against later."""
        return Snapshot({r.name: (r.start, bytes(r.data)) for r in self._regions})

    def diff(self, snapshot: Snapshot) -> list[Change]:
        """Runs of bytes that differ from `snapshot`, by address.

        A region mapped since the snapshot appears whole with old = b""; one unmapped
        since appears whole with new = b"".
        """
        changes: list[Change] = []
        for r in self._regions:
            before = snapshot.regions.get(r.name)
            if before is None or before[0] != r.start or len(before[1]) != r.size:
                if before is not None:
                    changes.append(Change(before[0], before[1], b"", r.name))
                changes.append(Change(r.start, b"", bytes(r.data), r.name))
                continue
            changes.extend(_runs(r.name, r.start, before[1], r.data))
        for name, (start, data) in snapshot.regions.items():
            if name not in self._by_name:
                changes.append(Change(start, data, b"", name))
        return sorted(changes, key=lambda c: (c.address, c.old == b""))


def _runs(name: str, start: int, old: bytes, new: bytearray) -> list[Change]:
    """Maximal runs of differing bytes between two equal-length buffers."""
    if old == new:
        return []
    out, i, n = [], 0, len(old)
    while i < n:
        if old[i] == new[i]:
            # skip equal blocks quickly: regions can be megabytes long
            if (i & 255) == 0 and old[i : i + 256] == new[i : i + 256]:
                i += 256
            else:
                i += 1
            continue
        j = i
        while j < n and old[j] != new[j]:
            j += 1
        out.append(Change(start + i, bytes(old[i:j]), bytes(new[i:j]), name))
        i = j
    return out
