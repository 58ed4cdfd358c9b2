"""`ppcftrace trace`: trace one call of a kernel or module function on the interpreter."""

from __future__ import annotations


def register(subparsers) -> None:
    from ppcftrace.cli import add_arch, parse_int

    p = subparsers.add_parser(
        "trace", help="run a function with the function tracer on and print the trace",
        description="Boot, load the modules, apply the filters, select the tracer "
        "(enabling patches every selected site through ftrace_make_call), call SYMBOL "
        "on the interpreter and print the trace, the kernel log and the return value.")
    add_arch(p)
    p.add_argument("--module", action="append", default=[], metavar="OBJECT[:NAME]",
                   help="relocatable module object to load (repeatable)")
    p.add_argument("--filter", action="append", default=[], metavar="GLOB",
                   help="set_ftrace_filter pattern (repeatable; foo*, *foo, *foo*, !foo)")
    p.add_argument("--notrace", action="append", default=[], metavar="GLOB",
                   help="set_ftrace_notrace pattern (repeatable)")
    p.add_argument("--match-adjust", action="store_true",
                   help="let `schedule` match `.schedule` (later kernels' "
                        "arch_ftrace_match_adjust); 2008 needed the dot or a leading *")
    p.add_argument("--tracer", choices=("function", "nop"), default="function",
                   help="current_tracer (default: function; nop patches nothing)")
    p.add_argument("--call", required=True, metavar="SYMBOL",
                   help="function to run: a module's or the kernel's (dot optional)")
    p.add_argument("--args", nargs="*", type=parse_int, default=[], metavar="N",
                   help="integer arguments, in r3, r4, ...")
    p.add_argument("--max-instructions", type=parse_int, default=5_000_000, metavar="N",
                   help="stop with an error after N instructions (default 5,000,000)")
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    p.set_defaults(run=run)


def run(args) -> int:
    import json

    from ppcftrace.cli.boot import split_module_arg
    from ppcftrace.errors import PpcftraceError
    from ppcftrace.kernel import start_kernel

    if len(args.args) > 8:
        raise PpcftraceError(f"--args: at most 8 register arguments (r3-r10), got {len(args.args)}")
    machine = start_kernel(args.arch, [split_module_arg(t) for t in args.module],
                           match_adjust=args.match_adjust)
    ftrace = machine.ftrace
    for i, pattern in enumerate(args.filter):
        ftrace.set_ftrace_filter(pattern, append=i > 0)
    for i, pattern in enumerate(args.notrace):
        ftrace.set_ftrace_notrace(pattern, append=i > 0)
    ftrace.current_tracer = args.tracer

    entry, toc, _ = machine.resolve_function(args.call)
    cpu = machine.cpu
    before = cpu.instructions
    r3 = cpu.call(entry, *args.args, toc=toc, max_instructions=args.max_instructions)
    doc = {
        "return": _signed(r3 or 0, 64 if args.arch == "ppc64" else 32),
        "trace": [{"function": f, "parent": p} for f, p in ftrace.buffer.calls()],
        "log": list(machine.log),
        "instructions": cpu.instructions - before,
    }
    if args.json:
        print(json.dumps(doc, indent=1))
    else:
        print(ftrace.trace(), end="")
        print("\n# kernel log")
        print("\n".join(doc["log"]))
        print(f"\n{args.call} returned {doc['return']} after {doc['instructions']} instructions")
    return 0


def _signed(value: int, bits: int) -> int:
    value &= (1 << bits) - 1
    return value - (1 << bits) if value >> (bits - 1) else value
