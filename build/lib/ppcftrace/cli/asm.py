"""`ppcftrace asm`: assemble instructions, one 32-bit word per line."""

from __future__ import annotations

from ppcftrace.cli import add_arch, parse_int


def register(subparsers) -> None:
    p = subparsers.add_parser("asm", help="assemble instructions to 32-bit words",
                              description="Assemble one instruction per argument (or several "
                              "separated by ';'); print each word as 8 hex digits. Numeric "
                              "branch targets are absolute; '.+8' is relative.")
    add_arch(p)
    p.add_argument("--at", type=parse_int, default=0, metavar="ADDR",
                   help="address of the first instruction (default 0)")
    p.add_argument("insns", nargs="+", metavar="INSN",
                   help="an instruction, e.g. \"ld r2,40(r1)\" or \"bl 0xc000000000000000\"")
    p.set_defaults(run=run)


def run(args) -> int:
    from ppcftrace.isa import assemble_lines

    words = assemble_lines(args.insns, args.at, args.arch)
    print("\n".join(f"{w:08x}" for w in words))
    return 0
