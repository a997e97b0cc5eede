"""Writing a file so that no reader ever sees half of it.

Result files, checkpoints, feature shards, converted weights and index cache entries are read by
other processes (torchrun workers, a resumed run, the book build) while they may be rewritten.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO


def atomic_write(path: str | os.PathLike[str], write: Callable[[BinaryIO], object]) -> Path:
    """Call ``write`` on a new binary file beside ``path``, then rename that file over ``path``.

    A reader sees the old file or the new one, never a half-written one. If ``write`` raises, the
    temporary file is removed and ``path`` is left as it was. The folder is created if needed, and
    the file gets mode 0644: mkstemp's 0600 would hide a shared cache from other users.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            os.chmod(tmp, 0o644)
            write(fh)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path
