"""Dataset layouts: one module each, registered in :data:`LAYOUTS` with its options.

A layout module decorates its indexer ``load_<name>(root, *, options...) -> Dataset`` with
:func:`register`; ``RunConfig``'s ``--dataset`` choices, ``visent layouts`` and the data chapter
read the registry. The layouts shipped: see ``visent layouts`` or :data:`LAYOUTS`.
"""

from visent.data.layouts.base import LAYOUTS, DatasetNotFoundError, Layout, LayoutError, load_dataset, register
from visent.data.layouts.files import IMAGE_EXTENSIONS
from visent.data.layouts.folders import EMOTION_POLARITY
from visent.data.layouts.twitter import TWITTER_SUBSETS, twitter_all

__all__ = [
    "EMOTION_POLARITY",
    "IMAGE_EXTENSIONS",
    "LAYOUTS",
    "TWITTER_SUBSETS",
    "DatasetNotFoundError",
    "Layout",
    "LayoutError",
    "load_dataset",
    "register",
    "twitter_all",
]
