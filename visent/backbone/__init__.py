"""The backbone: VGG-16 to conv5_3 (:mod:`~visent.backbone.trunk`) and the weights it runs with
(:mod:`~visent.backbone.weights`, one module per entry in :mod:`visent.backbone.entries`)."""

from visent.backbone.entries.oxford import OXFORD_PREPROCESS
from visent.backbone.entries.random import random_state_dict
from visent.backbone.entries.torchvision import TORCHVISION_PREPROCESS
from visent.backbone.errors import (
    BackboneError,
    BackboneInputError,
    PreprocessSpecError,
    UnknownWeightsError,
    WeightsCacheWarning,
    WeightsFileError,
    WeightsUnavailableError,
)
from visent.backbone.preprocess import PREPROCESS_KEY, Preprocess
from visent.backbone.trunk import (
    COMPILE_MODES,
    FINETUNE_BLOCKS,
    LAYER_ENDS,
    VGG16Conv53,
    device_trunk,
    finetune_block,
    output_shape,
    read_state_file,
    save_weights_file,
    to_regions,
    uses_compile,
)
from visent.backbone.weights import DEFAULT_WEIGHTS, WEIGHTS, Weights, get_weights, register_weights, weights_cache_dir

__all__ = [
    "COMPILE_MODES",
    "DEFAULT_WEIGHTS",
    "FINETUNE_BLOCKS",
    "LAYER_ENDS",
    "OXFORD_PREPROCESS",
    "PREPROCESS_KEY",
    "TORCHVISION_PREPROCESS",
    "WEIGHTS",
    "BackboneError",
    "BackboneInputError",
    "Preprocess",
    "PreprocessSpecError",
    "UnknownWeightsError",
    "VGG16Conv53",
    "Weights",
    "WeightsCacheWarning",
    "WeightsFileError",
    "WeightsUnavailableError",
    "device_trunk",
    "finetune_block",
    "get_weights",
    "output_shape",
    "random_state_dict",
    "read_state_file",
    "register_weights",
    "save_weights_file",
    "to_regions",
    "uses_compile",
    "weights_cache_dir",
]
