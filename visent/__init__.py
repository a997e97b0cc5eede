"""visent: an executable replication of "Visual sentiment analysis based on attention mechanism".

``visent.load(checkpoint).predict(images)`` applies a trained model to photographs (``visent.predict``).
"""

from __future__ import annotations

from typing import Any

from visent.version import __version__

__all__ = ["__version__", "load"]


def __getattr__(name: str) -> Any:
    # `import visent` stays light (the CLI's startup): the model code loads with the first `visent.load`.
    if name == "load":
        from visent.predict import load

        return load
    raise AttributeError(f"module 'visent' has no attribute {name!r}")
