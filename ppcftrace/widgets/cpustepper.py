"""CpuStepper: step a call on the interpreter and watch r1, r2, r11, r12, LR, CTR and 40(r1).

A thin view over `lab.stepper.StepSession`: the registers (changed ones highlighted,
r2 named as the kernel's or a module's TOC), the code around the PC with the current
instruction and the breakpoints marked, the call stack, and what the call printed.
"""

from __future__ import annotations

import shlex

from ppcftrace.errors import PpcftraceError
from ppcftrace.lab.stepper import StepError, StepSession, resolve_function
from ppcftrace.viz import style
from ppcftrace.viz.words import read_words, words_html
from ppcftrace.widgets._view import StaticFallback, button, message_html, snapshot, text_field
from ppcftrace.widgets.reach import parse_address

__all__ = ["CpuStepper", "session_html", "parse_args"]


def parse_args(text: str) -> list[int | str]:
    """Arguments as typed: numbers (hex with 0x) become ints, quoted or bare words strings."""
    out: list[int | str] = []
    try:
        parts = shlex.split(text)
    except ValueError as exc:
        raise ValueError(f"arguments: {exc}") from None
    for p in parts:
        try:
            out.append(int(p, 0))
        except ValueError:
            out.append(p)
    return out


def _registers_html(session: StepSession) -> str:
    digits = 16 if session.arch == "ppc64" else 8
    rows = []
    for r in session.registers():
        bg = "#fff0a8" if r.changed else style.BACKGROUND
        value = "unmapped" if r.value is None else f"{r.value:0{digits}x}"
        rows.append(f'<tr style="background:{bg}"><th style="text-align:left;padding:1px 8px">'
                    f"{style.html_escape(r.name)}</th><td style=\"padding:1px 8px;font-family:monospace\">"
                    f"{value}</td><td style=\"padding:1px 8px;color:{style.MUTED}\">"
                    f"{style.html_escape(r.note)}</td></tr>")
    return (f'<table style="{style.BOX_STYLE};border-collapse:collapse;font-size:12px">'
            f'<caption style="caption-side:top;text-align:left;color:{style.INK}">registers '
            f"(yellow: changed by the last step)</caption><tbody>{''.join(rows)}</tbody></table>")


def session_html(session: StepSession, before: int = 4, after: int = 6) -> str:
    """Registers, code around the PC, call stack, status and printed lines."""
    esc = style.html_escape
    if session.done and session.error is None:
        status = f"returned r3 = {session.result:#x} after {session.executed} instructions"
        code = ""
    else:
        pc = session.pc
        start = pc - 4 * before
        code = words_html(read_words(session.machine.memory, start, before + after), start, session.arch,
                          symbolize=session.where, current=pc, breakpoints=session.cpu.breakpoints,
                          caption=f"at {session.where(pc)}")
        status = (f"stopped by {type(session.error).__name__}: {session.error}" if session.error
                  else f"{session.executed} instructions executed; next: {session.where(pc)}")
    frames = " \u2190 ".join(session.where(ret) if i else "caller"
                             for i, (ret, _sp) in enumerate(session.frames))
    colour = style.ERROR if session.error else style.INK
    printed = "".join(f"{esc(line)}\n" for line in session.printed())
    return (f'<div style="{style.BOX_STYLE}"><div style="color:{colour}" role="status">'
            f"<strong>{esc(session.function)}</strong>: {esc(status)}</div>"
            f'<div style="display:flex;gap:12px;flex-wrap:wrap"><div>{_registers_html(session)}</div>'
            f"<div>{code}</div></div>"
            f"<div>return addresses on the call stack: {esc(frames)}</div>"
            + (f'<pre style="{style.BOX_STYLE};margin:4px 0">{printed}</pre>' if printed else "")
            + "</div>")


class CpuStepper(StaticFallback):
    """Start a call of `function(args)`, then step, step over, step out, run."""

    def __init__(self, machine, function: str = "hmod_hello", args: str = "world", steps: int = 0):
        import ipywidgets as w

        self.machine = machine
        self.session: StepSession | None = None
        self.function = text_field(w, function, "Function", "a kernel or module function to call")
        self.args = text_field(w, args, "Arguments", "space-separated: numbers (0x.. for hex) or "
                               "strings, e.g. world or 7 0x10")
        self.breakpoint = text_field(w, "", "Breakpoint", "an address, or function+0xoffset; "
                                     "Toggle sets or clears it")
        self.controls = [
            button(w, "Start", "set up the call (registers, stack) without running it", self.start,
                   "primary"),
            button(w, "Step", "execute one instruction", lambda: self._do("step")),
            button(w, "Step over", "one instruction; a call runs to its return",
                   lambda: self._do("step_over")),
            button(w, "Step out", "run until the current function returns", lambda: self._do("step_out")),
            button(w, "Run", "run to a breakpoint or the end of the call", lambda: self._do("run")),
            button(w, "Toggle breakpoint", "set or clear the breakpoint at the address above",
                   self.toggle_breakpoint),
        ]
        self.message = w.HTML()
        self.output = w.HTML()
        self.widget = w.VBox([self.function, self.args, w.HBox(self.controls[:5]),
                              w.HBox([self.breakpoint, self.controls[5]]), self.message, self.output])
        self.start()
        for _ in range(steps):
            self._do("step")
        self._initial = self.message.value + self.output.value

    def _say(self, text: str, ok: bool = False) -> None:
        self.message.value = message_html(text, ok)

    def _render(self) -> None:
        self.output.value = session_html(self.session) if self.session else ""

    def start(self) -> None:
        """A fresh call of the function with the arguments in the fields."""
        try:
            args = parse_args(self.args.value)
            self.session = StepSession(self.machine, self.function.value.strip(), *args)
        except (ValueError, PpcftraceError) as exc:
            self.session = None
            self._say(str(exc))
        else:
            self._say("")
        self._render()

    def _do(self, action: str) -> None:
        if self.session is None:
            return self._say("start a call first")
        reason = getattr(self.session, action)()
        self._say({"breakpoint": "stopped at a breakpoint", "limit": "instruction limit reached",
                   "lost": "another call has taken over the CPU since: press Start",
                   "done": "the call has returned" if self.session.error is None else ""}.get(reason, ""),
                  reason in ("breakpoint", "done"))
        self._render()

    def _address(self, text: str) -> int:
        text = text.strip()
        if "+" in text and not text.startswith("0x"):
            name, off = text.split("+", 1)
            return self._symbol(name) + int(off, 0)
        try:
            return parse_address(text, "breakpoint", 64 if self.machine.arch == "ppc64" else 32)
        except ValueError:
            return self._symbol(text)

    def _symbol(self, name: str) -> int:
        try:
            return resolve_function(self.machine, name)[0]
        except StepError as exc:
            raise ValueError(str(exc)) from None

    def toggle_breakpoint(self) -> None:
        if self.session is None:
            return self._say("start a call first")
        try:
            addr = self._address(self.breakpoint.value)
        except ValueError as exc:
            return self._say(str(exc))
        on = self.session.toggle_breakpoint(addr)
        self._say(f"breakpoint {'set' if on else 'cleared'} at {self.session.where(addr)}", True)
        self._render()

    def static_html(self, title: str | None = None) -> str:
        return snapshot(self._initial, title)
