"""`ppcftrace boot`: boot the simulated machine, load modules, list the mcount records."""

from __future__ import annotations


def register(subparsers) -> None:
    from ppcftrace.cli import add_arch, parse_int

    p = subparsers.add_parser(
        "boot", help="boot the simulated kernel, load modules, list the mcount sites",
        description="Boot the simulated kernel, load each module as module_64.c / "
        "module_32.c do (stubs, PLT entries, restore_r2, the ftrace trampoline) and "
        "list every mcount call site with its two instruction words.")
    add_arch(p)
    p.add_argument("--module", action="append", default=[], metavar="OBJECT[:NAME]",
                   help="relocatable module object to load (repeatable); NAME defaults "
                        "to the file name without .o")
    p.add_argument("--json", action="store_true", help="print the machine as JSON")
    p.add_argument("--no-ftrace", action="store_true",
                   help="skip ftrace_init(): leave every site calling _mcount")
    p.add_argument("--synthetic", type=parse_int, metavar="N",
                   help="boot a synthetic kernel of N -pg functions plus two synthetic "
                        "modules instead of the fixtures, and time ftrace_init(), "
                        "enabling and disabling every site")
    p.set_defaults(run=run)


def split_module_arg(text: str) -> tuple[str, str | None]:
    """`path[:name]` → (path, name or None); a path that exists is taken whole."""
    import os

    if ":" in text and not os.path.exists(text):
        path, name = text.rsplit(":", 1)
        if name and "/" not in name:
            return path, name
    return text, None


def run(args) -> int:
    import json

    from ppcftrace.kernel import start_kernel

    if args.synthetic is not None:
        doc = synthetic_json(args.arch, args.synthetic, args.module)
        print(json.dumps(doc, indent=1) if args.json else synthetic_summary(doc))
        return 0
    # ftrace_init() turns every site into a nop ("nop"); --no-ftrace shows the
    # sites as linked and loaded (`bl _mcount`, "call")
    machine = start_kernel(args.arch, [split_module_arg(t) for t in args.module],
                           ftrace=not args.no_ftrace, cpu=False)
    doc = boot_json(machine)
    if args.json:
        print(json.dumps(doc, indent=1))
    else:
        print(summary(doc))
    return 0


#: functions in each of the two synthetic modules `--synthetic` loads
SYNTHETIC_MODULE_FUNCTIONS = 100


def synthetic_json(arch: str, n: int, module_args: list[str]) -> dict:
    """Boot a synthetic kernel of `n` functions and two modules; time the three phases.

    The machine and modules are built first, so the timings cover ftrace alone:
    ftrace_init() plus ftrace_init_module() (every site to a nop), enabling the
    function tracer (every site to a call) and disabling it again.
    """
    import time

    from ppcftrace.errors import PpcftraceError
    from ppcftrace.ftrace import Ftrace
    from ppcftrace.synthetic import synthetic_machine

    if module_args:
        raise PpcftraceError("--synthetic builds its own modules: drop --module")
    if n < 1:
        raise PpcftraceError(f"--synthetic: need at least 1 function, got {n}")
    machine = synthetic_machine(n, arch)
    for name in ("synmod_a", "synmod_b"):
        machine.add_module(name, SYNTHETIC_MODULE_FUNCTIONS)
    ftrace = Ftrace(machine)
    start = time.perf_counter()
    ftrace.ftrace_init()
    for mod in machine.modules:
        ftrace.ftrace_init_module(mod)
    converted = time.perf_counter()
    ftrace.current_tracer = "function"
    enabled = time.perf_counter()
    ftrace.current_tracer = "nop"
    disabled = time.perf_counter()
    if ftrace.ftrace_disabled:
        raise PpcftraceError("ftrace disabled itself: " + "; ".join(machine.log[-3:]))
    return {"arch": arch, "synthetic": n,
            "modules": [{"name": m.name, "base": _hex(m.base), "size": m.size,
                         "toc": _hex(m.arch.toc), "tramp": _hex(m.arch.tramp)}
                        for m in machine.modules],
            "record_count": len(ftrace.records),
            "log": list(machine.log),
            "timings": {"convert_nops_s": round(converted - start, 6),
                        "enable_all_s": round(enabled - converted, 6),
                        "disable_all_s": round(disabled - enabled, 6)}}


def synthetic_summary(doc: dict) -> str:
    t = doc["timings"]
    return "\n".join([*doc["log"],
                      f"{doc['arch']} synthetic kernel of {doc['synthetic']} functions, "
                      f"{len(doc['modules'])} modules: {doc['record_count']} records",
                      f"convert {t['convert_nops_s']:.3f} s, enable all {t['enable_all_s']:.3f} s, "
                      f"disable all {t['disable_all_s']:.3f} s"])


