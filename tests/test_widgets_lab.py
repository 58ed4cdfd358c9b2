"""The lab widgets without Jupyter: set fields, press buttons, read the HTML; bad input
is an inline message, never an exception; each has a static rendering."""

from __future__ import annotations

import html
import re

import ipywidgets  # noqa: F401  (requirements.txt: missing means broken, not skipped)
import pytest

from ppcftrace.kernel import start_kernel
from ppcftrace.machine import fixture_path
from ppcftrace.widgets import CpuStepper, MemoryMap, PatchBench, RaceLab


@pytest.fixture
def m():
    return start_kernel("ppc64", modules=[fixture_path("hmod.o")])


def _alert(widget) -> str:
    return html.unescape(re.sub("<[^>]+>", "", widget.message.value))


def test_memory_map_toggle_undo_and_bad_input(m):
    lab = MemoryMap(m, site="hmod_hello")
    ip = lab.selected
    assert ip == next(r.ip for r in m.ftrace.records if m.ftrace.rec_name(r) == ".hmod_hello")
    assert "b .+8" in lab.view.value and f'data-addr="{ip:#x}"' in lab.words.value
    lab.toggle.click()
    assert "trace .hmod_hello: done" in _alert(lab)
    assert m.ftrace.enabled_functions() == [".hmod_hello"]
    assert "call ftrace_caller" in lab.view.value
    assert f'data-addr="{ip:#x}" data-state="changed"' in lab.words.value
    assert "stub 0x" in lab.words.value                  # the trampoline's words shown
    lab.undo_button.click()
    assert m.ftrace.enabled_functions() == [] and "undo" in _alert(lab)
    lab.undo_button.click()
    assert "nothing to undo" in _alert(lab)
    lab.site.value = "no_such_function"
    assert "no traced function" in _alert(lab) and lab.selected is None
    lab.toggle.click()
    assert "pick a site first" in _alert(lab)
    lab.zoom_field.value = "nowhere"
    assert "nothing called 'nowhere'" in _alert(lab)
    lab.zoom_field.value = "hmod"
    assert lab.zoom == (m.modules[0].base, m.modules[0].base + m.modules[0].size)


def test_patch_bench_checks_and_injected_faults(m):
    bench = PatchBench(m, site="hmod_hello", operation="make_call")
    assert bench.output.value.count('data-status="pass"') == 7
    bench.corrupt_button = bench.inject[0]
    bench.corrupt_button.click()
    bench.buttons[0].click()                             # ftrace_make_nop
    html = bench.output.value
    assert html.count('data-status="fail"') == 1 and "-EINVAL (22)" in html
    assert "addr does not match c0de" in html
    bench.buttons[3].click()                             # undo the corruption
    bench.inject[1].click()                              # read-only module
    bench.buttons[0].click()
    assert "-EPERM (1)" in bench.output.value
    bench.site.value = "0xzz"
    bench.buttons[0].click()
    assert "no traced function" in _alert(bench)
    bench.site.value = "schedule"
    bench.inject[0].click()
    assert "does not call through a stub" in _alert(bench)
    bench.filter.value = "*sched*"
    bench.buttons[2].click()
    assert ".schedule" in m.ftrace.enabled_functions() and "ftrace_make_call" in bench.output.value


def test_cpu_stepper_steps_and_reports_bad_input(m):
    m.ftrace.set_ftrace_filter(".hmod_hello")
    m.ftrace.current_tracer = "function"
    st = CpuStepper(m, "hmod_hello", "world", steps=7)
    assert "stub\u2192.ftrace_caller" in st.output.value and "hmod TOC" in st.output.value
    assert 'data-state="current"' in st.output.value
    st.controls[3].click()                               # out of the stub and ftrace_caller
    assert "hmod_hello+0x1c" in st.output.value          # back at the ld r2,40(r1)
    st.controls[3].click()                               # out of hmod_hello
    assert "returned r3 = 0x2a" in st.output.value and "the call has returned" in _alert(st)
    st.controls[1].click()
    assert "the call has returned" in _alert(st)
    st.function.value = "nope"
    st.controls[0].click()
    assert "no function 'nope'" in _alert(st)
    st.function.value = "hmod_hello"
    st.args.value = '"unclosed'
    st.controls[0].click()
    assert "No closing quotation" in _alert(st)
    st.controls[1].click()
    assert "start a call first" in _alert(st)
    st.args.value = "world"
    st.controls[0].click()
    st.breakpoint.value = "hmod_compare+0x4"
    st.controls[5].click()
    assert "breakpoint set at .hmod_compare+0x4" in _alert(st)
    st.controls[4].click()
    assert "stopped at a breakpoint" in _alert(st)
    st.breakpoint.value = "0xgg"
    st.controls[5].click()
    assert "no function '0xgg'" in _alert(st)


def test_race_lab_policies_and_preemption_point():
    lab = RaceLab(policy="two-nops")
    assert lab.window[0] <= lab.at.value <= lab.window[1]
    assert "crashed" in lab.output.value and "kernel TOC" in lab.output.value
    lab.policy.value = "b .+8 (merged)"
    assert "returned and printed its banner" in lab.output.value and "module TOC" in lab.output.value
    lab.policy.value = "two nops (first posting)"
    lab.at.value = lab.window[1] + 1
    assert "outside the traced call" in lab.output.value and "banner" in lab.output.value
    lab.preempt.value = False
    assert "never preempted" in lab.output.value


@pytest.mark.parametrize("make", [
    lambda m: MemoryMap(m, site="hmod_hello"),
    lambda m: PatchBench(m, site="hmod_hello", operation="make_call"),
    lambda m: CpuStepper(m, steps=3),
    lambda m: RaceLab(),
])
def test_static_html_is_the_initial_state(m, make):
    w = make(m)
    html = w.static_html(title="a <title>")
    assert "a &lt;title&gt;" in html and "<script" not in html and len(html) > 500
    assert w._repr_html_() == w.static_html()
    bundle = w._repr_mimebundle_()
    assert "application/vnd.jupyter.widget-view+json" in bundle and bundle["text/html"] == w.static_html()
    for control in w.widget.children:
        if hasattr(control, "continuous_update") and control.__class__.__name__ == "Text":
            assert control.continuous_update is False and control.description


@pytest.mark.parametrize("text", ["", " ", "!", "*", "0x", "-4", "0xffffffffffffffffff", "a b c",
                                  "'", "\u00e9t\u00e9", "hmod_hello+", "+0x4", ".", "[", "\\"])
def test_any_text_in_any_field_never_raises(m, text):
    lab, bench, st = MemoryMap(m, site="hmod_hello"), PatchBench(m, site="hmod_hello"), CpuStepper(m)
    for field in (lab.site, lab.zoom_field):
        field.value = text
    lab.toggle.click()
    bench.site.value = bench.filter.value = text
    for b in bench.buttons + bench.inject:
        b.click()
    st.breakpoint.value = text
    st.controls[5].click()
    st.function.value, st.args.value = text, text
    for b in st.controls:
        b.click()
