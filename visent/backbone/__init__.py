"""The backbone: a registry of architectures (:mod:`~visent.backbone.architecture`, one module per
entry in :mod:`visent.backbone.architectures`: VGG-16 conv5_3, ResNet-50 layer4, ViT-B/16 patch
tokens), their trunks (:mod:`~visent.backbone.trunk`) and the weights they run with
(:mod:`~visent.backbone.weights`, one module per entry in :mod:`visent.backbone.entries`)."""

from visent.backbone.architecture import (
    BACKBONES,
    DEFAULT_BACKBONE,
    Backbone,
    finetune_choices,
    get_backbone,
    output_shape,
    register_backbone,
)
from visent.backbone.entries.oxford import OXFORD_PREPROCESS
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
    Trunk,
    device_trunk,
    finetune_block,
    read_state_file,
    save_weights_file,
    to_regions,
    uses_compile,
)
from visent.backbone.weights import WEIGHTS, Weights, get_weights, register_weights, weights_cache_dir, weights_error

__all__ = [
    "BACKBONES",
    "COMPILE_MODES",
    "DEFAULT_BACKBONE",
    "OXFORD_PREPROCESS",
    "PREPROCESS_KEY",
    "TORCHVISION_PREPROCESS",
    "WEIGHTS",
    "Backbone",
    "BackboneError",
    "BackboneInputError",
    "Preprocess",
    "PreprocessSpecError",
    "Trunk",
    "UnknownWeightsError",
    "Weights",
    "WeightsCacheWarning",
    "WeightsFileError",
    "WeightsUnavailableError",
    "device_trunk",
    "finetune_block",
    "finetune_choices",
    "get_backbone",
    "get_weights",
    "output_shape",
    "read_state_file",
    "register_backbone",
    "register_weights",
    "save_weights_file",
    "to_regions",
    "uses_compile",
    "weights_cache_dir",
    "weights_error",
]
