"""Where visent keeps the caches that belong to the user rather than to one project folder.

Converted backbone weights and dataset indexes are expensive to rebuild and the same for every
project that uses them, so they live in one per-user folder.
"""

from __future__ import annotations

import os
from pathlib import Path


def user_cache_dir(kind: str) -> Path:
    """``$VISENT_CACHE/<kind>``, else ``$XDG_CACHE_HOME/visent/<kind>``, else ``~/.cache/visent/<kind>``."""
    if os.environ.get("VISENT_CACHE"):
        root = Path(os.environ["VISENT_CACHE"])
    elif os.environ.get("XDG_CACHE_HOME"):
        root = Path(os.environ["XDG_CACHE_HOME"]) / "visent"
    else:
        root = Path.home() / ".cache" / "visent"
    return root.expanduser() / kind
