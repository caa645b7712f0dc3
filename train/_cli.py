"""What every CLI here shares: clear messages and exit codes for bad input."""

from __future__ import annotations

import sys
from collections.abc import Callable

from fw_agents.training import UsageError


def run_cli(main: Callable[[list[str] | None], int], argv: list[str] | None = None) -> int:
    """Run ``main``; a :class:`UsageError` prints one line to stderr and exits 2 (no traceback)."""
    try:
        return main(argv)
    except UsageError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
