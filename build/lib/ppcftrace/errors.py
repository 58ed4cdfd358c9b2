"""The root of ppcftrace's exceptions.

Every error raised for bad input derives from `PpcftraceError`; its `str()` is one
line that names the problem. Errors that mirror a kernel failure carry the kernel's
errno (a positive number, as in `errno.EINVAL`; the kernel returns it negated) and,
where the kernel prints one, the kernel's message text.
"""

from __future__ import annotations


class PpcftraceError(Exception):
    """Base class: a specific, one-line error about the input or the machine state."""

    #: the kernel's errno for this failure (positive), or None where the kernel has none
    errno: int | None = None

    def __init__(self, message: str, *, errno: int | None = None):
        super().__init__(message)
        if errno is not None:
            self.errno = errno

    @property
    def message(self) -> str:
        return str(self.args[0]) if self.args else ""

    def __str__(self) -> str:
        # one line, whatever the message holds
        return " ".join(self.message.split("\n"))
