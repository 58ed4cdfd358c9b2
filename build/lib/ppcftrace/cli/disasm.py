"""`ppcftrace disasm`: disassemble 32-bit words given in hex."""

from __future__ import annotations

import argparse

from ppcftrace.cli import add_arch, parse_int


def _word(text: str) -> int:
    try:
        value = int(text.replace("_", ""), 16)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a hex word: {text!r}") from None
    if not 0 <= value <= 0xFFFFFFFF:
        raise argparse.ArgumentTypeError(f"not a 32-bit word: {text!r}")
    return value


def register(subparsers) -> None:
    p = subparsers.add_parser("disasm", help="disassemble 32-bit words",
                              description="Disassemble hex words (like 4bfff001) with capstone; "
                              "print 'ADDR: WORD  text' per word.")
    add_arch(p)
    p.add_argument("--at", type=parse_int, default=0, metavar="ADDR",
                   help="address of the first word (default 0)")
    p.add_argument("words", nargs="+", type=_word, metavar="WORD",
                   help="a 32-bit word in hex, e.g. 4bfff001")
    p.set_defaults(run=run)


def run(args) -> int:
    from ppcftrace.disasm import disassemble, format_lines

    print(format_lines(disassemble(args.words, args.at, args.arch), args.arch))
    return 0
