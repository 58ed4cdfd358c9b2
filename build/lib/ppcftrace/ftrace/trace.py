"""The function tracer's buffer and /sys/kernel/debug/tracing/trace (2.6.29 format).

`function_trace_call(ip, parent_ip)` is what the traced kernel reaches through
`ftrace_caller`; it records one `TraceEntry`. `render()` prints the buffer the way
2.6.29's trace file did:

    # tracer: function
    #
    #           TASK-PID    CPU#    TIMESTAMP  FUNCTION
    #              | |       |          |         |
              <idle>-0     [000]     0.000001: .schedule <-.cpu_idle

(`"%16s-%-5d [%03d] %5lu.%06lu: "`, then the function and ` <-parent` as kallsyms
names, dot names on PPC64).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Iterator

__all__ = ["TraceEntry", "TraceBuffer", "FUNC_HELP_HEADER"]

FUNC_HELP_HEADER = (
    "#           TASK-PID    CPU#    TIMESTAMP  FUNCTION\n"
    "#              | |       |          |         |\n"
)


@dataclass(frozen=True)
class TraceEntry:
    """One traced call: the call site's function `ip`, its caller `parent_ip`, and context."""

    ip: int
    parent_ip: int
    timestamp_ns: int
    cpu: int = 0
    pid: int = 0
    comm: str = "<idle>"


class TraceBuffer:
    """The entries recorded while tracing was on, oldest first.

    `symbolize(addr)` names an address (kallsyms); `clock()` gives nanoseconds — by
    default a counter that advances 1 µs per entry, so output is reproducible.
    """

    def __init__(self, symbolize: Callable[[int], str] | None = None,
                 clock: Callable[[], int] | None = None):
        self.entries: list[TraceEntry] = []
        self.symbolize = symbolize or (lambda addr: f"{addr:#x}")
        self.clock = clock or self._tick
        #: ring_buffer_record_on/off: tracing_on
        self.recording = True
        self._ticks = 0

    def _tick(self) -> int:
        self._ticks += 1000
        return self._ticks

    def function_trace_call(self, ip: int, parent_ip: int, *, cpu: int = 0, pid: int = 0,
                            comm: str = "<idle>") -> TraceEntry | None:
        """Record a call (the host side of `function_trace_call`); None while recording is off."""
        if not self.recording:
            return None
        entry = TraceEntry(ip, parent_ip, self.clock(), cpu, pid, comm)
        self.entries.append(entry)
        return entry

    def clear(self) -> None:
        """tracing_reset: drop every entry."""
        self.entries.clear()

    def __len__(self) -> int:
        return len(self.entries)

    def __iter__(self) -> Iterator[TraceEntry]:
        return iter(self.entries)

    def format_entry(self, e: TraceEntry) -> str:
        """One line: `comm-pid [cpu] secs.usecs: func <-parent`."""
        secs, rem = divmod(e.timestamp_ns, 1_000_000_000)
        line = f"{e.comm:>16}-{e.pid:<5d} [{e.cpu:03d}] {secs:5d}.{rem // 1000:06d}: {self.symbolize(e.ip)}"
        if e.parent_ip:
            line += f" <-{self.symbolize(e.parent_ip)}"
        return line

    def render(self, tracer: str = "function") -> str:
        """The text of /sys/kernel/debug/tracing/trace."""
        out = [f"# tracer: {tracer}\n", "#\n", FUNC_HELP_HEADER]
        out.extend(self.format_entry(e) + "\n" for e in self.entries)
        return "".join(out)

    def calls(self) -> list[tuple[str, str]]:
        """(function, parent) name pairs, oldest first: what tests and chapters compare."""
        return [(self.symbolize(e.ip), self.symbolize(e.parent_ip)) for e in self.entries]
