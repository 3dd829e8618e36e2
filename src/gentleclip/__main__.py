"""`python -m gentleclip` runs the command line."""

from gentleclip.cli.main import entry

entry()
