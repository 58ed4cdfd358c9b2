"""Small kernel-style C functions, compiled by the cross GCC at -O2, on qemu and on us.

The static executable's `_start` calls `run_all()`, which stores every function's
results in `results[]`, then writes that array to stdout. The interpreter calls the
same `run_all()` in the same linked bytes and must leave the same array.
"""

from __future__ import annotations

import os
import subprocess

import pytest

from conftest import need
from cpu_harness import load_elf, workdir
from ppcftrace.cpu import CPU
from ppcftrace.toolchain import PREFIX, QEMU, tool

CFLAGS = ["-w", "-O2", "-nostdlib", "-static", "-ffreestanding", "-fno-builtin",
          "-fno-stack-protector", "-fno-tree-loop-distribute-patterns"]

SOURCE = r"""
typedef unsigned long size_t;
#define N 64
long results[N];
static const char *strings[] = {"", "a", "hello, world", "ftrace on powerpc", "0x1fffffc", "  -42", "777", "zz"};

void *memcpy(void *d, const void *s, size_t n) { char *dd = d; const char *ss = s; while (n--) *dd++ = *ss++; return d; }
void *memset(void *d, int c, size_t n) { char *dd = d; while (n--) *dd++ = c; return d; }

__attribute__((noinline)) size_t my_strlen(const char *s) { const char *p = s; while (*p) p++; return p - s; }

__attribute__((noinline)) unsigned long simple_strtoul(const char *cp, const char **endp, unsigned int base)
{
	unsigned long result = 0;
	if (!base) {
		base = 10;
		if (*cp == '0') { base = 8; cp++; if ((*cp | 0x20) == 'x' ) { cp++; base = 16; } }
	}
	for (;;) {
		unsigned int c = *cp, v;
		if (c >= '0' && c <= '9') v = c - '0';
		else if ((c | 0x20) >= 'a' && (c | 0x20) <= 'f') v = (c | 0x20) - 'a' + 10;
		else break;
		if (v >= base) break;
		result = result * base + v;
		cp++;
	}
	if (endp) *endp = cp;
	return result;
}

__attribute__((noinline)) unsigned int crc32_le(unsigned int crc, const unsigned char *p, size_t len)
{
	while (len--) { crc ^= *p++; for (int i = 0; i < 8; i++) crc = (crc >> 1) ^ ((crc & 1) ? 0xedb88320 : 0); }
	return crc;
}

__attribute__((noinline)) int classify(int c)
{
	switch (c) {
	case 0: return 17; case 1: return -3; case 2: return 99; case 3: return 1000;
	case 4: return 5; case 5: return 77; case 6: return -1000; case 7: return 4;
	default: return c * 3;
	}
}

__attribute__((noinline)) void sort(int *a, int n)
{
	for (int i = 1; i < n; i++) { int v = a[i], j = i - 1; while (j >= 0 && a[j] > v) { a[j + 1] = a[j]; j--; } a[j + 1] = v; }
}

__attribute__((noinline)) char *utoa(unsigned long v, char *buf)
{
	char tmp[24]; int n = 0;
	do { tmp[n++] = '0' + v % 10; v /= 10; } while (v);
	while (n) *buf++ = tmp[--n];
	*buf = 0;
	return buf;
}

__attribute__((noinline)) long mix(long a, long b, int s)
{
	long r = (a << (s & 15)) ^ (b >> (s & 7));
	r += (unsigned long)a / ((unsigned long)b | 1);
	r -= (int)a * (int)b;
	r ^= __builtin_clzl(a | 1) + __builtin_clz((unsigned)b | 1);
	return r + (a < b) - (a > b) + (s ? a % (s | 1) : 0);
}

__attribute__((noinline)) long pick(long a, long b, long c) { return a < b ? c : a; }
__attribute__((noinline)) unsigned int umin3(unsigned int a, unsigned int b, unsigned int c)
{ unsigned int m = a < b ? a : b; return m < c ? m : c; }

__attribute__((noinline)) void run_all(void)
{
	int k = 0, i;
	int arr[9] = {5, -2, 9, 0, 3, 3, -7, 100, 1};
	char buf[32];
	const char *end;
	for (i = 0; i < 8; i++) results[k++] = my_strlen(strings[i]);
	results[k++] = simple_strtoul("0x1fffffc", &end, 0); results[k++] = end - strings[4] - 0; /* not same string: ok */
	results[k++] = simple_strtoul("777", 0, 0) + simple_strtoul("0777", 0, 0) + simple_strtoul("ff", 0, 16);
	results[k++] = crc32_le(~0u, (const unsigned char *)"ftrace on powerpc", 17);
	for (i = -1; i < 10; i++) results[k++] = classify(i);
	sort(arr, 9);
	for (i = 0; i < 9; i++) results[k++] = arr[i];
	utoa(~0ul, buf); results[k++] = my_strlen(buf) * 1000 + buf[0] + buf[19];
	utoa(1234567, buf); results[k++] = simple_strtoul(buf, 0, 10);
	results[k++] = mix((long)0x123456789abcdefll, 77, 13);
	results[k++] = mix(-5, 3, 0);
	results[k++] = mix((long)(-1ll << 40), -99, 31);
	results[k++] = pick(3, 5, 42) + pick(5, 3, 42) * 100 + pick(-1, 0, 7) * 10000;
	results[k++] = umin3(9, 4, 6) + umin3(1, 2, 0) * 10 + umin3(~0u, 5, 8) * 100;
	results[k++] = k;
}

void _start(void)
{
	run_all();
	register long r0 __asm__("r0") = 4; register long r3 __asm__("r3") = 1;
	register long r4 __asm__("r4") = (long)results; register long r5 __asm__("r5") = sizeof results;
	__asm__ volatile("sc" : "+r"(r0), "+r"(r3), "+r"(r4), "+r"(r5) :: "memory", "cr0", "r6", "r7", "r8", "r9", "r10", "r11", "r12");
	r0 = 1; r3 = 0;
	__asm__ volatile("sc" : "+r"(r0), "+r"(r3) :: "memory");
	for (;;);
}
"""


@pytest.mark.qemu
@pytest.mark.parametrize("arch,extra,qemu_cpu", [
    ("ppc64", [], "power7"),
    ("ppc64", ["-mcpu=power7", "-misel"], "power7"),   # GCC then uses isel
    ("ppc32", [], "7400"),
])
def test_c_functions_match_qemu(arch, extra, qemu_cpu):
    need(PREFIX[arch] + "gcc", QEMU[arch])
    with workdir() as d:
        src, exe = os.path.join(d, "f.c"), os.path.join(d, "f")
        with open(src, "w") as f:
            f.write(SOURCE)
        subprocess.run([tool(arch, "gcc"), *CFLAGS, *extra, "-o", exe, src], check=True)
        expected = subprocess.run([QEMU[arch], "-cpu", qemu_cpu, exe], capture_output=True,
                                  check=True, timeout=60).stdout
        mem, sym = load_elf(exe, arch)
    cpu = CPU(mem, arch)
    if arch == "ppc64":
        cpu.call_descriptor(sym["run_all"], max_instructions=2_000_000)
    else:
        cpu.call(sym["run_all"], max_instructions=2_000_000)
    word = 8 if arch == "ppc64" else 4
    actual = mem.read(sym["results"], len(expected))
    assert len(expected) == 64 * word
    got = [int.from_bytes(actual[i:i + word], "big") for i in range(0, len(actual), word)]
    want = [int.from_bytes(expected[i:i + word], "big") for i in range(0, len(expected), word)]
    assert got == want
    assert cpu.instructions > 1000
