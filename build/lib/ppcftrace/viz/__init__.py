"""Figures and static HTML views of the package's state.

Each function returns a matplotlib `Figure` (or an HTML string) and keeps no state;
widgets in `ppcftrace.widgets` are thin views built on them. Figures have opaque white
backgrounds so they stay legible in the book's dark mode.
"""
