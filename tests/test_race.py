"""The two-nop race and the irqsoff model, run on the interpreter.

The TOC values are checked against the ELF files as GNU readelf shows them (kernel:
.got + 0x8000; the disabled words against GNU as); the outcomes are what the
interpreter does with the real fixture code.
"""

from __future__ import annotations

import io
import re

import pytest

from conftest import need_toolchain
from ppcftrace import isa
from ppcftrace.irqsoff import Event, critical_sections, idle_events, max_irqsoff
from ppcftrace.race import run_race
from ppcftrace.viz.irqsoff import irqsoff_figure
from ppcftrace.viz.race import r2_timeline_figure
from ppcftrace.viz.sitewords import site_words_figure


@pytest.fixture(scope="module")
def races():
    return {p: run_race(p) for p in ("b+8", "two-nops")}


def test_b8_task_gets_its_toc_back_and_prints(races):
    r = races["b+8"]
    assert r.outcome == "returned" and r.ok
    assert r.r2_at_stop == r.kernel_toc            # the stub switched to the kernel's TOC
    assert r.r2_after_site == r.module_toc         # ld r2,40(r1) brought it back
    assert r.words_disabled == (isa.PPC_INST_B_8, isa.PPC_INST_LD_TOC)
    assert r.printed == ["racemod: back from schedule, r2 intact"]


def test_two_nops_task_runs_on_with_the_kernel_toc(races):
    r = races["two-nops"]
    assert r.words_disabled == (isa.PPC_INST_NOP, isa.PPC_INST_NOP)
    assert r.r2_after_site == r.kernel_toc
    assert r.outcome == "fault" and not r.printed and r.error is not None


def test_tocs_match_readelf(races):
    need_toolchain("ppc64")
    from ppcftrace.machine import fixture_path
    from ppcftrace.toolchain import tool, run
    out = run([tool("ppc64", "readelf"), "-SW", str(fixture_path("vmlinux"))])
    text = out if isinstance(out, str) else out.stdout
    got = re.search(r"\]\s+\.got\s+PROGBITS\s+([0-9a-f]+)", text)
    assert races["b+8"].kernel_toc == int(got.group(1), 16) + 0x8000


def test_disabled_words_are_what_gnu_as_assembles():
    need_toolchain("ppc64")
    from ppcftrace.toolchain import gnu_assemble
    data = gnu_assemble("b .+8\nld r2,40(r1)", "ppc64")
    assert run_race("b+8").words_disabled == (int.from_bytes(data[:4], "big"),
                                              int.from_bytes(data[4:], "big"))


def test_ppc32_has_one_word_and_no_toc_to_lose():
    for policy in ("b+8", "two-nops"):
        r = run_race(policy, "ppc32")
        assert r.ok and r.words_disabled[0] == isa.PPC_INST_NOP
        assert r.words_disabled[1] == r.words_traced[1]   # the word after is not touched


def test_what_if_sequences():
    nop_ld = (isa.PPC_INST_NOP, isa.PPC_INST_LD_TOC)
    assert run_race(disabled=nop_ld).ok                    # the returning task is fine ...
    assert not run_race(disabled=nop_ld, preempt=False).ok  # ... a new call loads junk r2
    fresh = run_race("two-nops", preempt=False)
    assert fresh.ok and fresh.r2_after_site == fresh.module_toc


def test_steps_record_r2_changes(races):
    steps = races["b+8"].steps
    assert steps[0].r2 == races["b+8"].module_toc
    assert any(s.where.startswith("stub") for s in steps)
    assert [s.index for s in steps] == list(range(len(steps)))


# --- irqsoff ----------------------------------------------------------------------------

@pytest.mark.parametrize("arch", ["ppc64", "ppc32"])
def test_idle_loop_brackets_the_nap(arch):
    events = idle_events(arch, sleep=10_000)
    kinds = [e.kind for e in events]
    assert kinds == ["irqs_off", "stop", "start", "irqs_on"]
    assert max_irqsoff(events, honour_stop=False) > 10_000 > max_irqsoff(events)
    assert len(critical_sections(events)) == 2


def test_critical_sections_rules():
    ev = [Event(0, "start"), Event(5, "irqs_off"), Event(9, "stop"), Event(12, "start"),
          Event(20, "irqs_on"), Event(30, "stop")]
    assert critical_sections(ev) == [(5, 9), (12, 20)]
    assert critical_sections(ev, honour_stop=False) == [(5, 20)]
    with pytest.raises(ValueError):
        critical_sections([Event(0, "nap")])


# --- figures ------------------------------------------------------------------------------

def _png(fig) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    assert fig.get_facecolor()[3] == 1.0
    return buf.getvalue()


def test_figures_render(races):
    assert _png(r2_timeline_figure(list(races.values()), list(races))).startswith(b"\x89PNG")
    assert _png(irqsoff_figure(idle_events(sleep=1000))).startswith(b"\x89PNG")
    r = races["b+8"]
    fig = site_words_figure(r.site, [("enabled", r.words_traced), ("disabled", r.words_disabled)])
    texts = [t.get_text() for t in fig.axes[0].texts]
    assert "48000008" in texts and "e8410028" in texts and "ld r2, 0x28(r1)" in texts
    assert _png(fig).startswith(b"\x89PNG")
    with pytest.raises(ValueError):
        r2_timeline_figure([r], [])


def test_symbolizer_names_stubs_modules_and_kernel(races):
    from ppcftrace.kernel import start_kernel
    from ppcftrace.machine import fixture_path
    from ppcftrace.viz.names import symbolizer
    for arch in ("ppc64", "ppc32"):
        m = start_kernel(arch, modules=[fixture_path("racemod.o", arch)], cpu=False)
        mod, name = m.modules[0], symbolizer(m)
        dot, kind = ("." , "stub") if arch == "ppc64" else ("", "plt")
        assert name(mod.arch.tramp) == f"{kind}\u2192{dot}ftrace_caller"
        assert name(mod.arch.tramp + 4) == f"{kind}\u2192{dot}ftrace_caller+0x4"
        assert name(mod.symbols[dot + "racemod_yield"] + 8) == f"{dot}racemod_yield+0x8"
        assert name(m.entry("schedule")) == f"{dot}schedule"
        assert name(0x10) is None


def test_race_run_phase_by_phase():
    from ppcftrace.errors import PpcftraceError
    from ppcftrace.race import RaceError, RaceRun
    run = RaceRun("two-nops")
    with pytest.raises(RaceError):
        run.resume()                      # not started
    run.start()
    assert run.phase == "running" and run.words_traced[1] == isa.PPC_INST_LD_TOC
    assert run.run_to_stop() and run.phase == "stopped"
    assert run.setup.machine.cpu.pc == run.setup.stop
    with pytest.raises(PpcftraceError):
        run.result()                      # not done
    run.disable((isa.PPC_INST_B_8, isa.PPC_INST_LD_TOC))   # rescue it by hand
    run.resume()
    res = run.result()
    assert res.ok and res.policy == "custom" and res.r2_after_site == res.module_toc
