"""``file:PATH``: a ``torch.save``-d state dict of the backbone's trunk (VGG-16: ``"0.weight"`` ...
``"28.bias"``), of a :class:`~visent.backbone.trunk.Trunk` (``"features."`` before them) or of the
full torchvision network (VGG-16's ``classifier.*`` head, ResNet-50's ``fc.*``, ViT's ``heads.*`` are
left out).

Its preprocessing is torchvision's unless the file holds a ``"visent_preprocess"`` entry (a dict
with ``mean``, ``std``, ``scale`` and optionally ``size``, as ``Preprocess.describe()`` writes it;
see :func:`visent.backbone.trunk.save_weights_file`).
"""

from __future__ import annotations

import functools
import hashlib
from pathlib import Path

from visent.backbone.entries.torchvision import TORCHVISION_PREPROCESS
from visent.backbone.errors import UnknownWeightsError, WeightsFileError
from visent.backbone.trunk import read_state_file
from visent.backbone.weights import Weights, register_weights, valid_specs, weights_id


@register_weights("file", "a torch state dict file of the trunk or of the full torchvision network", argument="PATH")
def file_weights(raw_path: str | None, backbone: str) -> Weights:
    if not raw_path:
        raise UnknownWeightsError("weights spec 'file:' needs a path, e.g. file:/models/vgg16.pt")
    path = Path(raw_path).expanduser().resolve()
    if not path.is_file():
        raise WeightsFileError(
            f"weights file not found: {path} (from spec 'file:{raw_path}'); give the path of a"
            f" torch state dict file, or use other weights: {valid_specs(backbone)}"
        )
    state, preprocess = read_state_file(path, backbone)
    with path.open("rb") as handle:
        sha256 = hashlib.file_digest(handle, "sha256").hexdigest()
    return Weights(
        # Content-addressed: feature caches keyed by the id notice a replaced file.
        id=weights_id(f"file:{path.name}@{sha256[:12]}", backbone),
        is_random=False,
        transform=preprocess or TORCHVISION_PREPROCESS,
        source=f"file {path}" + ("" if preprocess else " (no visent_preprocess entry: torchvision preprocessing)"),
        loader=functools.partial(dict, state),
        sha256=sha256,
        backbone=backbone,
    )
