"""printk: the kernel's formatted print, as a host call of the interpreter.

`format_printk(fmt, args, read_string, arch)` formats a printk format string the way
lib/vsprintf.c did in 2.6.28/29 for the conversions kernel code of the time used:
`%d %i %u %x %X %o %c %s %p %%` with flags `- 0 + space #`, width, precision (`*`
too) and lengths `hh h l ll z t`. `args` are the argument *slots* as the PowerPC
calling convention fills them: register values r4..r10, then the caller's stack words.

Where the kernel and C's printf differ, this follows the kernel:
- `%p` prints the pointer as zero-padded hex, 16 digits on ppc64 and 8 on ppc32, with no
  `0x`; extension letters after it (`%pS`, `%pF`) are skipped, or symbolized when a
  `symbolize` function is given;
- `%s` of a pointer below 4096 prints `<NULL>`;
- an unknown conversion prints `%` and the letter.

`int` is 32 bits on both machines; `long` is 64 bits on ppc64 and 32 on ppc32, where a
`long long` takes an aligned register pair (r5/r6, r7/r8, r9/r10), high word first.
"""

from __future__ import annotations

from typing import Callable

from ppcftrace.errors import PpcftraceError

NULL_PAGE = 4096


class PrintkError(PpcftraceError):
    """The format asks for more arguments than the call passed, or an unknown arch."""


class _Args:
    """Hands out argument slots in calling-convention order."""

    def __init__(self, slots: list[int], arch: str):
        self.slots, self.arch, self.pos = slots, arch, 0
        self.slot_bits = 64 if arch == "ppc64" else 32

    def _take(self) -> int:
        if self.pos >= len(self.slots):
            raise PrintkError(f"printk: format needs more than {len(self.slots)} argument slot(s)")
        v = self.slots[self.pos]
        self.pos += 1
        return v & ((1 << self.slot_bits) - 1)

    def take(self, bits: int) -> int:
        """The next argument of `bits` bits, unsigned."""
        if bits <= self.slot_bits:
            return self._take() & ((1 << bits) - 1)
        # ppc32 long long: an odd register pair (slot 0 is r4, so r5/r6, r7/r8, r9/r10);
        # with only r10 left the pair goes to the stack, in an 8-byte aligned slot pair
        if self.pos < 7 and self.pos % 2 == 0:
            self.pos += 1
        if self.pos >= 7 and (self.pos - 7) % 2:
            self.pos += 1
        hi = self._take()
        return (hi << 32) | self._take()


def _length_bits(length: str, conv: str, arch: str) -> int:
    long_bits = 64 if arch == "ppc64" else 32
    if conv == "p":
        return long_bits
    return {"": 32, "hh": 8, "h": 16, "l": long_bits, "z": long_bits, "t": long_bits,
            "ll": 64, "L": 64, "q": 64}[length]


def _number(value: int, conv: str, flags: str, width: int | None, prec: int | None) -> str:
    base = {"d": 10, "i": 10, "u": 10, "x": 16, "X": 16, "o": 8}[conv]
    sign = ""
    if value < 0:
        sign, value = "-", -value
    elif conv in "di":
        sign = "+" if "+" in flags else " " if " " in flags else ""
    digits = {10: str, 16: lambda v: format(v, "x"), 8: lambda v: format(v, "o")}[base](value)
    if conv == "X":
        digits = digits.upper()
    if prec is not None:
        digits = "" if prec == 0 and value == 0 else digits.rjust(prec, "0")
    prefix = sign
    if "#" in flags:
        if base == 16 and value:
            prefix += "0" + conv
        elif base == 8 and not digits.startswith("0"):
            digits = "0" + digits
    return _pad(prefix, digits, flags, width, zero_ok=prec is None)


def _pad(prefix: str, body: str, flags: str, width: int | None, zero_ok: bool = False) -> str:
    fill = (width or 0) - len(prefix) - len(body)
    if fill <= 0:
        return prefix + body
    if "-" in flags:
        return prefix + body + " " * fill
    if "0" in flags and zero_ok:
        return prefix + "0" * fill + body
    return " " * fill + prefix + body


