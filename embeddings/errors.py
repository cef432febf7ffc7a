class QAError(Exception):
    """A problem the user can fix: the CLI prints its message as one line and exits non-zero."""


class OutOfBounds(QAError, ValueError):
    """A value past one of qa's bounds (the passages a question reads): a user's mistake to the
    CLI, a ValueError to a program."""
