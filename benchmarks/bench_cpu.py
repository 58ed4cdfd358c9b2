"""Interpreter speed on a counting loop, against a minimal decode-and-dispatch loop.

Targets: at least 1,000,000 instructions per second, and at least half the speed of
the baseline (a loop that decodes every word each time it runs and dispatches on the
primary opcode, knowing only the four instructions of the loop) measured in this run.
"""

from __future__ import annotations

import time

from ppcftrace.cpu import CPU
from ppcftrace.isa import assemble_lines
from ppcftrace.memory import AddressSpace

TEXT = 0x10000000
ITERATIONS = 0x20000               # loaded with addis: a multiple of 0x10000
LOOP = ["addi r3,r3,1", "add r5,r5,r3", "rlwinm r6,r5,3,0,28", f"bc 16,0,{TEXT + 12:#x}"]
TARGET_IPS = 1_000_000
TARGET_RATIO = 0.5


def program() -> list[int]:
    return [*assemble_lines(["addi r3,r0,0", f"addis r4,r0,{ITERATIONS >> 16}", "mtspr 9,r4"], TEXT),
            *assemble_lines(LOOP, TEXT + 12), *assemble_lines(["blr"], TEXT + 28)]


def run_cpu(words: list[int]) -> tuple[int, float]:
    mem = AddressSpace()
    mem.map("text", TEXT, 0x1000, "rx", b"".join(w.to_bytes(4, "big") for w in words))
    cpu = CPU(mem)
    start = time.perf_counter()
    cpu.call(TEXT, max_instructions=10 * ITERATIONS)
    return cpu.instructions, time.perf_counter() - start


def run_baseline(words: list[int]) -> tuple[int, float]:
    """Decode and dispatch every time: the work a cache of closures saves."""
    g = [0] * 32
    s = {"ctr": 0}
    M = (1 << 64) - 1

    def d_addi(w, pc):
        ra = (w >> 16) & 31
        si = (w & 0xFFFF) - ((w & 0x8000) << 1)
        if w >> 26 == 15:
            si <<= 16
        g[(w >> 21) & 31] = ((g[ra] if ra else 0) + si) & M
        return pc + 4

    def x31(w, pc):
        xo = (w >> 1) & 0x3FF
        if xo == 266:
            g[(w >> 21) & 31] = (g[(w >> 16) & 31] + g[(w >> 11) & 31]) & M
        elif xo == 467:
            s["ctr"] = g[(w >> 21) & 31]
        return pc + 4

    def rlwinm(w, pc):
        v = g[(w >> 21) & 31] & 0xFFFFFFFF
        n = (w >> 11) & 31
        r = ((v << n) | (v >> (32 - n))) & 0xFFFFFFFF
        mb, me = (w >> 6) & 31, (w >> 1) & 31
        g[(w >> 16) & 31] = r & (((1 << (32 - mb)) - 1) ^ ((1 << (31 - me)) - 1))
        return pc + 4

    def bc(w, pc):
        s["ctr"] = c = (s["ctr"] - 1) & M
        bd = (w & 0xFFFC) - ((w & 0x8000) << 1)
        return pc + bd if c else pc + 4

    def bclr(w, pc):
        return -1

    table = {14: d_addi, 15: d_addi, 31: x31, 21: rlwinm, 16: bc, 19: bclr}
    code = {TEXT + 4 * i: w for i, w in enumerate(words)}
    pc, n = TEXT, 0
    start = time.perf_counter()
    while pc >= 0:
        w = code[pc]
        pc = table[w >> 26](w, pc)
        n += 1
    return n, time.perf_counter() - start


def main() -> bool:
    words = program()
    n_cpu, t_cpu = min((run_cpu(words) for _ in range(3)), key=lambda r: r[1])
    n_base, t_base = min((run_baseline(words) for _ in range(3)), key=lambda r: r[1])
    ips, base_ips = n_cpu / t_cpu, n_base / t_base
    ratio = ips / base_ips
    print(f"interpreter: {n_cpu} instructions in {t_cpu:.3f} s = {ips:,.0f} /s (target {TARGET_IPS:,})")
    print(f"baseline decode-and-dispatch: {base_ips:,.0f} /s")
    print(f"ratio: {ratio:.2f} (target >= {TARGET_RATIO})")
    return ips >= TARGET_IPS and ratio >= TARGET_RATIO


if __name__ == "__main__":
    raise SystemExit(0 if main() else 1)
