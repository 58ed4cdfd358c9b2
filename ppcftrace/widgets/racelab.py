"""RaceLab: Chapter 8's two-nop race, with the preemption point and the policy chosen by hand.

A thin view over `lab.preempt`: the traced run of `racemod_yield()` as a list of
instructions with r2 before each (module TOC or kernel TOC), a "preempt before
instruction k" slider, the policy (`b .+8`, merged; two nops, the first posting) and
what became of the task.
"""

from __future__ import annotations

from ppcftrace.errors import PpcftraceError
from ppcftrace.lab.preempt import in_window, run_preempted, traced_path
from ppcftrace.race import RaceResult, setup_race
from ppcftrace.viz import style
from ppcftrace.viz.words import words_html
from ppcftrace.widgets._view import StaticFallback, message_html, snapshot

__all__ = ["RaceLab", "race_html"]

POLICIES = {"b .+8 (merged)": "b+8", "two nops (first posting)": "two-nops"}


def _toc_name(result: RaceResult, r2: int | None) -> str:
    if r2 is None:
        return "never reached"
    if r2 == result.module_toc:
        return f"{r2:#x} (module TOC)"
    if r2 == result.kernel_toc:
        return f"{r2:#x} (kernel TOC)"
    return f"{r2:#x}"


def race_html(result: RaceResult, at: int | None, window: bool, context: int = 6) -> str:
    """Outcome, the site's words as traced and after disabling, and the instructions
    around the preemption point with r2 before each."""
    esc = style.html_escape
    good = result.outcome == "returned" and result.ok
    colour = style.OK if good else style.ERROR
    where = "never preempted" if at is None else (
        f"preempted before instruction {at} ("
        + ("inside the traced call" if window else "outside the traced call") + ")")
    if result.outcome == "fault":
        what = f"the task crashed: {result.error}"
    elif good:
        what = "the task returned and printed its banner"
    else:
        what = "the task returned without its banner"
    head = (f'<div role="status"><strong>policy {esc(result.policy)}</strong>, {esc(where)}: '
            f'<span style="color:{colour}"><strong>{esc(what)}</strong></span></div>'
            f"<div>r2 when the task came back past the site: "
            f"{style.html_code(_toc_name(result, result.r2_after_site))}</div>")
    names = {s.pc: s.where for s in result.steps}   # branch targets named as the run saw them
    changed = {result.site + 4 * i for i in range(2)
               if result.words_traced[i] != result.words_disabled[i]}
    traced = words_html(list(result.words_traced), result.site, result.arch,
                        symbolize=names.get, caption="site while traced")
    disabled = words_html(list(result.words_disabled), result.site, result.arch,
                          symbolize=names.get, changed=changed,
                          caption="site after tracing was disabled")
    site_words = (f'<div style="display:flex;gap:12px;flex-wrap:wrap"><div>{traced}</div>'
                  f"<div>{disabled}</div></div>")
    lo = max(0, (at or 0) - context)
    rows = []
    for s in result.steps[lo:(at or 0) + context]:
        mark = "&#9654; preempted here" if s.index == at else ""
        bg = "#cfe3fa" if s.index == at else style.BACKGROUND
        rows.append(f'<tr style="background:{bg}"><td style="padding:0 6px">{s.index}</td>'
                    f'<td style="padding:0 6px;font-family:monospace">{s.pc:x}</td>'
                    f'<td style="padding:0 6px">{esc(s.where)}</td>'
                    f'<td style="padding:0 6px;font-family:monospace">{esc(_toc_name(result, s.r2))}</td>'
                    f"<td>{mark}</td></tr>")
    table = (f'<table style="{style.BOX_STYLE};border-collapse:collapse;font-size:12px">'
             f'<caption style="caption-side:top;text-align:left;color:{style.INK}">instructions '
             f"around the preemption point (r2 before each)</caption><tbody>{''.join(rows)}</tbody></table>")
    printed = "".join(f"{esc(line)}\n" for line in result.printed)
    return (f'<div style="{style.BOX_STYLE}">{head}{site_words}{table}'
            + (f'<pre style="{style.BOX_STYLE};margin:4px 0">{printed}</pre>' if printed else "")
            + "</div>")


class RaceLab(StaticFallback):
    """The policy, a "preempt before instruction" slider, and the outcome."""

    def __init__(self, policy: str = "two-nops", at: int | None = None, arch: str = "ppc64"):
        import ipywidgets as w

        if arch != "ppc64":
            raise PpcftraceError("the two-nop race is a PPC64 module problem (PPC32 sites are one word)")
        self.arch = arch
        self.path = traced_path(arch)
        self.site = setup_race(arch).site
        window = [s.index for s in self.path if in_window(self.path, self.site, s.index)]
        self.window = (window[0], window[-1]) if window else (0, 0)
        default = at if at is not None else (self.window[0] + self.window[1]) // 2
        label = {v: k for k, v in POLICIES.items()}
        self.policy = w.ToggleButtons(options=list(POLICIES), value=label.get(policy, "b .+8 (merged)"),
                                      description="Policy", tooltips=["Milton Miller's fix: b .+8, "
                                      "keep ld r2,40(r1)", "the first version: nop; nop"])
        self.preempt = w.Checkbox(value=True, description="preempt the task", indent=False)
        self.at = w.IntSlider(value=min(max(default, 0), len(self.path) - 1), min=0,
                              max=len(self.path) - 1, description="Preempt before",
                              continuous_update=False, style={"description_width": "9em"},
                              layout=w.Layout(width="36em"))
        self.hint = w.HTML(f'<div style="{style.BOX_STYLE};color:{style.MUTED}">the traced call '
                           f"runs from instruction {self.window[0]} to {self.window[1]}: preempt "
                           "inside it to see the race</div>")
        self.message = w.HTML()
        self.output = w.HTML()
        for c in (self.policy, self.preempt, self.at):
            c.observe(lambda _c: self.run(), names="value")
        self.widget = w.VBox([self.policy, self.preempt, self.at, self.hint, self.message, self.output])
        self.run()
        self._initial = self.output.value

    def run(self) -> None:
        at = self.at.value if self.preempt.value else None
        try:
            result = run_preempted(POLICIES[self.policy.value], at, self.arch)
        except PpcftraceError as exc:
            self.message.value = message_html(str(exc))
            return
        self.message.value = ""
        self.result = result
        window = at is not None and in_window(self.path, self.site, at)
        self.output.value = race_html(result, at, window)

    def static_html(self, title: str | None = None) -> str:
        return snapshot(self._initial, title)
