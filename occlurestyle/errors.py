"""User-facing errors: raised for bad input, printed by the CLI as one line without a traceback."""


class OccluReStyleError(Exception):
    """Something the user can fix; the message says what is wrong and what to do."""


class InputError(OccluReStyleError):
    """A missing, unreadable or inconsistent input file or folder."""
