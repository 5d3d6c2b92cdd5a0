"""The one family of errors a user can fix: a bad file, a tampered contract, a wrong argument.

The command line prints these as one line naming what is wrong and exits with status 2. Anything else
raised inside the harness is a bug, and keeps its traceback.
"""

from __future__ import annotations


class UserError(Exception):
    """Something the person running the harness can fix; the message names the file, field or value."""


class InputError(UserError, ValueError):
    """A value the user gave (a course name, a week, a pipeline, a column) that is not one the harness knows."""


class MissingFileError(UserError, FileNotFoundError):
    """A file or folder the user named, or that a step needs from the user, is not there."""
