"""`ppcftrace symbols`: the simulated kernel's symbols, like /proc/kallsyms.

One line per symbol, by address: the address (16 hex digits on ppc64, 8 on ppc32),
nm's type letter and the name. PPC64 code symbols carry the dot (`.schedule`).
`--json` prints `{"arch": ..., "symbols": [{"address": "0x...", "type": "T",
"name": ".schedule"}, ...]}`.
"""

from __future__ import annotations

import argparse
import json

from ppcftrace.cli import add_arch


def register(subparsers) -> None:
    p = subparsers.add_parser("symbols", help="list the kernel's symbols (/proc/kallsyms)",
                              description=__doc__.splitlines()[0])
    add_arch(p)
    p.add_argument("--json", action="store_true", help="JSON instead of text")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from ppcftrace.machine import Machine

    machine = Machine.boot(args.arch)
    digits = 16 if args.arch == "ppc64" else 8
    if args.json:
        print(json.dumps({"arch": args.arch, "symbols": [
            {"address": f"{s.address:#0{digits + 2}x}", "type": s.type, "name": s.name}
            for s in machine.kallsyms]}, indent=1))
    else:
        print("\n".join(f"{s.address:0{digits}x} {s.type} {s.name}" for s in machine.kallsyms))
    return 0
