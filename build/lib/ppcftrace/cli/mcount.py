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
    import os

    # numpy's OpenBLAS starts a thread per core on import (tens of ms of CPU); this
    # command does no linear algebra. setdefault: a user's own setting wins.
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    # imported here: `ppcftrace --help` and the other commands never load numpy
    from ppcftrace.elf.file import ElfFile
    from ppcftrace.recordmcount import find_sites, site_columns

    elf = ElfFile.open(args.object)
    if args.json:
        print(sites_json(elf.arch, elf.abi, site_columns(elf)))
        return 0
    sites = find_sites(elf)
    lines = [f"{args.object}: {elf.arch} {elf.abi}, {len(sites)} _mcount call site(s)"]
    for s in sites:
        where = f"{s.address:#x} " if s.address is not None else ""
        lines.append(f"{where}{s.section}+{s.offset:#x}  in {s.function or '?'}  "
                     f"calls {s.symbol}")
    print("\n".join(lines))
    return 0


def sites_json(arch: str, abi: str, cols) -> str:
    """The --json document from `SiteColumns`, written directly: objects can hold tens
    of thousands of sites and this is the command's hot loop. The text is exactly
    json.dumps of {"arch", "abi", "sites": [{"section", "offset", "function", "symbol"}]}."""
    from json.encoder import encode_basestring_ascii as quote  # json.dumps' own quoting

    def quote_all(names):
        cache = {}
        return [cache[n] if n in cache else cache.setdefault(n, "null" if n is None else quote(n))
                for n in names]

    items = ", ".join([
        f'{{"section": {sec}, "offset": {off}, "function": {fn}, "symbol": {sym}}}'
        for sec, off, fn, sym in zip(quote_all(cols.section), cols.offset,
                                     map(quote, cols.function) if None not in cols.function
                                     else quote_all(cols.function), quote_all(cols.symbol))])
    return f'{{"arch": {quote(arch)}, "abi": {quote(abi)}, "sites": [{items}]}}'
