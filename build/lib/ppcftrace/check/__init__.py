"""Self-check for the book's exercises: "Correct", or what is wrong and a hint.

A checker takes the reader's answer (a value, or a function it calls on many inputs),
compares it with what `ppcftrace` computes, shows one line of feedback and returns a
`CheckResult` (truthy when correct). The feedback names the mistake ("the LK bit is
not set") without giving the answer away. Checkers need no widgets: in a Jupyter
kernel (Colab included) the feedback is shown once as HTML, and the returned result's
own display is silent so it does not repeat; elsewhere it is printed.

Chapter checkers live in `ppcftrace.check.chNN`, one function per exercise
(`ch01.ex1`, `ch01.ex2`, ...).
"""

from __future__ import annotations

import html
from dataclasses import dataclass, field
from typing import Any, Callable

__all__ = ["CheckResult", "Mistake", "correct", "wrong", "report", "show", "call_safely",
           "require_int", "require_callable", "hexs"]


@dataclass(frozen=True)
class CheckResult:
    """The outcome of one check: truthy when the answer is correct."""

    exercise: str
    ok: bool
    message: str
    hint: str = ""
    _echo_pending: bool = field(default=False, compare=False, repr=False)

    def __bool__(self) -> bool:
        return self.ok

    @property
    def text(self) -> str:
        """The feedback as one or two plain-text lines."""
        head = f"{self.exercise}: {self.message}"
        return f"{head}\nHint: {self.hint}" if self.hint else head

    def __str__(self) -> str:
        return self.text

    def __repr__(self) -> str:
        state = "correct" if self.ok else "not yet"
        return f"<CheckResult {self.exercise}: {state}>"

    def _ipython_display_(self) -> None:
        # The checker has just shown this feedback; skip the echo of the cell's
        # return value once, but show it when displayed again later.
        if self._echo_pending:
            object.__setattr__(self, "_echo_pending", False)
            return
        from IPython.display import display

        display({"text/plain": self.text, "text/html": self._repr_html_()}, raw=True)

    def _repr_html_(self) -> str:
        colour = "#1b7f3b" if self.ok else "#b00020"
        mark = "&#10004;" if self.ok else "&#10008;"
        hint = (f"<br><em>Hint:</em> {html.escape(self.hint)}" if self.hint else "")
        return (
            f'<div class="ppcftrace-check" role="status" style="border-left:4px solid {colour};'
            f'padding:2px 8px;background:#fff;color:#1a1a1a"><strong style="color:{colour}">{mark} '
            f"{html.escape(self.exercise)}</strong>: {html.escape(self.message)}{hint}</div>"
        )


class Mistake(Exception):
    """Raised inside a checker to stop at the first thing found wrong."""

    def __init__(self, message: str, hint: str = ""):
        super().__init__(message)
        self.message = message
        self.hint = hint


def correct(exercise: str, message: str = "Correct") -> CheckResult:
    return CheckResult(exercise, True, message)


def wrong(exercise: str, message: str, hint: str = "") -> CheckResult:
    return CheckResult(exercise, False, message, hint)


def report(exercise: str, check: Callable[[], str | None], *, quiet: bool = False) -> CheckResult:
    """Run `check`; a `Mistake` it raises becomes the feedback, else "Correct".

    `check` may return a sentence to append to "Correct" (e.g. what the answer means).
    The feedback is printed unless `quiet`; the result is returned either way.
    """
    try:
        extra = check()
    except Mistake as m:
        result = wrong(exercise, m.message, m.hint)
    else:
        result = correct(exercise, "Correct" + (f". {extra}" if extra else ""))
    if not quiet:
        show(result)
        object.__setattr__(result, "_echo_pending", True)
    return result


def show(result: CheckResult) -> None:
    """Feedback as HTML in a Jupyter kernel (Colab included), as text elsewhere."""
    try:
        from IPython import get_ipython
    except ImportError:  # plain Python without IPython installed
        get_ipython = None  # type: ignore[assignment]
    shell = get_ipython() if get_ipython else None
    if getattr(shell, "kernel", None) is None:
        print(result.text)
        return
    from IPython.display import display

    display({"text/plain": result.text, "text/html": result._repr_html_()}, raw=True)


def call_safely(fn: Callable[..., Any], *args: Any) -> Any:
    """Call the reader's function; turn an exception into a `Mistake` naming the input."""
    try:
        return fn(*args)
    except Exception as exc:  # the reader's code may raise anything
        shown = ", ".join(hexs(a) for a in args)
        raise Mistake(
            f"your function raised {type(exc).__name__}: {exc} for input ({shown})",
            "it should return a value for every input listed in the exercise",
        ) from None


def require_int(value: Any, what: str, hint: str = "give a Python int (hex literals "
                "such as 0x48000001 are ints)") -> int:
    """The value as an int, or a `Mistake` saying what type it should be."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise Mistake(f"{what} should be an int, got {type(value).__name__}", hint)
    return value


def require_callable(value: Any, what: str) -> Callable[..., Any]:
    if not callable(value):
        raise Mistake(f"{what} should be a function, got {type(value).__name__}",
                      "pass the function itself, without calling it (no parentheses)")
    return value


def hexs(value: Any) -> str:
    """A short hex form of an int (negative ints keep their sign), repr otherwise."""
    if isinstance(value, bool) or not isinstance(value, int):
        return repr(value)
    return f"-{-value:#x}" if value < 0 else f"{value:#x}"
