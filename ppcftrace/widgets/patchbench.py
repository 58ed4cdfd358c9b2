"""PatchBench: run ftrace_make_nop / ftrace_make_call / a filter change on one record and
see the kernel's checks pass or fail, the words before and after, and undo.

A thin view over `lab.bench.Bench`; the checks are the real code's (the view only
lists them), the words come from memory, and undo goes through the write journal.
Fault injection buttons corrupt the picked site's stub (its funcaddr) or make the
site's region read-only, so a reader can watch a check refuse.
"""

from __future__ import annotations

from ppcftrace.errors import PpcftraceError
from ppcftrace.lab.bench import Bench, Outcome, errno_name
from ppcftrace.lab.mapmodel import MemoryMapModel
from ppcftrace.viz import style
from ppcftrace.viz.words import compare_html
from ppcftrace.widgets._view import StaticFallback, button, message_html, snapshot, text_field

__all__ = ["PatchBench", "outcome_html"]

_MARKS = {"pass": ("&#10004;", style.OK), "fail": ("&#10008;", style.ERROR),
          "not reached": ("&ndash;", style.MUTED), "info": ("&#8594;", style.INK)}


def outcome_html(outcome: Outcome, arch: str, symbolize=None) -> str:
    """The checks as a list (mark, check, errno and message on the failed one), then the
    words before/after and the kernel log lines."""
    esc = style.html_escape
    head = (f"<div><strong>{esc(outcome.operation)}</strong>: "
            + (f'<span style="color:{style.OK}">succeeded</span>' if outcome.ok else
               f'<span style="color:{style.ERROR}">returned {esc(errno_name(outcome.errno))}</span>'
               if outcome.errno else f'<span style="color:{style.ERROR}">failed</span>') + "</div>")
    items = []
    for c in outcome.checks:
        mark, colour = _MARKS[c.status]
        extra = (f' &mdash; <strong>{esc(errno_name(c.errno))}</strong>: {style.html_code(c.message)}'
                 if c.status == "fail" and c.errno else
                 f" &mdash; {esc(c.message)}" if c.status == "fail" and c.message else "")
        items.append(f'<li data-status="{c.status}" style="list-style:none;color:{style.INK}">'
                     f'<span style="color:{colour};display:inline-block;width:1.4em">{mark}</span>'
                     f"{esc(c.name)}{extra}</li>")
    checks = f'<ul style="margin:4px 0;padding-left:0">{"".join(items)}</ul>' if items else ""
    words = ""
    if outcome.start is not None:
        words = compare_html(outcome.before, outcome.after, outcome.start, arch, symbolize=symbolize)
    log = ""
    if outcome.printk:
        lines = "".join(f"{esc(line)}\n" for line in outcome.printk)
        log = (f'<pre style="{style.BOX_STYLE};border-left:3px solid {style.MUTED};padding:2px 6px;'
               f'margin:4px 0">{lines}</pre>')
    return f'<div style="{style.BOX_STYLE}">{head}{checks}{words}{log}</div>'


class PatchBench(StaticFallback):
    """Pick a record (function or address), patch it, read the checks, undo."""

    def __init__(self, machine, site: str = "", operation: str | None = None):
        import ipywidgets as w

        self.machine = machine
        self.bench = Bench(machine)
        self.model = MemoryMapModel(machine)
        self.site = text_field(w, site, "Record", "the traced function or site address to patch")
        self.addr = w.Dropdown(options=["auto", "_mcount", "ftrace_caller"], value="auto",
                               description="addr", style={"description_width": "9em"},
                               tooltip="what ftrace_make_nop expects the site to call")
        self.filter = text_field(w, "", "Filter", "a set_ftrace_filter pattern, e.g. .hmod_* or "
                                 "*sched*; Apply writes it with the function tracer on")
        self.buttons = [
            button(w, "ftrace_make_nop", "disable the record's site", self.make_nop, "primary"),
            button(w, "ftrace_make_call", "point the record's site at ftrace_caller", self.make_call,
                   "primary"),
            button(w, "Apply filter", "echo FILTER > set_ftrace_filter; current_tracer = function",
                   self.apply_filter),
            button(w, "Undo", "undo the last operation (memory write journal)", self.undo),
        ]
        self.inject = [
            button(w, "Corrupt stub funcaddr", "write a wrong funcaddr into the stub the site calls "
                   "through (PPC64)", self.corrupt, "warning"),
            button(w, "Make region read-only", "protect the site's region r-x, so the write faults",
                   self.protect, "warning"),
        ]
        self.message = w.HTML()
        self.output = w.HTML()
        self.widget = w.VBox([self.site, self.addr, w.HBox(self.buttons[:2]), self.filter,
                              w.HBox(self.buttons[2:]), w.HBox(self.inject), self.message, self.output])
        self._initial = ""
        if operation:
            getattr(self, operation)()
        else:
            self._show_site()
        self._initial = self.message.value + self.output.value

    # -- helpers -------------------------------------------------------------------------

    def _say(self, text: str, ok: bool = False) -> None:
        self.message.value = message_html(text, ok)

    def _ip(self) -> int | None:
        self.model.refresh()
        try:
            return self.model.find_site(self.site.value).ip
        except PpcftraceError as exc:
            self._say(str(exc))
            return None

    def _show(self, outcome: Outcome) -> None:
        self.model.refresh()
        self.output.value = outcome_html(outcome, self.machine.arch, self.model.where)

    def _show_site(self) -> None:
        if not self.site.value.strip():
            self.output.value = ""
            return
        ip = self._ip()
        if ip is not None:
            from ppcftrace.widgets.memmap import site_words_html
            self._say("")
            self.output.value = site_words_html(self.model, ip)

    def _run(self, action) -> None:
        try:
            outcome = action()
        except PpcftraceError as exc:
            return self._say(str(exc))
        self._say("")
        self._show(outcome)

    # -- operations ----------------------------------------------------------------------

    def make_nop(self) -> None:
        ip = self._ip()
        if ip is not None:
            self._run(lambda: self.bench.make_nop(ip, self.addr.value))

    def make_call(self) -> None:
        ip = self._ip()
        if ip is not None:
            self._run(lambda: self.bench.make_call(ip))

    def apply_filter(self) -> None:
        self._run(lambda: self.bench.set_filter(self.filter.value))

    def undo(self) -> None:
        self._run(self.bench.undo)

    def corrupt(self) -> None:
        ip = self._ip()
        if ip is None:
            return
        via = self.model.site(ip).state.via
        if via is None:
            return self._say("this site does not call through a stub: pick a module site that "
                             "calls _mcount or ftrace_caller")
        self._run(lambda: self.bench.corrupt_funcaddr(via, 0xC0DE))

    def protect(self) -> None:
        ip = self._ip()
        if ip is None:
            return
        region = self.machine.memory.region_at(ip)
        self._run(lambda: self.bench.protect(region.name, region.perms.replace("w", "")))

    # -- display -------------------------------------------------------------------------

    def static_html(self, title: str | None = None) -> str:
        return snapshot(self._initial, title)
