"""Errors of the ftrace layer.

`FtraceError` mirrors a failed kernel operation: `errno` is the kernel's (positive)
errno, `printk` the line the kernel logged for it (None where the kernel logs
nothing), and `ip` the call site concerned.
"""

from __future__ import annotations

import errno as _errno

from ppcftrace.errors import PpcftraceError

__all__ = ["FtraceError", "FtraceDisabled"]


class FtraceError(PpcftraceError):
    """A call-site operation failed: -EFAULT (read), -EINVAL (contents), -EPERM (write)."""

    def __init__(self, errno: int, message: str, *, printk: str | None = None, ip: int | None = None):
        super().__init__(message, errno=errno)
        self.printk = printk
        self.ip = ip


class FtraceDisabled(FtraceError):
    """ftrace was killed after an anomaly (`ftrace_kill`); the debugfs files return -ENODEV."""

    def __init__(self, what: str):
        super().__init__(_errno.ENODEV, f"{what}: ftrace is disabled (ftrace_kill after an anomaly)")

