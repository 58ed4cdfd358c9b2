"""MemoryMap: the live machine's address space, its call sites by state, and tracing on a click.

A thin view over `lab.mapmodel.MemoryMapModel` (what is where, in which state),
`lab.bench.Bench.toggle_tracing` (the filter change) and the SVG of `viz.memmap`.
Pick a site by function name or address; zoom to a function, module or section;
toggle tracing of the picked function and watch its site change state. Bad input
becomes an inline message.
"""

from __future__ import annotations

from ppcftrace.errors import PpcftraceError
from ppcftrace.lab.bench import Bench
from ppcftrace.lab.mapmodel import MemoryMapModel
from ppcftrace.viz import style
from ppcftrace.viz.memmap import memmap_html
from ppcftrace.viz.words import read_words, words_html
from ppcftrace.widgets._view import StaticFallback, button, message_html, snapshot, text_field

__all__ = ["MemoryMap", "site_words_html"]


def site_words_html(model: MemoryMapModel, ip: int, changed=()) -> str:
    """The site's words (two either side) and, when it calls through one, its stub's."""
    arch, mem = model.arch, model.memory
    parts = [words_html(read_words(mem, ip - 8, 6), ip - 8, arch, symbolize=model.where,
                        changed=changed, caption=f"call site {ip:#x}")]
    site = model.site(ip)
    if site.state.via is not None:
        stub = next(s for s in model.stubs if s.address == site.state.via)
        count = 7 if arch == "ppc64" else 4   # the instructions; a PPC64 stub's data follows
        loads = (f", funcaddr {stub.target:#x}" if arch == "ppc64" and stub.target is not None else "")
        parts.append(words_html(read_words(mem, stub.address, count), stub.address, arch,
                                symbolize=model.where, changed=changed,
                                caption=f"{'stub' if arch == 'ppc64' else 'PLT entry'} "
                                        f"{stub.address:#x} \u2192 {stub.target_name}{loads}"))
    return (f'<div style="display:flex;gap:12px;flex-wrap:wrap;{style.BOX_STYLE}">'
            + "".join(f"<div>{p}</div>" for p in parts) + "</div>")


class MemoryMap(StaticFallback):
    """The map of `machine` (from `start_kernel`), with a site picked and a zoom."""

    def __init__(self, machine, site: str = "", zoom: str = "all", width: int = 760):
        import ipywidgets as w

        self.model = MemoryMapModel(machine)
        self.bench = Bench(machine) if getattr(machine, "ftrace", None) is not None else None
        self.width = width
        self.selected: int | None = None
        self.zoom: tuple[int, int] | None = None
        self.changed: set[int] = set()
        self.site = text_field(w, site, "Site", "a traced function (schedule, hmod_hello) or a site "
                               "address; Enter to pick it")
        self.zoom_field = text_field(w, zoom, "Zoom to", "a function, a module, a section such as "
                                     ".text, or all")
        self.toggle = button(w, "Toggle tracing", "trace the picked function, or stop tracing it "
                             "(set_ftrace_filter)", self.toggle_tracing, "primary")
        self.undo_button = button(w, "Undo", "undo the last change (memory write journal)", self.undo)
        self.message = w.HTML()
        self.view = w.HTML()
        self.words = w.HTML()
        self.site.observe(lambda _c: self._pick(), names="value")
        self.zoom_field.observe(lambda _c: self._zoom(), names="value")
        self.widget = w.VBox([self.site, self.zoom_field, w.HBox([self.toggle, self.undo_button]),
                              self.message, self.view, self.words])
        self._pick(render=False)
        self._zoom(render=False)
        self.render()
        self._initial = self.view.value + self.words.value

    # -- actions -----------------------------------------------------------------------

    def _say(self, text: str, ok: bool = False) -> None:
        self.message.value = message_html(text, ok)

    def _pick(self, render: bool = True) -> None:
        text = self.site.value.strip()
        if not text:
            self.selected = None
        else:
            try:
                self.selected = self.model.find_site(text).ip
                self._say("")
            except PpcftraceError as exc:
                self.selected = None   # no stale selection under a field that says otherwise
                self._say(str(exc))
        if render:
            self.render()

    def _zoom(self, render: bool = True) -> None:
        try:
            self.zoom = self.model.zoom_range(self.zoom_field.value)
            self._say("")
        except PpcftraceError as exc:
            self._say(str(exc))
        if render:
            self.render()

    def toggle_tracing(self) -> None:
        """Trace the picked function, or stop tracing it; redraw."""
        if self.bench is None:
            return self._say("this machine has no ftrace")
        if self.selected is None:
            return self._say("pick a site first (a function name or an address)")
        function = self.model.site(self.selected).function
        try:
            outcome = self.bench.toggle_tracing(function)
        except PpcftraceError as exc:
            return self._say(str(exc))
        self.changed = outcome.changed
        self._say(outcome.operation + (": done" if outcome.ok else f": {outcome.message}"), outcome.ok)
        self.refresh()

    def undo(self) -> None:
        if self.bench is None:
            return self._say("this machine has no ftrace")
        try:
            outcome = self.bench.undo()
        except PpcftraceError as exc:
            return self._say(str(exc))
        self.changed = outcome.changed
        self._say(outcome.operation, True)
        self.refresh()

    def refresh(self) -> None:
        """Re-read the machine (after a change made elsewhere) and redraw."""
        self.model.refresh()
        self.render()

    def render(self) -> None:
        self.view.value = memmap_html(self.model, selected=self.selected, zoom=self.zoom, width=self.width)
        self.words.value = (site_words_html(self.model, self.selected, self.changed)
                            if self.selected is not None else "")

    # -- display -------------------------------------------------------------------------

    def static_html(self, title: str | None = None) -> str:
        """The map as it was when the widget was made, for pages without a kernel."""
        return snapshot(self._initial, title)
