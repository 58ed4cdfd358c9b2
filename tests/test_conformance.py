"""The conformance suite: the reference and the appendix's port pass, every seeded bug
fails in the scenario meant to catch it with a reason naming the problem, and nothing
a port does crashes the suite."""

from __future__ import annotations

import errno
import sys
import textwrap

import pytest

import ppcftrace.check.conformance as conformance_module
from ppcftrace.check.conformance import ConformanceReport, conformance, main
from ppcftrace.check.scenarios import SCENARIOS
from ppcftrace.ftrace import arch as reference_arch
from ppcftrace.solutions.bugs import BUGS
from ppcftrace.solutions.port import Port

ARCHES = ("ppc64", "ppc32")


@pytest.mark.parametrize("arch", ARCHES)
@pytest.mark.parametrize("impl", [reference_arch, Port()], ids=["reference", "port"])
def test_correct_ports_pass(impl, arch):
    report = conformance(impl, arch)
    assert report, str(report)
    assert [r.exercise for r in report.results] == list(SCENARIOS)
    assert report.failed == []


@pytest.mark.parametrize("name", sorted(BUGS))
def test_seeded_bug_fails_its_scenario(name):
    bug = BUGS[name]
    report = conformance(bug.cls, bug.arch)
    assert not report
    assert bug.scenario in report.failed, str(report)
    result = report[bug.scenario]
    reason = f"{result.message} {result.hint}"
    for word in bug.words:
        assert word in reason, reason
    if name != "two nops":       # two nops also breaks every step comparing b .+8
        assert report.failed == [bug.scenario], str(report)


def test_two_nops_is_caught_by_the_race_on_the_cpu():
    report = conformance(BUGS["two nops"].cls, "ppc64", scenarios=["race"])
    message = report["race"].message
    assert "`nop` (60000000); `nop` (60000000)" in message
    assert "ld r2,40(r1)" in message


def test_ppc32_only_bugs_pass_where_they_do_not_apply():
    # PPC32 has no TOC restore: neither the missing ld check nor two nops matter there
    for name in ("no ld r2 check", "two nops"):
        assert conformance(BUGS[name].cls, "ppc32"), name


def test_the_race_does_not_apply_on_ppc32():
    report = conformance(Port(), "ppc32", scenarios=["race"])
    assert report and "race" in report.skipped and "n/a" in str(report)


class Raising(Port):
    def ftrace_make_call(self, ctx, rec, addr):
        return 1 // 0


class ReturnsText(Port):
    def ftrace_make_nop(self, ctx, mod, rec, addr):
        return "done"


class LeaksProbeFault(Port):
    def ftrace_modify_code(self, ctx, ip, old, new):
        self.patch_unchecked(ctx, ip, new)
        return 0

    def patch_unchecked(self, ctx, ip, new):
        from ppcftrace.maccess import probe_kernel_write
        probe_kernel_write(ctx.memory, ip, new.to_bytes(4, "big"))


class Spins(Port):
    """Enables a PPC64 module site as `b .` (a branch to itself)."""

    def patch(self, ctx, ip, words):
        if len(words) == 2 and words[0] != 0x60000000:
            words = [0x48000000, words[1]]
        return super().patch(ctx, ip, words)


class LoopsForever(Port):
    def ftrace_make_nop(self, ctx, mod, rec, addr):
        while True:
            pass


def test_exceptions_in_the_port_are_reported_per_scenario():
    report = conformance(Raising, "ppc64")
    assert not report and "boot" not in report.failed
    assert "ZeroDivisionError" in report["modules"].message
    assert "test_conformance.py, line" in report["modules"].message


def test_a_return_value_that_is_not_an_errno_is_reported():
    report = conformance(ReturnsText, "ppc32", scenarios=["boot"])
    assert "returned 'done'" in report["boot"].message


def test_an_escaping_probe_fault_is_reported():
    report = conformance(LeaksProbeFault, "ppc32", scenarios=["faults"])
    assert "let ProbeFault escape" in report["faults"].message
    assert "-EPERM" in report["faults"].message


def test_code_that_never_returns_hits_the_instruction_limit():
    report = conformance(Spins, "ppc64", scenarios=["race"])
    assert "instructions without returning" in report["race"].message


def test_a_python_loop_hits_the_time_limit():
    report = conformance(LoopsForever, "ppc32", scenarios=["boot"], time_limit_s=0.5)
    assert "took more than 0.5 s" in report["boot"].message


def test_a_port_without_hooks():
    report = conformance(object(), "ppc64", scenarios=["boot", "faults"])
    assert report.failed == ["boot", "faults"]
    assert "no ftrace_make_nop()" in report["boot"].message


