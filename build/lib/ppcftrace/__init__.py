"""ppcftrace: the 2008 PowerPC dynamic ftrace port, re-implemented to be read and run.

The package is the single source of truth under the book's chapters. Modules follow
the kernel's own names where it has them (see DESIGN.md):

    isa -> memory -> elf -> machine / module64 / module32 -> ftrace -> cpu
        -> viz / widgets / check / cli

Importing the package is cheap; import the module you need.
"""

__version__ = "0.1.0"
