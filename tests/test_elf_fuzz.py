"""Mutated ELF files: only our documented errors, or a file that reads completely.

Seeds are real objects and images from the cross compilers (and the committed fixtures
when present). Each mutant is truncated, has a header or section-header field set to
an odd value, or has bytes flipped in its headers or tables; then everything is read:
sections, symbols, every relocation, descriptors, functions, mcount sites.
"""

from __future__ import annotations

import glob
import os
import pathlib
import random
import time
import warnings

import pytest

from conftest import need_toolchain

DATA = pathlib.Path(__file__).resolve().parent.parent / "ppcftrace" / "data"
MUTANTS = 1500
SEED = 20081126


def _seeds(tmp: pathlib.Path) -> list[bytes]:
    from ppcftrace.elf import ElfFile, ELFError
    from ppcftrace.elf.samples import corpus, link_image
    from ppcftrace.recordmcount import record_object

    files = []
    for arch in ("ppc64", "ppc32"):
        objs = corpus(arch, count=20)
        rec = str(tmp / f"rec-{arch}.o")
        record_object(objs[3], rec)
        files += [objs[0], objs[1], rec, link_image([rec], arch, str(tmp / f"img-{arch}.elf"))]
    fixtures = []
    for path in sorted(glob.glob(str(DATA / "**" / "*"), recursive=True)):
        try:
            if os.path.isfile(path) and os.path.getsize(path) < 1 << 20:
                ElfFile.open(path)
                fixtures.append(path)
        except (ELFError, OSError):
            pass
    files += fixtures[:6]
    return [pathlib.Path(f).read_bytes() for f in files]


def traverse(data: bytes) -> None:
    """Read everything a user of the file can ask for."""
    from ppcftrace.elf import ElfFile
    from ppcftrace.recordmcount import bl_sites, find_sites

    elf = ElfFile.from_bytes(data, "mutant")
    for s in elf.sections:
        assert len(s.data) <= s.size
    elf.symbols
    for rsec in elf.reloc_sections:
        elf.relocations(rsec)
    elf.descriptors
    elf.functions
    find_sites(elf)
    if not elf.is_relocatable:
        bl_sites(elf)


def _layout(data: bytes) -> dict:
    """Where the header, section headers and tables are (from the unmutated seed)."""
    from ppcftrace.elf import ElfFile

    elf = ElfFile.from_bytes(data)
    bits = elf.bits
    shoff = elf.header.shoff
    ent = 64 if bits == 64 else 40
    tables = [(s.offset, s.size) for s in elf.sections
              if s.type_name in ("SYMTAB", "STRTAB", "RELA") or s.name == ".opd"]
    return {"bits": bits, "shoff": shoff, "ent": ent, "nsec": len(elf.sections),
            "tables": tables}


# (offset, size) of the Ehdr fields after e_ident, per class
_EHDR_FIELDS = {64: [(16, 2), (18, 2), (20, 4), (24, 8), (32, 8), (40, 8), (48, 4), (52, 2),
                     (54, 2), (56, 2), (58, 2), (60, 2), (62, 2)],
                32: [(16, 2), (18, 2), (20, 4), (24, 4), (28, 4), (32, 4), (36, 4), (40, 2),
                     (42, 2), (44, 2), (46, 2), (48, 2), (50, 2)]}
_SHDR_FIELDS = {64: [(0, 4), (4, 4), (8, 8), (16, 8), (24, 8), (32, 8), (40, 4), (44, 4),
                     (48, 8), (56, 8)],
                32: [(o, 4) for o in range(0, 40, 4)]}


def _odd_value(rng: random.Random, size: int, old: int) -> int:
    top = (1 << (8 * size)) - 1
    return rng.choice([0, 1, top, top >> 1, old + 1, old - 1 if old else 1, old * 2,
                       old ^ (1 << rng.randrange(8 * size)), rng.randrange(top + 1),
                       rng.randrange(256)]) & top


def mutate(rng: random.Random, data: bytes, lay: dict) -> bytes:
    out = bytearray(data)
    kind = rng.randrange(6)
    if kind == 0:                                   # truncation
        return bytes(out[:rng.randrange(len(out))])
    if kind == 1:                                   # one header field
        off, size = rng.choice(_EHDR_FIELDS[lay["bits"]])
    elif kind == 2:                                 # one section header field
        base = lay["shoff"] + lay["ent"] * rng.randrange(lay["nsec"])
        f, size = rng.choice(_SHDR_FIELDS[lay["bits"]])
        off = base + f
    else:                                           # byte flips in headers or tables
        if kind == 3:
            lo, n = 0, 64
        elif kind == 4:
            lo, n = lay["shoff"], lay["ent"] * lay["nsec"]
        else:
            lo, n = rng.choice(lay["tables"])
        for _ in range(rng.randint(1, 8)):
            if n:
                at = lo + rng.randrange(n)
                out[at] ^= 1 << rng.randrange(8)
        return bytes(out)
    old = int.from_bytes(out[off:off + size], "big")
    out[off:off + size] = _odd_value(rng, size, old).to_bytes(size, "big")
    return bytes(out)


def test_mutants_raise_only_elf_errors(tmp_path):
    need_toolchain("ppc64")
    need_toolchain("ppc32")
    from ppcftrace.elf import ELFError

    seeds = _seeds(tmp_path)
    layouts = [_layout(s) for s in seeds]
    for s in seeds:
        traverse(s)                                 # the seeds themselves read fully
    rng = random.Random(SEED)
    outcomes = {"ok": 0}
    slowest = 0.0
    with warnings.catch_warnings():
        warnings.simplefilter("error")              # a numpy overflow warning is a bug too
        for i in range(MUTANTS):
            k = rng.randrange(len(seeds))
            mutant = mutate(rng, seeds[k], layouts[k])
            start = time.perf_counter()
            try:
                traverse(mutant)
                outcomes["ok"] += 1
            except ELFError as exc:
                text = str(exc)
                assert text and "\n" not in text
                outcomes[type(exc).__name__] = outcomes.get(type(exc).__name__, 0) + 1
            except Exception as exc:                # noqa: BLE001 - that is the test
                path = tmp_path / f"mutant-{i}.o"
                path.write_bytes(mutant)
                pytest.fail(f"mutant {i} (seed {k}, saved to {path}): "
                            f"{type(exc).__name__}: {exc}")
            slowest = max(slowest, time.perf_counter() - start)
    assert slowest < 5, f"a mutant took {slowest:.1f} s"
    # the mutations really exercised both outcomes and several error kinds
    assert outcomes["ok"] > 20 and len(outcomes) >= 4, outcomes