def format_printk(fmt: str, args: list[int], read_string: Callable[[int], str], arch: str = "ppc64",
                  symbolize: Callable[[int], str] | None = None) -> str:
    """`fmt` formatted with argument slots `args` (see the module docstring)."""
    if arch not in ("ppc64", "ppc32"):
        raise PrintkError(f"unknown arch {arch!r} (ppc64 or ppc32)")
    a = _Args(list(args), arch)
    out: list[str] = []
    i, n = 0, len(fmt)
    while i < n:
        c = fmt[i]
        if c != "%":
            j = fmt.find("%", i)
            j = n if j < 0 else j
            out.append(fmt[i:j])
            i = j
            continue
        i += 1
        flags = ""
        while i < n and fmt[i] in "-0+ #":
            flags += fmt[i]
            i += 1
        width = prec = None
        if i < n and fmt[i] == "*":
            width = _signed(a.take(32), 32)
            if width < 0:
                flags, width = flags + "-", -width
            i += 1
        else:
            start = i
            while i < n and fmt[i].isdigit():
                i += 1
            width = int(fmt[start:i]) if i > start else None
        if i < n and fmt[i] == ".":
            i += 1
            if i < n and fmt[i] == "*":
                prec = max(_signed(a.take(32), 32), 0)
                i += 1
            else:
                start = i
                while i < n and fmt[i].isdigit():
                    i += 1
                prec = int(fmt[start:i] or 0)
        length = ""
        for cand in ("hh", "ll", "h", "l", "z", "t", "L", "q"):
            if fmt.startswith(cand, i):
                length = cand
                i += len(cand)
                break
        if i >= n:
            out.append("%")
            break
        conv = fmt[i]
        i += 1
        if conv == "%":
            out.append("%")
        elif conv == "c":
            out.append(_pad("", chr(a.take(32) & 0xFF), flags, width))
        elif conv == "s":
            ptr = a.take(64 if arch == "ppc64" else 32)
            text = "<NULL>" if ptr < NULL_PAGE else read_string(ptr)
            if prec is not None:
                text = text[:prec]
            out.append(_pad("", text, flags, width))
        elif conv == "p":
            bits = _length_bits("", "p", arch)
            ptr = a.take(bits)
            ext = ""
            while i < n and fmt[i].isalnum():
                ext += fmt[i]
                i += 1
            if ext[:1] in ("S", "s", "F", "f") and symbolize is not None:
                out.append(_pad("", symbolize(ptr), flags, width))
            else:
                if width is None:
                    width, flags = bits // 4, flags + "0"
                out.append(_number(ptr, "x", flags, width, prec))
        elif conv in "diuxXo":
            bits = _length_bits(length, conv, arch)
            v = a.take(bits)
            if conv in "di":
                v = _signed(v, bits)
            out.append(_number(v, conv, flags, width, prec))
        else:
            out.append("%" + conv)        # the kernel prints what it does not know
    return "".join(out)


def _signed(value: int, bits: int) -> int:
    return value - (1 << bits) if value >> (bits - 1) & 1 else value


def split_level(text: str) -> tuple[int | None, str]:
    """("<6>hello") → (6, "hello"): the KERN_* level marker of a 2008 printk string."""
    if len(text) >= 3 and text[0] == "<" and text[1].isdigit() and text[2] == ">":
        return int(text[1]), text[3:]
    return None, text


def vsprintf(memory, fmt_address: int, args: list[int], arch: str = "ppc64",
             symbolize: Callable[[int], str] | None = None) -> str:
    """Format the string at `fmt_address` with argument slots `args`, reading every
    string from `memory` (an `AddressSpace`)."""
    def read_string(addr: int) -> str:
        return memory.read_cstring(addr).decode("latin-1")
    return format_printk(read_string(fmt_address), args, read_string, arch, symbolize)


def printk_host_call(log: list, symbolize: Callable[[int], str] | None = None,
                     stack_slots: int = 8) -> Callable:
    """A host call for `cpu.add_host_call`: formats from r3 (fmt) and r4..r10, then the
    caller's stack (ppc64 ELFv1 parameter save area at 112(r1), ppc32 at 8(r1)), appends
    the text to `log` and returns its length, as printk returns the count printed."""

    def printk(cpu) -> int:
        mem = cpu.memory
        size = 8 if cpu.arch == "ppc64" else 4
        first = 112 if cpu.arch == "ppc64" else 8
        slots = [cpu.gpr[r] for r in range(4, 11)]
        for k in range(stack_slots):
            addr = cpu.gpr[1] + first + size * k
            if not mem.is_mapped(addr, size):
                break
            slots.append(mem.read_u64(addr) if size == 8 else mem.read_u32(addr))
        text = vsprintf(mem, cpu.gpr[3], slots, cpu.arch, symbolize)
        log.append(text)
        return len(text.encode("latin-1", "replace"))
    return printk