def _hex(value: int | None) -> str | None:
    return None if value is None else f"{value:#x}"


def _words(machine, address: int, n: int) -> list[str]:
    return [f"{machine.memory.read_u32(address + 4 * i):08x}" for i in range(n)]


#: the `state` a record shows, by `lab.sites` state: ftrace's two disabled forms are
#: both "nop"; a call of ftrace_caller (directly or through the trampoline) is "tracer"
BOOT_STATE = {"mcount": "call", "nop": "nop", "b+8": "nop", "ftrace": "tracer", "other": "other"}


def site_classifier(machine):
    """`state(ip, words)` for this machine's sites, by `lab.sites.classify_site` with
    every stub / PLT entry's current target read from memory."""
    from ppcftrace.lab.sites import classify_site, stub_target

    stubs = {s.address: stub_target(machine.memory, s.address, machine.arch)
             for m in machine.modules for s in m.arch.stubs}
    mcount, caller = machine.entry("_mcount"), machine.entry("ftrace_caller")

    def state(ip: int, words: tuple[int, int]) -> str:
        return BOOT_STATE[classify_site(words, ip, machine.arch, mcount=mcount,
                                        ftrace_caller=caller, stubs=stubs).state]
    return state


def records(machine) -> list[dict]:
    """One entry per mcount site: the kernel's `__mcount_loc`, then each module's."""
    from ppcftrace.module import module_lookup

    sites = [(ip, None) for ip in machine.mcount_sites if ip]
    for mod in machine.modules:
        sites += [(ip, mod) for ip in mod.mcount_sites]
    state = site_classifier(machine)
    out = []
    for ip, mod in sites:
        if mod is None:
            found = machine.kallsyms.lookup(ip)
            function = found[0] if found else None
        else:
            found = module_lookup(machine, ip)
            function = found[1] if found and found[1] else None
        words = (machine.memory.read_u32(ip), machine.memory.read_u32(ip + 4))
        out.append({"ip": _hex(ip), "function": function,
                    "module": mod.name if mod else None,
                    "state": state(ip, words),
                    "words": [f"{w:08x}" for w in words]})
    return out


def _kernel_symbols(machine) -> dict[str, str]:
    names = [".schedule", ".ftrace_caller", "._mcount", ".ftrace_stub", ".printk"] \
        if machine.arch == "ppc64" else ["schedule", "ftrace_caller", "_mcount",
                                         "ftrace_stub", "printk"]
    return {n: _hex(machine.kallsyms.address(n)) for n in names if n in machine.kallsyms}


def boot_json(machine) -> dict:
    """The `boot --json` document (README.md shows an example)."""
    base = min(r.start for r in machine.memory.regions if r.name.startswith("vmlinux"))
    mods = []
    for m in machine.modules:
        n = 7 if machine.arch == "ppc64" else 4
        mods.append({"name": m.name, "base": _hex(m.base), "size": m.size,
                     "toc": _hex(m.arch.toc), "tramp": _hex(m.arch.tramp),
                     "stubs": [{"address": _hex(s.address), "target": _hex(s.target),
                                "words": _words(machine, s.address, n)}
                               for s in m.arch.stubs]})
    recs = records(machine)
    return {"arch": machine.arch,
            "kernel": {"base": _hex(base), "toc": _hex(machine.toc),
                       "symbols": _kernel_symbols(machine)},
            "modules": mods, "records": recs, "record_count": len(recs)}


def summary(doc: dict) -> str:
    """The plain-text form of `boot_json`."""
    k = doc["kernel"]
    lines = [f"{doc['arch']} kernel at {k['base']}"
             + (f", TOC {k['toc']}" if k["toc"] else "")]
    kind = "stub" if doc["arch"] == "ppc64" else "PLT entry"
    for m in doc["modules"]:
        lines.append(f"module {m['name']}: {m['base']} ({m['size']} bytes)"
                     + (f", r2 {m['toc']}" if m["toc"] else "")
                     + f", tramp {m['tramp']}, {len(m['stubs'])} {kind}(s)")
        for s in m["stubs"]:
            lines.append(f"  {kind} {s['address']} -> {s['target']}")
    lines.append(f"{doc['record_count']} mcount record(s):")
    for r in doc["records"]:
        where = f"{r['function'] or '?'}" + (f" [{r['module']}]" if r["module"] else "")
        lines.append(f"  {r['ip']}  {' '.join(r['words'])}  {r['state']:<6} {where}")
    return "\n".join(lines)
