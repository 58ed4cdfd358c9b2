"""The call-path figure: it draws the loaded module's real path, one panel per side of
the gap, arrows that start and end at the addresses given, an opaque background."""

from __future__ import annotations

import io

import pytest

from ppcftrace import isa
from ppcftrace.machine import Machine, fixture_path
from ppcftrace.viz.callpath import Hop, Mark, Region, call_path_figure


def _texts(fig) -> list[str]:
    return [t.get_text() for ax in fig.axes for t in ax.texts] + [t.get_text() for t in fig.texts]


@pytest.fixture(scope="module", params=["ppc64", "ppc32"])
def path(request):
    arch = request.param
    machine = Machine.boot(arch)
    module = machine.load_module(fixture_path("hmod.o", arch))
    site = module.mcount_sites[0]
    stub = isa.find_bl_target(site, machine.memory.read_u32(site), arch)
    target = next(s.target for s in module.arch.stubs if s.address == stub)
    text = machine.kernel.section(".text")
    regions = [Region("kernel .text", text.addr, text.size),
               Region("module .text", *module.sections[".text"])]
    marks = [Mark("_mcount", target), Mark("site", site), Mark("stub", stub)]
    hops = [Hop("bl", site, stub), Hop("bctr", stub + 24, target)]
    return arch, machine, call_path_figure(regions, marks, hops, title="t"), (site, stub, target)


def test_renders_opaque_with_two_panels(path):
    arch, machine, fig, _ = path
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    assert buf.getvalue().startswith(b"\x89PNG")
    assert fig.get_facecolor()[3] == 1.0
    assert all(ax.get_facecolor()[3] == 1.0 for ax in fig.axes)
    assert len(fig.axes) == 2  # kernel text | module area


def test_labels_and_gap(path):
    arch, machine, fig, _ = path
    texts = _texts(fig)
    for label in ("_mcount", "site", "stub", "bl", "bctr", "kernel .text", "module .text"):
        assert label in texts
    gap = machine.module_area.start - machine.kernel.section(".text").addr
    cut = [t for t in texts if t.startswith("axis cut")][0]
    assert (f"2**{gap.bit_length() - 1} bytes" if gap & (gap - 1) == 0 else f"{gap:#x}") in cut
    xlabels = [ax.get_xlabel() for ax in fig.axes]
    assert xlabels == [f"bytes from {machine.kernel.section('.text').addr:#x}",
                       f"bytes from {machine.module_area.start:#x}"]


def test_arrows_join_the_given_addresses(path):
    from matplotlib.patches import ConnectionPatch

    arch, machine, fig, (site, stub, target) = path
    arrows = [a for a in fig.artists if isinstance(a, ConnectionPatch)]
    assert len(arrows) == 2
    kernel_ax, module_ax = fig.axes
    bl, bctr = arrows
    assert bl.axesA is module_ax and bl.axesB is module_ax
    assert bctr.axesA is module_ax and bctr.axesB is kernel_ax  # across the cut
    base_k, base_m = machine.kernel.section(".text").addr, machine.module_area.start
    assert (bl.xy1[0], bl.xy2[0]) == (site - base_m, stub - base_m)
    assert (bctr.xy1[0], bctr.xy2[0]) == (stub + 24 - base_m, target - base_k)


def test_one_panel_when_everything_is_close():
    fig = call_path_figure([Region("text", 0x1000, 0x100)], [Mark("a", 0x1010)],
                           [Hop("bl", 0x1010, 0x1080)])
    assert len(fig.axes) == 1 and not [t for t in _texts(fig) if t.startswith("axis cut")]
