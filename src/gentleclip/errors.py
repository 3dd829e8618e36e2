"""The one exception type for bad user input or configuration.

Every layer raises :class:`InputError` with a one-line message naming the problem
(shape, NaN, empty set, unknown option, missing file). The CLI turns it into a single
``gentleclip: error: ...`` line and exit code 2.
"""

from __future__ import annotations


class InputError(ValueError):
    """Bad input data, file or option; the message is one line meant for the user."""
