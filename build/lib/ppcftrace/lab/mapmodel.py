"""The memory map of a live machine: regions, call sites by state, stubs, arrows.

`MemoryMapModel(machine)` reads what the map shows from the machine itself: the
regions of `machine.memory`, one `Site` per ftrace record (or per mcount site when
ftrace is off) with its state from `sites.classify_site`, one `StubInfo` per module
stub / PLT entry with the target memory holds now, the arrows site -> stub -> target,
the ±32 MiB reach of a site and the address range of a symbol or section to zoom to.
`refresh()` re-reads the words after a patch; it re-decodes only sites whose words
changed, so a map of thousands of sites stays quick to redraw.
"""

from __future__ import annotations

from dataclasses import dataclass

from ppcftrace import isa
from ppcftrace.errors import PpcftraceError
from ppcftrace.lab.sites import SITE_STATES, SiteState, classify_site, stub_target
from ppcftrace.memory import MemoryFault

__all__ = ["MemoryMapModel", "Site", "StubInfo", "RegionInfo", "Arrow", "ZoomError", "reach_window"]


class ZoomError(PpcftraceError):
    """No symbol, module or region of that name to zoom to."""


@dataclass(frozen=True)
class RegionInfo:
    """A mapped region and what it belongs to: "kernel", "module" or "other"."""

    name: str
    start: int
    size: int
    perms: str
    owner: str

    @property
    def end(self) -> int:
        return self.start + self.size


@dataclass(frozen=True)
class Site:
    """One call site: its address, function, module (None = kernel), state, flags."""

    ip: int
    function: str
    module: str | None
    state: SiteState
    flags: int = 0


@dataclass(frozen=True)
class StubInfo:
    """A stub (PPC64) or PLT entry (PPC32) of a module; `target` as memory has it now."""

    address: int
    size: int
    module: str
    target: int | None
    target_name: str
    tramp: bool            #: mod->arch.tramp, the one to ftrace_caller

    @property
    def role(self) -> str:
        """"mcount", "ftrace" or "other": what the map colours the stub by."""
        return {"._mcount": "mcount", "_mcount": "mcount", ".ftrace_caller": "ftrace",
                "ftrace_caller": "ftrace"}.get(self.target_name, "other")


@dataclass(frozen=True)
class Arrow:
    """An edge of the map: a site's `bl` to a stub, a stub to its target, or a direct call."""

    source: int
    dest: int
    kind: str              #: "bl", "stub" (stub -> target) or "b+8"


def reach_window(ip: int, arch: str = "ppc64") -> tuple[int, int]:
    """The lowest and highest target a `bl` at `ip` reaches (wrapping on PPC32)."""
    li = isa.FORMS["I"].field("LI")
    mask = (1 << (64 if arch == "ppc64" else 32)) - 1
    return (ip + li.min * 4) & mask, (ip + li.max * 4) & mask


