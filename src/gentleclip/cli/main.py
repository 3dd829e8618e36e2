"""`gentleclip` command line: thin argument parsing over the library.

Every subcommand lives in its own module with ``register(subparsers)``; bad input of any
kind (an :class:`~gentleclip.errors.InputError`, or a path the operating system rejects)
becomes one ``gentleclip: error: ...`` line and exit code 2. Tests call :func:`main` directly.
"""

from __future__ import annotations

import argparse
import errno
import sys
from collections.abc import Sequence
from typing import NoReturn

from gentleclip import __version__
from gentleclip.cli import bench, data, demo, embed, evaluate, fit, split, train
from gentleclip.cli import index as index_cmd
from gentleclip.cli import search as search_cmd
from gentleclip.errors import InputError

EXIT_BAD_INPUT = 2
EXIT_INTERRUPTED = 130  # 128 + SIGINT, the shell's convention
EXIT_SIGTERM = 143  # 128 + SIGTERM
RESUME_HINT = " (a train run continues from its last checkpoint with --resume)"
# OS errors that mean the path given is unusable (bad input), not that the machine failed
PATH_ERRNOS = frozenset(
    {
        errno.ENAMETOOLONG,
        errno.ENOENT,
        errno.ENOTDIR,
        errno.EISDIR,
        errno.EEXIST,
        errno.EACCES,
        errno.EPERM,
        errno.EROFS,
        errno.ELOOP,
    }
)


class _Parser(argparse.ArgumentParser):
    """argparse that reports a usage problem in one line, exit code 2."""

    def error(self, message: str) -> NoReturn:
        print(f"gentleclip: error: {message} (see: {self.prog} --help)", file=sys.stderr)
        raise SystemExit(EXIT_BAD_INPUT)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="gentleclip", description=__doc__.splitlines()[0])
    parser.add_argument("--version", action="version", version=f"gentleclip {__version__}")
    subparsers = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    for module in (split, train, fit, evaluate, embed, demo, data, bench, index_cmd, search_cmd):
        module.register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run one subcommand; return its exit code.

    2 for bad input (an InputError, or a path the OS rejects), 1 for another OS failure (disk
    full, I/O error), 143 when stopped by SIGTERM, 130 on Ctrl-C; each with one stderr line.
    """
    parser = build_parser()
    try:
        args = _parse(parser, argv)
        return int(args.func(args) or 0)
    except InputError as err:
        return _fail(str(err), EXIT_BAD_INPUT)
    except OSError as err:
        return _fail(str(err), EXIT_BAD_INPUT if err.errno in PATH_ERRNOS else 1)
    except KeyboardInterrupt:
        return _fail("interrupted" + RESUME_HINT, EXIT_INTERRUPTED, prefix="gentleclip: ")
    except SystemExit as exit_:
        if _is_sigterm(exit_):  # Lightning's SIGTERMException carries no exit code
            return _fail("terminated by SIGTERM" + RESUME_HINT, EXIT_SIGTERM, prefix="gentleclip: ")
        return int(exit_.code or 0) if isinstance(exit_.code, int | None) else EXIT_BAD_INPUT


def _parse(parser: argparse.ArgumentParser, argv: Sequence[str] | None) -> argparse.Namespace:
    """``parser.parse_args``, but unknown options are reported by the subcommand's parser, so
    the hint names ``gentleclip CMD --help``."""
    args, extras = parser.parse_known_args(argv)
    if extras:
        commands = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
        commands.choices[args.command].error(f"unrecognized arguments: {' '.join(extras)}")
    return args


def _fail(message: str, code: int, prefix: str = "gentleclip: error: ") -> int:
    one_line = " ".join(message.splitlines())  # a file name or quoted value may hold "\n"
    print(f"{prefix}{one_line}", file=sys.stderr)
    return code


def _is_sigterm(exit_: SystemExit) -> bool:
    """True for Lightning's ``SIGTERMException`` (matched by name: no lightning import here)."""
    return any(cls.__name__ == "SIGTERMException" for cls in type(exit_).__mro__)


def entry() -> None:
    sys.exit(main())
