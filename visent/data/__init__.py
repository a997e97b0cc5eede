"""The data layer: reading images, indexing dataset layouts, splits, balancing, augmentation.

The synthetic scene generator lives in :mod:`visent.data.synth` and is imported from there.
"""

from visent.data.augment import (
    AUGMENTATIONS,
    Operation,
    augment_box,
    augment_image,
    expand_to_min_per_attribute,
    plan,
    transform_boxes,
)
from visent.data.images import ImageError, image_size, load_image, small_image_warnings, to_rgb
from visent.data.layouts import (
    EMOTION_POLARITY,
    IMAGE_EXTENSIONS,
    LAYOUTS,
    DatasetNotFoundError,
    LayoutError,
    load_dataset,
)
from visent.data.splits import (
    GIVEN,
    SCHEMES,
    SplitError,
    SplitWarning,
    assign_splits,
    balance,
    find_duplicates,
)
from visent.data.table import (
    COLUMNS,
    SPLIT_NAMES,
    DataReport,
    Dataset,
    DatasetError,
    Problem,
    make_samples,
    validate_samples,
)

__all__ = [
    "AUGMENTATIONS",
    "COLUMNS",
    "EMOTION_POLARITY",
    "IMAGE_EXTENSIONS",
    "LAYOUTS",
    "GIVEN",
    "SCHEMES",
    "SPLIT_NAMES",
    "DataReport",
    "Dataset",
    "DatasetError",
    "DatasetNotFoundError",
    "ImageError",
    "LayoutError",
    "Operation",
    "Problem",
    "SplitError",
    "SplitWarning",
    "assign_splits",
    "augment_box",
    "augment_image",
    "balance",
    "expand_to_min_per_attribute",
    "find_duplicates",
    "image_size",
    "load_dataset",
    "load_image",
    "make_samples",
    "plan",
    "small_image_warnings",
    "to_rgb",
    "transform_boxes",
    "validate_samples",
]