def test_bad_arguments():
    from ppcftrace.errors import PpcftraceError
    with pytest.raises(PpcftraceError, match="unknown arch"):
        conformance(Port(), "x86")
    with pytest.raises(PpcftraceError, match="unknown scenario"):
        conformance(Port(), "ppc64", scenarios=["boot", "nope"])


def test_report_shows_in_a_terminal_and_in_jupyter():
    report = conformance(BUGS["no icache flush"].cls, "ppc32")
    text = str(report)
    assert text.splitlines()[0] == "NoFlush on ppc32: 5 of 6 scenarios pass"
    assert "FAIL icache" in text and "PASS boot" in text and "Hint:" in text
    page = report._repr_html_()
    assert page.count("<tr>") == 1 + len(SCENARIOS) and "flush_icache_range" in page
    assert isinstance(report, ConformanceReport) and not report


def test_the_module_is_callable():
    report = conformance_module(Port(), "ppc32", scenarios=["boot"])
    assert report and str(report) == str(conformance(Port(), "ppc32", scenarios=["boot"]))


def test_a_port_can_return_errnos_or_raise():
    from ppcftrace.ftrace import FtraceError

    class Raises(Port):
        def ftrace_modify_code(self, ctx, ip, old, new):
            ret = super().ftrace_modify_code(ctx, ip, old, new)
            if ret:
                raise FtraceError(-ret, "refused")
            return 0

    assert conformance(Raises, "ppc64", scenarios=["faults"])

    # the suite maps both forms to the same errno: a wrong errno raised reads like one returned
    def swapped(ret):
        return -errno.EFAULT if ret == -errno.EPERM else ret

    class RaisesSwapped(Port):
        def ftrace_modify_code(self, ctx, ip, old, new):
            ret = swapped(super().ftrace_modify_code(ctx, ip, old, new))
            if ret:
                raise FtraceError(-ret, "refused")
            return 0

    class ReturnsSwapped(Port):
        def ftrace_modify_code(self, ctx, ip, old, new):
            return swapped(super().ftrace_modify_code(ctx, ip, old, new))

    raised = conformance(RaisesSwapped, "ppc64", scenarios=["faults"])
    returned = conformance(ReturnsSwapped, "ppc64", scenarios=["faults"])
    assert not raised and not returned
    assert "returned -EFAULT (reading faulted), expected -EPERM" in raised["faults"].message
    assert raised["faults"].message == returned["faults"].message


def test_cli(tmp_path, capsys):
    good = tmp_path / "student.py"
    good.write_text(textwrap.dedent("""
        from ppcftrace.solutions.port import Port
        _port = Port()
        def ftrace_make_nop(ctx, mod, rec, addr):
            return _port.ftrace_make_nop(ctx, mod, rec, addr)
        def ftrace_make_call(ctx, rec, addr):
            return _port.ftrace_make_call(ctx, rec, addr)
    """))
    assert main([str(good), "--arch", "ppc32"]) == 0
    out = capsys.readouterr().out
    assert "student on ppc32: 6 of 6 scenarios pass" in out
    assert main(["ppcftrace.solutions.bugs:TwoNops", "--arch", "ppc64", "--scenario", "race"]) == 1
    assert "FAIL race" in capsys.readouterr().out
    assert main([str(tmp_path / "missing.py")]) == 2
    assert "no such file" in capsys.readouterr().err
    broken = tmp_path / "broken.py"
    broken.write_text("def ftrace_make_nop(:\n")
    assert main([str(broken)]) == 2
    assert "cannot import it: SyntaxError" in capsys.readouterr().err


def test_cli_as_a_module(tmp_path):
    import subprocess
    run = subprocess.run([sys.executable, "-m", "ppcftrace.check.conformance",
                          "ppcftrace.solutions.bugs:WrongMask", "--arch", "ppc64"],
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 1, run.stderr
    assert "FAIL faults" in run.stdout and "is_bl_op" in run.stdout
    assert "RuntimeWarning" not in run.stderr


def test_an_uncaught_bug_shows_the_suites_limit():
    # The appendix's Exercise 4 solution: wrong by the 2008 rules, passes the suite.
    from ppcftrace.isa import assemble_lines
    from ppcftrace.solutions.bugs import LooseMtctr
    entry_r12_mtctr = assemble_lines("lis r11,0; addi r11,r11,0; mtctr r12; bctr", arch="ppc32")
    assert LooseMtctr().is_plt(entry_r12_mtctr) and not Port().is_plt(entry_r12_mtctr)
    assert conformance(LooseMtctr, "ppc32") and conformance(LooseMtctr, "ppc64")
