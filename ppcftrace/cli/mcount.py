"""`ppcftrace mcount`: the _mcount call sites of an ELF object or image, like recordmcount."""

from __future__ import annotations


def register(subparsers) -> None:
    p = subparsers.add_parser("mcount", help="list the _mcount call sites of an ELF file",
                              description="List every _mcount call site of a PowerPC ELF "
                              "object (from its relocations) or linked image (from "
                              "__mcount_loc): section, offset, containing function, callee.")
    p.add_argument("object", metavar="OBJECT", help="ELF relocatable object or linked image")
    p.add_argument("--json", action="store_true",
                   help='print {"arch", "abi", "sites": [{"section", "offset", '
                        '"function", "symbol"}]}')
    p.set_defaults(run=run)


def run(args) -> int:
    # imported here: `ppcftrace --help` and the other commands never load numpy
    from ppcftrace.elf.file import ElfFile
    from ppcftrace.recordmcount import find_sites

    elf = ElfFile.open(args.object)
    sites = find_sites(elf)
    if args.json:
        print(sites_json(elf.arch, elf.abi, sites))
        return 0
    lines = [f"{args.object}: {elf.arch} {elf.abi}, {len(sites)} _mcount call site(s)"]
    for s in sites:
        where = f"{s.address:#x} " if s.address is not None else ""
        lines.append(f"{where}{s.section}+{s.offset:#x}  in {s.function or '?'}  "
                     f"calls {s.symbol}")
    print("\n".join(lines))
    return 0


def sites_json(arch: str, abi: str, sites) -> str:
    """The --json document, written directly: objects can hold tens of thousands of sites
    and this is the command's hot loop. Same text as json.dumps of the dict."""
    import json

    quoted: dict = {}

    def q(text):
        out = quoted.get(text)
        if out is None:
            out = quoted[text] = json.dumps(text)
        return out

    items = ", ".join(
        f'{{"section": {q(s.section)}, "offset": {s.offset}, "function": {q(s.function)}, '
        f'"symbol": {q(s.symbol)}}}' for s in sites)
    return f'{{"arch": {q(arch)}, "abi": {q(abi)}, "sites": [{items}]}}'