class MemoryMapModel:
    """What the map shows of `machine` (a `Machine` from `start_kernel`, or a synthetic one)."""

    def __init__(self, machine):
        self.machine = machine
        self.arch = machine.arch
        self.memory = machine.memory
        self.mcount = machine.entry("_mcount")
        self.ftrace_caller = machine.entry("ftrace_caller")
        self._decoded: dict[int, tuple[tuple[int, int], SiteState]] = {}
        self._names: dict[int, tuple[str, str | None]] = {}
        self.refresh()

    # -- reading the machine ---------------------------------------------------------

    def _modules(self) -> list:
        return list(getattr(self.machine, "modules", None) or ())

    def _module_of(self, address: int):
        return next((m for m in self._modules() if m.base <= address < m.base + m.size), None)

    def name_of(self, address: int) -> str:
        """`name+0xoff` of a code address (kernel or module), or hex."""
        found = self.machine.kallsyms.lookup(address)
        if found is None:
            mod = self._module_of(address)
            found = mod.lookup(address) if mod is not None else None
        if found is None:
            return f"{address:#x}"
        return f"{found[0]}+{found[1]:#x}" if found[1] else found[0]

    def where(self, address: int) -> str:
        """Like `name_of`, but a stub or PLT entry is named by where it jumps:
        `stub→.printk+0x8`."""
        for st in self.stubs:
            if st.address <= address < st.address + st.size:
                kind = "stub" if self.arch == "ppc64" else "PLT"
                off = address - st.address
                return f"{kind}\u2192{st.target_name}" + (f"+{off:#x}" if off else "")
        return self.name_of(address)

    def _records(self) -> list[tuple[int, int]]:
        ftrace = getattr(self.machine, "ftrace", None)
        if ftrace is not None:
            return [(r.ip, r.flags) for r in ftrace.records]
        ips = [ip for ip in self.machine.mcount_sites if ip]
        for mod in self._modules():
            ips += list(mod.mcount_sites)
        return [(ip, 0) for ip in ips]

    def _site_name(self, ip: int) -> tuple[str, str | None]:
        cached = self._names.get(ip)
        if cached is None:
            mod = self._module_of(ip)
            found = self.machine.kallsyms.lookup(ip) if mod is None else mod.lookup(ip)
            cached = self._names[ip] = (found[0] if found else f"{ip:#x}", mod.name if mod else None)
        return cached

    def refresh(self) -> None:
        """Re-read regions, stubs and every site's words."""
        self.regions = [RegionInfo(r.name, r.start, r.size, r.perms, self._owner(r))
                        for r in self.memory.regions]
        self.stubs = []
        for mod in self._modules():
            size = 48 if self.arch == "ppc64" else 16
            for st in mod.arch.stubs:
                target = stub_target(self.memory, st.address, self.arch)
                name = self.name_of(target) if target is not None else "unreadable"
                self.stubs.append(StubInfo(st.address, size, mod.name, target, name,
                                           st.address == mod.arch.tramp))
        stub_map = {s.address: s.target for s in self.stubs}
        if stub_map != getattr(self, "_stub_map", None):
            self._decoded.clear()  # a stub's target changed: sites through it may change state
            self._stub_map = stub_map
        read = self.memory.read
        sites = []
        for ip, flags in self._records():
            try:
                raw = read(ip, 8)
                words = (int.from_bytes(raw[:4], "big"), int.from_bytes(raw[4:], "big"))
            except MemoryFault:
                try:
                    words = (self.memory.read_u32(ip), 0)
                except MemoryFault:
                    words = (0, 0)
            cached = self._decoded.get(ip)
            if cached is None or cached[0] != words:
                state = classify_site(words, ip, self.arch, mcount=self.mcount,
                                      ftrace_caller=self.ftrace_caller, stubs=stub_map)
                self._decoded[ip] = (words, state)
            else:
                state = cached[1]
            function, module = self._site_name(ip)
            sites.append(Site(ip, function, module, state, flags))
        self.sites = sites
        self._by_ip = {s.ip: s for s in sites}

    def _owner(self, region) -> str:
        if any(m.base <= region.start < m.base + m.size for m in self._modules()):
            return "module"
        if region.name.startswith(("module", "module:")):
            return "module"
        if region.name.startswith("vmlinux"):
            return "kernel"
        return "other"

    # -- questions the map answers ---------------------------------------------------

    def site(self, ip: int) -> Site:
        """The site at `ip` (ZoomError if there is none)."""
        try:
            return self._by_ip[ip]
        except KeyError:
            raise ZoomError(f"no call site at {ip:#x}") from None

    def counts(self) -> dict[str, int]:
        """How many sites are in each state."""
        out = dict.fromkeys(SITE_STATES, 0)
        for s in self.sites:
            out[s.state.state] += 1
        return out

    def find_site(self, text: str) -> Site:
        """The site of a function name (`schedule`, `.schedule`) or address text."""
        text = text.strip()
        if not text:
            raise ZoomError("enter a function name or a site address")
        names = {text, "." + text, text.lstrip(".")}
        for s in self.sites:
            if s.function in names:
                return s
        try:
            return self.site(int(text, 16))
        except ValueError:
            raise ZoomError(f"no traced function {text!r}") from None

    def arrows(self, ip: int) -> list[Arrow]:
        """site -> stub -> target (or site -> target, or the `b .+8` hop) for site `ip`."""
        st = self.site(ip).state
        if st.state == "b+8":
            return [Arrow(ip, ip + 8, "b+8")]
        out = []
        if st.via is not None:
            out.append(Arrow(ip, st.via, "bl"))
            if st.target is not None:
                out.append(Arrow(st.via, st.target, "stub"))
        elif st.target is not None:
            out.append(Arrow(ip, st.target, "bl"))
        return out

    def reach(self, ip: int) -> tuple[int, int]:
        """The ±32 MiB window a `bl` at `ip` reaches."""
        return reach_window(ip, self.arch)

    def in_reach(self, ip: int, target: int) -> bool:
        return isa.is_offset_in_branch_range(target - ip) if self.arch == "ppc64" else \
            isa.is_offset_in_branch_range(((target - ip + 2**31) % 2**32) - 2**31)

    def zoom_range(self, what: str) -> tuple[int, int] | None:
        """[low, high) of a function, a module or a region named `what`; None for "all"."""
        text = what.strip()
        if text in ("", "all", "*"):
            return None
        for r in self.regions:
            if r.name == text or r.name == f"vmlinux {text}":
                return r.start, r.end
        for mod in self._modules():
            if mod.name == text:
                return mod.base, mod.base + mod.size
        dotted = self.arch == "ppc64" and not text.startswith(".")
        for name in (("." + text, text) if dotted else (text,)):  # code before descriptor
            span = self._function_range(name)
            if span is not None:
                return span
        raise ZoomError(f"nothing called {text!r}: give a function, a module or a section "
                        "such as .text")

    def _function_range(self, name: str) -> tuple[int, int] | None:
        ks = self.machine.kallsyms
        if name in ks:
            start = ks.address(name)
            region = self.memory.region_at(start)
            if region is None:
                return None
            end = self._symbol_end(start)
            return start, min(end, region.end) if end else region.end
        for mod in self._modules():
            if name in mod.symbols and name.startswith(".") == (self.arch == "ppc64"):
                start = mod.symbols[name]
                later = sorted(a for n, a in mod.symbols.items() if a > start
                               and (n.startswith(".") or self.arch == "ppc32"))
                end = later[0] if later else mod.base + (getattr(mod, "text_size", 0) or mod.size)
                return start, end
        return None

    def _symbol_end(self, start: int) -> int | None:
        """Where the kernel symbol at `start` ends: its ELF size, else the next symbol."""
        ks = self.machine.kallsyms
        found = ks.lookup(start)
        if found is not None and len(found) > 2 and found[2]:   # synthetic: (name, off, size)
            return start + found[2]
        if hasattr(ks, "symbol") and found is not None and ks.symbol(found[0]).size:
            return start + ks.symbol(found[0]).size
        later = [s.address for s in ks if s.address > start] if hasattr(ks, "__iter__") else []
        return min(later) if later else None
