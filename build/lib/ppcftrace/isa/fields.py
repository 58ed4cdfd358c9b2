"""Instruction fields and forms, in IBM bit numbering (bit 0 is the most significant).

One table, `FORMS`, describes where every field lives; the encoder, the decoder and
the figures all read it, so there is a single source of truth for the layout.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Field:
    """Bits `first_bit`..`last_bit` (inclusive, IBM order) of a 32-bit word."""

    name: str
    first_bit: int
    last_bit: int
    signed: bool = False

    @property
    def width(self) -> int:
        return self.last_bit - self.first_bit + 1

    @property
    def shift(self) -> int:
        """How far the field's least significant bit sits from bit 31."""
        return 31 - self.last_bit

    @property
    def mask(self) -> int:
        """The field's bits within the word."""
        return ((1 << self.width) - 1) << self.shift

    @property
    def min(self) -> int:
        return -(1 << (self.width - 1)) if self.signed else 0

    @property
    def max(self) -> int:
        return (1 << (self.width - 1)) - 1 if self.signed else (1 << self.width) - 1

    def extract(self, word: int) -> int:
        """The field's value in `word` (sign-extended when the field is signed)."""
        value = (word & self.mask) >> self.shift
        if self.signed and value >> (self.width - 1):
            value -= 1 << self.width
        return value

    def insert(self, word: int, value: int) -> int:
        """`word` with this field set to `value` (the caller checks the range)."""
        return (word & ~self.mask & 0xFFFFFFFF) | ((value << self.shift) & self.mask)

    def fits(self, value: int) -> bool:
        return self.min <= value <= self.max


@dataclass(frozen=True)
class SplitField:
    """A field stored in pieces, most significant piece first (MD `sh`/`mb`, `spr`)."""

    name: str
    parts: tuple[Field, ...]
    signed: bool = False

    @property
    def width(self) -> int:
        return sum(p.width for p in self.parts)

    @property
    def first_bit(self) -> int:
        return min(p.first_bit for p in self.parts)

    @property
    def last_bit(self) -> int:
        return max(p.last_bit for p in self.parts)

    @property
    def mask(self) -> int:
        m = 0
        for p in self.parts:
            m |= p.mask
        return m

    @property
    def min(self) -> int:
        return 0

    @property
    def max(self) -> int:
        return (1 << self.width) - 1

    def extract(self, word: int) -> int:
        value = 0
        for p in self.parts:
            value = (value << p.width) | p.extract(word)
        return value

    def insert(self, word: int, value: int) -> int:
        for p in reversed(self.parts):
            word = p.insert(word, value & ((1 << p.width) - 1))
            value >>= p.width
        return word

    def fits(self, value: int) -> bool:
        return 0 <= value <= self.max


class Form(tuple):
    """The fields of one instruction form: iterating gives the canonical layout
    (non-overlapping, left to right); `field(name)` also finds the alternative names
    the ISA gives the same bits (RS for RT, SI/UI for D, ...)."""

    def __new__(cls, name: str, layout: tuple, alternates: tuple = ()):
        self = super().__new__(cls, layout)
        self.name = name
        self.by_name = {f.name: f for f in (*layout, *alternates)}
        return self

    def field(self, name: str) -> Field | SplitField:
        return self.by_name[name]


def _f(name, first, last=None, signed=False):
    return Field(name, first, first if last is None else last, signed)


OPCD = _f("OPCD", 0, 5)
_RT, _RS, _RA, _RB = _f("RT", 6, 10), _f("RS", 6, 10), _f("RA", 11, 15), _f("RB", 16, 20)
_BO, _BI = _f("BO", 6, 10), _f("BI", 11, 15)
_BF, _L = _f("BF", 6, 8), _f("L", 10)
_AA, _LK, _Rc = _f("AA", 30), _f("LK", 31), _f("Rc", 31)
_XO10 = _f("XO", 21, 30)

FORMS: dict[str, Form] = {
    "I": Form("I", (OPCD, _f("LI", 6, 29, True), _AA, _LK)),
    "B": Form("B", (OPCD, _BO, _BI, _f("BD", 16, 29, True), _AA, _LK)),
    "SC": Form("SC", (OPCD, _f("LEV", 20, 26), _f("XO", 30))),
    "D": Form("D", (OPCD, _RT, _RA, _f("D", 16, 31, True)),
              (_RS, _BF, _L, _f("SI", 16, 31, True), _f("UI", 16, 31))),
    "DS": Form("DS", (OPCD, _RT, _RA, _f("DS", 16, 29, True), _f("XO", 30, 31)), (_RS,)),
    "X": Form("X", (OPCD, _RT, _RA, _RB, _XO10, _Rc), (_RS, _BF, _L, _f("SH", 16, 20))),
    "XO": Form("XO", (OPCD, _RT, _RA, _RB, _f("OE", 21), _f("XO", 22, 30), _Rc)),
    "XL": Form("XL", (OPCD, _BO, _BI, _f("BH", 19, 20), _XO10, _LK)),
    "XFX": Form("XFX", (OPCD, _RT, SplitField("SPR", (_f("spr5_9", 16, 20), _f("spr0_4", 11, 15))),
                        _XO10),
                (_RS, _f("FXM", 12, 19))),
    "M": Form("M", (OPCD, _RS, _RA, _f("SH", 16, 20), _f("MB", 21, 25), _f("ME", 26, 30), _Rc)),
    "MD": Form("MD", (OPCD, _RS, _RA, SplitField("sh", (_f("sh5", 30), _f("sh0_4", 16, 20))),
                      SplitField("mb", (_f("mb5", 26), _f("mb0_4", 21, 25))),
                      _f("XO", 27, 29), _Rc),
               (SplitField("me", (_f("me5", 26), _f("me0_4", 21, 25))),)),
}
