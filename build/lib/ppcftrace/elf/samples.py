"""Sample `-pg` objects: random C programs compiled by the PowerPC cross compilers.

For tests and benchmarks that compare our reader with GNU readelf/objdump on code
nobody wrote by hand. Programs mix global, static, weak, `noinline` and
`no_instrument_function` functions, and some put functions in other text sections,
so that call sites, containing functions and reference symbols all vary.
"""

from __future__ import annotations

import os
import random

from ppcftrace.toolchain import run, tool

__all__ = ["CFLAGS", "random_program", "compile_sources", "link_image"]

#: the kernel-like flags per architecture (ppc32 reserves r2 and has no FPU)
CFLAGS = {"ppc64": ["-O2", "-pg", "-fno-pie"],
          "ppc32": ["-O2", "-pg", "-fno-pie", "-ffixed-r2", "-msoft-float"]}

_SECTIONS = ('', '', '', '__attribute__((section(".sched.text"))) ',
             '__attribute__((section(".spinlock.text"))) ')


def random_program(rng: random.Random, nfuncs: int | None = None, prefix: str = "f") -> str:
    """C source of one random program (deterministic for a given `rng` state)."""
    n = nfuncs if nfuncs is not None else rng.randint(3, 14)
    lines = ["static int sink;", "extern int ext_func(int);"]
    for i in range(n):
        attrs = []
        storage = rng.choice(("", "", "static ", "static ")) if i else ""
        section = rng.choice(_SECTIONS) if i else ""
        # recordmcount.pl refuses a section whose only functions are weak: weak ones
        # stay in .text, where f0 is always a global, strong function
        if i and not storage and not section and rng.random() < 0.15:
            attrs.append("weak")
        if rng.random() < 0.6:
            attrs.append("noinline")
        if rng.random() < 0.15:
            attrs.append("no_instrument_function")
        attr = f"__attribute__(({', '.join(attrs)})) " if attrs else ""
        callee = f"{prefix}{rng.randrange(i)}(x + {i})" if i and rng.random() < 0.7 else "x"
        body = rng.choice((
            f"return {callee} * {rng.randint(2, 9)};",
            f"sink += {callee}; return sink;",
            f"if (x > {i}) return ext_func({callee}); return x;",
            f"int s = 0; for (int k = 0; k < x; k++) s += k ^ {i}; return s + {callee};",
        ))
        lines.append(f"{storage}{attr}{section}int {prefix}{i}(int x) {{ {body} }}")
    # keep statics alive (and not all inlined) by taking their addresses
    names = ", ".join(f"{prefix}{i}" for i in range(n))
    lines.append(f"int (*{prefix}_table[])(int) = {{ {names} }};")
    return "\n".join(lines) + "\n"


def compile_sources(sources: dict[str, str], arch: str, outdir: str,
                    extra: list[str] | None = None) -> dict[str, str]:
    """Compile {stem: C source} to objects in `outdir` with one gcc run; {stem: path}."""
    os.makedirs(outdir, exist_ok=True)
    for stem, src in sources.items():
        with open(os.path.join(outdir, stem + ".c"), "w") as f:
            f.write(src)
    if sources:
        run([tool(arch, "gcc"), *CFLAGS[arch], *(extra or []), "-c",
             *[stem + ".c" for stem in sources]], cwd=outdir)
    return {stem: os.path.join(outdir, stem + ".o") for stem in sources}


LINKER_SCRIPT = """\
SECTIONS
{
  . = %(base)#x;
  .text : { *(.text .text.* .sched.text .spinlock.text) }
  .opd : { *(.opd) }
  . = ALIGN(8);
  __mcount_loc : { __start_mcount_loc = .; *(__mcount_loc) __stop_mcount_loc = .; }
  .toc : { *(.got .toc) }
  .data : { *(.data .data.* .sdata .sdata.*) }
  .bss : { *(.bss .bss.* .sbss .sbss.*) }
  /DISCARD/ : { *(.eh_frame .note.GNU-stack .comment) }
}
"""

MCOUNT_C = "__attribute__((no_instrument_function)) void _mcount(void) { }\n" \
           "__attribute__((no_instrument_function)) int ext_func(int x) { return x; }\n"


def link_image(objects: list[str], arch: str, out: str, base: int = 0x10000000) -> str:
    """Link objects (already through recordmcount) with an `_mcount` into an image whose
    __mcount_loc lies between __start_mcount_loc and __stop_mcount_loc."""
    d = os.path.dirname(os.path.abspath(out))
    stem = os.path.splitext(os.path.basename(out))[0]
    lds = os.path.join(d, stem + ".lds")
    with open(lds, "w") as f:
        f.write(LINKER_SCRIPT % {"base": base})
    mc = compile_sources({stem + "_mcount": MCOUNT_C}, arch, d)[stem + "_mcount"]
    run([tool(arch, "ld"), "-T", lds, "-e", "0", "-o", out, *objects, mc])
    return out


def _cache_dir(key: str) -> str:
    import hashlib
    import tempfile

    digest = hashlib.sha256(key.encode()).hexdigest()[:16]
    return os.path.join(tempfile.gettempdir(), f"ppcftrace-samples-{digest}")


def corpus(arch: str, count: int = 20, seed: int = 2008) -> list[str]:
    """`count` random programs compiled for `arch` (every fourth with
    -ffunction-sections), cached in the temp directory by content; object paths."""
    rng = random.Random(f"{seed}-{arch}")
    sources = {f"p{i:02d}": random_program(rng, prefix=f"p{i:02d}_") for i in range(count)}
    split = {k: v for i, (k, v) in enumerate(sources.items()) if i % 4 == 3}
    plain = {k: v for k, v in sources.items() if k not in split}
    key = repr((arch, CFLAGS[arch], sorted(sources.items()), tool(arch, "gcc")))
    outdir = _cache_dir(key)
    paths = {stem: os.path.join(outdir, stem + ".o") for stem in sources}
    if not all(os.path.exists(p) for p in paths.values()):
        tmp = outdir + f".tmp{os.getpid()}"
        compile_sources(plain, arch, tmp)
        compile_sources(split, arch, tmp, ["-ffunction-sections"])
        try:
            os.rename(tmp, outdir)
        except OSError:       # another process built it first
            import shutil
            shutil.rmtree(tmp, ignore_errors=True)
    return [paths[stem] for stem in sources]
