"""The backbone registry: one module per architecture in :mod:`visent.backbone.architectures`, in the
manner of torchvision's ``get_model``.

An architecture says which torchvision network it is cut from, the layers the trunk may end at
(the regions of eq. (1) are the last one's map), which block ``--finetune`` may train, the input
sides it accepts, its torchvision weights and its default weights. Shapes are never written down:
:func:`output_shape` runs the trunk on the meta device at the input size, so the region grid and
the channels come from the network itself.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping

import torch
from torch import Tensor, nn
from torchvision.models import WeightsEnum

from visent.backbone.preprocess import DEFAULT_SIZE
from visent.registry import Registry

#: The paper's backbone.
DEFAULT_BACKBONE = "vgg16"


class Backbone:
    """One architecture. Subclasses set the class attributes and :meth:`build`; a trunk that is no
    ``nn.Sequential`` overrides :meth:`cut` too."""

    name: str  # as torchvision's get_model names it
    title: str  # as papers write it
    description: str
    rank: int  # order in `visent backbones` and the config's choices
    #: The input side must be a multiple of this (the network's total downsampling).
    stride: int
    #: Where the trunk may end -> the number of the trunk's leading children up to that layer's output.
    layers: Mapping[str, int]
    #: ``--finetune`` choices -> the layer whose output the feature cache holds; ``"none"`` is the
    #: last layer (the frozen regions), another choice trains the trunk's part after its layer.
    finetune: Mapping[str, str]
    #: The torchvision weights of the ``torchvision-imagenet`` entry.
    torchvision_weights: WeightsEnum
    default_weights: str = "torchvision-imagenet"
    #: Key prefixes of a full torchvision state dict that the trunk does not use (the classifier).
    head_prefixes: tuple[str, ...] = ()
    #: Size of the weights' own input, at which a state dict's shapes are checked.
    native_size: tuple[int, int] = (DEFAULT_SIZE, DEFAULT_SIZE)

    @property
    def region_layer(self) -> str:
        """The layer whose map holds the regions ``V_i``: the trunk's last."""
        return self.finetune["none"]

    def build(self, size: tuple[int, int]) -> nn.Module:
        """The whole trunk for ``(height, width)`` inputs, parameters named as in torchvision's
        network (in the current default device: ``torch.device("meta")`` allocates nothing)."""
        raise NotImplementedError

    def cut(self, trunk: nn.Module, start: str | None, stop: str | None) -> nn.Module:
        """The trunk's part after layer ``start`` (None: from the input) up to layer ``stop``
        (None: to the end)."""
        assert isinstance(trunk, nn.Sequential), f"{self.name}: a non-Sequential trunk overrides cut"
        begin = 0 if start is None else self.layers[start]
        return trunk[begin : None if stop is None else self.layers[stop]]

    def adapt(self, state: dict[str, Tensor], size: tuple[int, int]) -> dict[str, Tensor]:
        """A native-size state dict made fit for ``size`` inputs (ViT: position embeddings)."""
        return state

    def random_state(self, seed: int) -> dict[str, Tensor]:
        """Seeded parameters with torchvision's own initialisation."""
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            return self.build(self.native_size).state_dict()

    def check_size(self, side: int) -> str | None:
        """Why ``side`` x ``side`` inputs do not fit this network, or None."""
        if side % self.stride or side < 2 * self.stride:
            multiple = f"a multiple of {self.stride}, >= {2 * self.stride}"
            return f"{self.name} downsamples {self.stride}x: the input side must be {multiple}"
        return None


BACKBONES: Registry[Backbone] = Registry("backbone", "visent.backbone.architectures", key=lambda b: b.rank)


def register_backbone(cls: type[Backbone]) -> type[Backbone]:
    """Class decorator of an architecture module: registers one instance under ``cls.name``."""
    BACKBONES.add(cls.name, cls())
    return cls


def get_backbone(name: str = DEFAULT_BACKBONE) -> Backbone:
    """The architecture ``name`` (``visent backbones`` lists them)."""
    return BACKBONES[name]


@functools.cache
def skeleton_state(name: str) -> dict[str, tuple[torch.Size, torch.dtype]]:
    """Key -> (shape, dtype) of every entry of the trunk's state dict at its native size, in order."""
    backbone = get_backbone(name)
    with torch.device("meta"):
        trunk = backbone.build(backbone.native_size)
    return {key: (tensor.shape, tensor.dtype) for key, tensor in trunk.state_dict().items()}


@functools.cache
def _output_shape(name: str, size: tuple[int, int], layer: str) -> tuple[int, int, tuple[int, int]]:
    backbone = get_backbone(name)
    with torch.device("meta"):
        trunk = backbone.cut(backbone.build(size), None, layer).eval()
        fmap = trunk(torch.empty(1, 3, *size))  # (1, C, rows, columns), computed on no data
    channels, rows, columns = (int(d) for d in fmap.shape[1:])
    return rows * columns, channels, (rows, columns)


def output_shape(
    size: tuple[int, int], layer: str | None = None, backbone: str = DEFAULT_BACKBONE
) -> tuple[int, int, tuple[int, int]]:
    """``(regions, channels, (rows, columns))`` of ``backbone``'s ``layer`` map (default: the region
    layer) for ``(height, width)`` inputs: VGG-16 at 224 px, ``(196, 512, (14, 14))``."""
    arch = get_backbone(backbone)
    return _output_shape(arch.name, tuple(size), layer or arch.region_layer)


def finetune_choices() -> tuple[str, ...]:
    """Every ``--finetune`` choice of some architecture, ``"none"`` first."""
    return tuple(dict.fromkeys(block for _, b in BACKBONES.items() for block in b.finetune))
