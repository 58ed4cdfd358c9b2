"""Reference solutions to the book's exercises, one module per chapter.

They are written the way a reader would write them (by hand, from the bit layout), and
the tests check them against `ppcftrace.isa` and the `ppcftrace.check` checkers. The
book shows them with `literalinclude :pyobject:`.
"""
