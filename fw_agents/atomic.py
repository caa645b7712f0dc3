"""Write a file so that a reader never sees it half written (one helper for models, text, videos)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def atomic_path(path: Path | str) -> Iterator[Path]:
    """Yield a hidden temporary path beside ``path`` (same suffix) to write to.

    When the block ends normally the temporary file replaces ``path`` in one rename; when it
    raises (or Ctrl-C lands) the temporary file is removed and ``path`` is left as it was.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.stem}.partial{path.suffix}")
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
