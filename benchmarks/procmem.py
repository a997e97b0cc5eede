"""This process's memory counters, read without importing torch (indexing children stay lean)."""

from __future__ import annotations

import resource
import sys
from pathlib import Path

STATUS = Path("/proc/self/status")


def status_bytes(field: str) -> int | None:
    """A ``kB`` field of ``/proc/self/status`` in bytes, or None where ``/proc`` does not report it."""
    if not STATUS.exists():
        return None
    for line in STATUS.read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1]) * 1024
    return None


def rss_anon_bytes() -> int | None:
    """This process's anonymous resident memory now (``RssAnon``), or None off Linux."""
    return status_bytes("RssAnon")


def peak_rss_bytes() -> int:
    """This process's peak resident memory: ``VmHWM``, else ``ru_maxrss``."""
    # VmHWM, not ru_maxrss: Linux carries ru_maxrss over from the parent across fork and exec.
    peak = status_bytes("VmHWM")
    if peak is not None:
        return peak
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak if sys.platform == "darwin" else peak * 1024  # macOS reports bytes, others kB
