"""ipywidgets apps: thin views over the package's plain modules.

A widget here parses its inputs, calls the logic in `ppcftrace.isa` (and friends) and
shows the result with the HTML views of `ppcftrace.viz`. Each has a `static_html()`
of its initial state, so the rendered book shows something without a kernel.
ipywidgets is imported only when a widget is built.
"""

from ppcftrace.widgets.cpustepper import CpuStepper
from ppcftrace.widgets.memmap import MemoryMap
from ppcftrace.widgets.patchbench import PatchBench
from ppcftrace.widgets.racelab import RaceLab
from ppcftrace.widgets.reach import ReachExplorer, ReachView, evaluate

__all__ = ["CpuStepper", "MemoryMap", "PatchBench", "RaceLab", "ReachExplorer", "ReachView", "evaluate"]
