"""`Instruction`: one decoded word, with its fields and its capstone-style text."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping


@dataclass(frozen=True)
class Instruction:
    """A decoded instruction.

    `op` is the base instruction (`addi` for `li`, `b` for `bl`, `bc` for `beq`);
    `fields` holds the raw field values by ISA name (signed fields sign-extended;
    `LI`, `BD` and `DS` are in words, as stored); `mnemonic`/`operands` are the
    preferred extended form as capstone 5 prints it, with absolute branch targets.
    """

    word: int
    op: str
    form: str
    fields: Mapping[str, int] = field(hash=False)
    mnemonic: str
    operands: tuple[str, ...]
    address: int = 0
    target: int | None = None  #: absolute branch target (b, bc), else None

    @property
    def text(self) -> str:
        return f"{self.mnemonic} {', '.join(self.operands)}" if self.operands else self.mnemonic

    @property
    def op_str(self) -> str:
        return ", ".join(self.operands)

    def __str__(self) -> str:
        return self.text
