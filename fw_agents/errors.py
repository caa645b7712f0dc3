"""The one exception type for bad user input (no trainer imported to raise it)."""


class UsageError(ValueError):
    """Bad user input: the CLIs print the message alone after ``error:`` and exit 2."""
