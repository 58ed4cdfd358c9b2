"""MemoryMap responsiveness: toggle tracing of one function and redraw, on 1,000 sites.

A synthetic PPC64 kernel (`ppcftrace.synthetic`) of 900 traced functions plus a
module of 100 (its sites call through stubs) gives 1,000 call sites. Toggling
tracing for one function in the MemoryMap widget (the filter change through ftrace,
re-reading every site, redrawing the map's SVG and the word views) must take at most
TARGET_MS milliseconds (median of REPEATS toggles). The time of the redraw alone
(the same map and word views, nothing changed) is measured in the same run and the
ratio printed.
"""

from __future__ import annotations

import statistics
import time

from ppcftrace.kernel import start_kernel

KERNEL_FUNCS, MODULE_FUNCS = 900, 100
TARGET_MS = 100.0
REPEATS = 21


def _machine():
    return start_kernel("ppc64", modules=[(MODULE_FUNCS, "bench")], synthetic=KERNEL_FUNCS, cpu=False)


def measure() -> dict[str, float]:
    """Median milliseconds of a toggle (with redraw) and of a redraw alone."""
    from ppcftrace.widgets import MemoryMap

    m = _machine()
    assert len(m.ftrace.records) == KERNEL_FUNCS + MODULE_FUNCS
    lab = MemoryMap(m, site="func_450")
    names = ["func_450", "bench_func_42", "func_7"]
    toggles, renders = [], []
    for i in range(REPEATS):
        lab.site.value = names[i % len(names)]
        start = time.perf_counter()
        lab.toggle_tracing()
        toggles.append(time.perf_counter() - start)
        assert "done" in lab.message.value, lab.message.value
        start = time.perf_counter()
        lab.render()
        renders.append(time.perf_counter() - start)
    return {"toggle": statistics.median(toggles) * 1e3, "render": statistics.median(renders) * 1e3,
            "worst": max(toggles) * 1e3, "svg_bytes": len(lab.view.value)}


def main() -> bool:
    r = measure()
    ok = r["toggle"] <= TARGET_MS
    print(f"MemoryMap, {KERNEL_FUNCS + MODULE_FUNCS} sites: toggle tracing + redraw "
          f"{r['toggle']:.1f} ms median (worst {r['worst']:.1f} ms), redraw alone {r['render']:.1f} ms "
          f"(x{r['toggle'] / r['render']:.2f}); map {r['svg_bytes'] // 1024} KiB of HTML  "
          f"{'ok' if ok else 'MISSED'} (target {TARGET_MS:g} ms)")
    return ok


if __name__ == "__main__":
    raise SystemExit(0 if main() else 1)
