"""The `ppcftrace` command (the contract is in DESIGN.md and README.md).

Each subcommand lives in its own module here, exposing `register(subparsers)`;
`register` only declares arguments and imports nothing heavy, so that start-up stays
fast. Errors become one line on stderr and a non-zero exit, never a traceback.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys

from ppcftrace.errors import PpcftraceError

#: subcommand modules, in the order `--help` lists them
COMMANDS = ("asm", "disasm", "mcount", "symbols", "boot", "trace")


class _Parser(argparse.ArgumentParser):
    """argparse, but usage errors are one line too."""

    def error(self, message: str):  # noqa: D401 - argparse API
        self.exit(2, f"{self.prog}: error: {message}\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="ppcftrace",
                     description="PowerPC dynamic ftrace, 2008, simulated.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    sub.required = True
    for name in COMMANDS:
        try:
            module = importlib.import_module(f"ppcftrace.cli.{name}")
        except ModuleNotFoundError as exc:
            if exc.name != f"ppcftrace.cli.{name}":
                raise
            continue  # not written yet
        module.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.run(args) or 0
    except PpcftraceError as exc:
        print(f"ppcftrace: error: {exc}", file=sys.stderr)
        return 1
    except BrokenPipeError:
        # the reader (e.g. `| head`) went away: not an error of ours
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 0
    except OSError as exc:
        name = f"{exc.filename}: " if exc.filename else ""
        print(f"ppcftrace: error: {name}{exc.strerror or exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


def parse_int(text: str) -> int:
    """An address or number as the CLI accepts it: decimal, 0x hex, 0b, 0o; '_' allowed."""
    try:
        return int(text.replace("_", ""), 0)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None


def add_arch(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--arch", choices=("ppc64", "ppc32"), default="ppc64",
                        help="machine (default: ppc64)")
