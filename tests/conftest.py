"""Shared test helpers.

Tests that need an external tool (cross binutils/gcc, qemu, chromium) call
`need(...)`. Locally a missing tool skips the test; in CI `PPCFTRACE_STRICT=1`
turns the skip into a failure, so a green CI means the comparison really ran.
"""

from __future__ import annotations

import os
import shutil

import pytest

STRICT = os.environ.get("PPCFTRACE_STRICT") == "1"


def need(*exes: str) -> None:
    """Skip (or, under PPCFTRACE_STRICT=1, fail) unless every executable is on PATH."""
    missing = [e for e in exes if shutil.which(e) is None]
    if not missing:
        return
    message = f"missing tool(s): {', '.join(missing)}"
    if STRICT:
        pytest.fail(message + " (PPCFTRACE_STRICT=1)")
    pytest.skip(message)


def need_toolchain(arch: str = "ppc64") -> None:
    from ppcftrace.toolchain import PREFIX
    need(PREFIX[arch] + "as", PREFIX[arch] + "objdump", PREFIX[arch] + "objcopy")


@pytest.fixture
def strict() -> bool:
    return STRICT
