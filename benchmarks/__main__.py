"""`make bench`: run every benchmarks/bench_*.py module's `main()` in turn.

Each benchmark prints its figures and returns True when it meets its target.
Exit status 1 when any target is missed.
"""

from __future__ import annotations

import importlib
import pathlib
import sys


def main(argv: list[str]) -> int:
    names = sorted(p.stem for p in pathlib.Path(__file__).parent.glob("bench_*.py"))
    if argv:
        names = [n for n in names if any(a in n for a in argv)]
    failed = []
    for name in names:
        print(f"== {name}")
        ok = importlib.import_module(f"benchmarks.{name}").main()
        if ok is False:
            failed.append(name)
        print()
    print("all targets met" if not failed else f"targets missed: {', '.join(failed)}")
    return 1 if failed else 0


sys.exit(main(sys.argv[1:]))
