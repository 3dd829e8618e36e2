"""`gentleclip` command line: thin argument parsing over the library.

Every subcommand lives in its own module with ``register(subparsers)``; bad input of any
kind (an :class:`~gentleclip.errors.InputError`) becomes one ``gentleclip: error: ...`` line
and exit code 2. Tests call :func:`main` directly.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import NoReturn

from gentleclip import __version__
from gentleclip.cli import bench, data, demo, embed, evaluate, split, train
from gentleclip.cli import index as index_cmd
from gentleclip.cli import search as search_cmd
from gentleclip.errors import InputError

EXIT_BAD_INPUT = 2


class _Parser(argparse.ArgumentParser):
    """argparse that reports a usage problem in one line, exit code 2."""

    def error(self, message: str) -> NoReturn:
        print(f"gentleclip: error: {message} (see: {self.prog} --help)", file=sys.stderr)
        raise SystemExit(EXIT_BAD_INPUT)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="gentleclip", description=__doc__.splitlines()[0])
    parser.add_argument("--version", action="version", version=f"gentleclip {__version__}")
    subparsers = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    for module in (split, train, evaluate, embed, demo, data, bench, index_cmd, search_cmd):
        module.register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run one subcommand; return its exit code (2 for bad input)."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
        return int(args.func(args) or 0)
    except InputError as err:
        one_line = " ".join(str(err).splitlines())  # a file name or quoted value may hold "\n"
        print(f"gentleclip: error: {one_line}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except SystemExit as exit_:
        return int(exit_.code or 0) if isinstance(exit_.code, int | None) else EXIT_BAD_INPUT


def entry() -> None:
    sys.exit(main())
