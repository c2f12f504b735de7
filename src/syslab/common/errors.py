"""The one error type a user ever sees: the CLI prints it on one line and exits 2."""


class UserError(Exception):
    """Bad input from the user (a flag, a file, a trace): reported in one line, no traceback."""

    exit_code = 2
