"""The ELFv2 side of the book (Chapter 10): what changed after 2008.

    abi      global and local entry points: st_other, ppc_function_entry()
    machine  the ELFv2 fixture kernel booted, ftrace and a CPU attached, call()

The module loader is `ppcftrace.module64v2`, the ftrace hooks
`ppcftrace.ftrace.arch_elfv2`, the out-of-line stubs `ppcftrace.ool`.
"""
