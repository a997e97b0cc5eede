"""The backbone registry: each architecture's trunk is torchvision's network cut where its entry says,
its region grid comes from the network at the input size, its weights come from torchvision's own
files (torch hub's cache), and a run on any of them goes end to end."""

from __future__ import annotations

import json
import urllib.error
from pathlib import Path

import numpy as np
import pytest
import torch
import torchvision
from PIL import Image

from visent.backbone import (
    BACKBONES,
    TORCHVISION_PREPROCESS,
    Trunk,
    WeightsFileError,
    WeightsUnavailableError,
    get_backbone,
    get_weights,
    output_shape,
    to_regions,
)
from visent.backbone.entries.torchvision import hub_file
from visent.cli import main
from visent.config import ConfigError, RunConfig
from visent.pipeline import evaluate_checkpoint
from visent.reporting.viz import overlay_grid

from .conftest import fast_run_flags


def test_the_registry_holds_the_papers_backbone_first_then_resnet50_and_vit_b_16():
    assert BACKBONES.names() == ("vgg16", "resnet50", "vit_b_16")


@pytest.mark.parametrize(
    ("backbone", "side", "expected"),
    [
        ("vgg16", 224, (196, 512, (14, 14))),
        ("vgg16", 448, (784, 512, (28, 28))),
        ("resnet50", 224, (49, 2048, (7, 7))),
        ("resnet50", 448, (196, 2048, (14, 14))),
        ("vit_b_16", 224, (196, 768, (14, 14))),
        ("vit_b_16", 448, (784, 768, (28, 28))),
    ],
)
def test_the_region_grid_follows_the_input_size(backbone, side, expected):
    assert output_shape((side, side), backbone=backbone) == expected


@pytest.mark.parametrize(("backbone", "side"), [("vgg16", 64), ("resnet50", 64), ("vit_b_16", 32)])
def test_a_trunk_on_random_weights_gives_the_shape_output_shape_promises(backbone, side):
    weights = get_weights("random", backbone).resized(side)
    regions, channels, grid = output_shape((side, side), backbone=backbone)
    with torch.inference_mode():
        fmap = Trunk(weights)(torch.randn(2, 3, side, side))
    assert fmap.shape == (2, channels, *grid)
    assert to_regions(fmap).shape == (2, regions, channels)


def test_resnet50_layer4_is_torchvisions_network_without_its_pooling_and_head():
    weights = get_weights("random", "resnet50")
    net = torchvision.models.resnet50()
    net.load_state_dict(weights.state_dict() | {"fc.weight": net.fc.weight, "fc.bias": net.fc.bias})
    net.eval()
    x = torch.randn(1, 3, 224, 224)
    with torch.inference_mode():
        ours = Trunk(weights)(x)
        stem = net.maxpool(net.relu(net.bn1(net.conv1(x))))
        theirs = net.layer4(net.layer3(net.layer2(net.layer1(stem))))
    assert ours.shape == (1, 2048, 7, 7)
    assert torch.equal(ours, theirs)


def test_vit_b_16_regions_are_the_patch_tokens_of_torchvisions_encoder_without_the_class_token():
    weights = get_weights("random", "vit_b_16")
    net = torchvision.models.vit_b_16()
    net.load_state_dict(weights.state_dict() | {f"heads.{k}": v for k, v in net.heads.state_dict().items()})
    net.eval()
    x = torch.randn(1, 3, 224, 224)
    with torch.inference_mode():
        regions = to_regions(Trunk(weights)(x))  # (1, 196, 768)
        tokens = net._process_input(x)
        encoded = net.encoder(torch.cat([net.class_token.expand(1, -1, -1), tokens], dim=1))  # (1, 197, 768)
    assert regions.shape == (1, 196, 768)
    torch.testing.assert_close(regions, encoded[:, 1:])


def test_random_weights_of_a_backbone_are_seeded_and_named_after_it():
    first, second = get_weights("random", "resnet50"), get_weights("random", "resnet50")
    torch.manual_seed(5)  # the global generator must not matter
    a, b = first.state_dict(), second.state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert first.id == "resnet50-random" and first.is_random and first.backbone == "resnet50"
    assert first.transform == TORCHVISION_PREPROCESS  # that of resnet50's default weights
    assert get_weights("random").id == "random"  # VGG-16's ids are the ones results were written with


def _torchvision_file(monkeypatch, tmp_path: Path, backbone: str) -> tuple[Path, dict[str, torch.Tensor]]:
    """A torch hub cache in ``tmp_path`` holding ``backbone``'s torchvision file (random values)."""
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path / "hub"))
    full = torchvision.models.get_model(backbone).state_dict()
    path = hub_file(get_backbone(backbone).torchvision_weights)
    path.parent.mkdir(parents=True)
    torch.save(full, path)
    return path, full


def test_torchvision_weights_are_read_from_the_torch_hub_cache(monkeypatch, tmp_path):
    path, full = _torchvision_file(monkeypatch, tmp_path, "resnet50")
    monkeypatch.setattr(torch.hub, "download_url_to_file", pytest.fail)  # present: nothing is downloaded

    weights = get_weights("torchvision-imagenet", "resnet50")
    state = weights.state_dict()

    assert path.name == "resnet50-11ad3fa6.pth" and path.parent == tmp_path / "hub" / "checkpoints"
    assert weights.id == "resnet50-torchvision-imagenet" and weights.transform == TORCHVISION_PREPROCESS
    assert "fc.weight" not in state and state.keys() == full.keys() - {"fc.weight", "fc.bias"}
    assert torch.equal(state["layer4.2.conv3.weight"], full["layer4.2.conv3.weight"])
    assert state["bn1.num_batches_tracked"].dtype == torch.int64  # buffers keep their kind


def test_torchvision_weights_offline_name_the_file_and_the_folder_to_put_it_in(monkeypatch, tmp_path):
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path / "hub"))

    def offline(url, dst, *args, **kwargs):
        raise urllib.error.URLError("[Errno -3] Temporary failure in name resolution")

    monkeypatch.setattr(torch.hub, "download_url_to_file", offline)
    with pytest.raises(WeightsUnavailableError) as error:
        get_weights("torchvision-imagenet", "vit_b_16").state_dict()
    message = str(error.value)
    assert "vit_b_16-c867db91.pth" in message and f"copy it into {tmp_path / 'hub' / 'checkpoints'}" in message


def test_a_file_of_the_full_torchvision_network_loads_and_a_wrong_backbone_is_named(tmp_path):
    full = torchvision.models.resnet50().state_dict()
    path = tmp_path / "resnet50.pt"
    torch.save(full, path)

    state = get_weights(f"file:{path}", "resnet50").state_dict()

    assert torch.equal(state["conv1.weight"], full["conv1.weight"]) and "fc.bias" not in state
    with pytest.raises(WeightsFileError, match="not a VGG-16 trunk state dict.*add --backbone resnet50"):
        get_weights(f"file:{path}")


def test_the_config_takes_each_backbones_default_weights_and_refuses_what_does_not_fit_it():
    config = RunConfig(backbone="resnet50", variant="gap")
    assert config.weights == "torchvision-imagenet"
    assert config.run_id == "synthetic-random-gap-resnet50-s0"
    assert RunConfig(variant="gap").weights == "oxford-imagenet"
    assert RunConfig(variant="gap").run_id == "synthetic-random-gap-s0"  # the paper's backbone: ids as before
    with pytest.raises(ConfigError, match="'oxford-imagenet' are VGG-16 weights, not resnet50's"):
        RunConfig(backbone="resnet50", weights="oxford-imagenet")
    with pytest.raises(ConfigError, match="image_size=80: resnet50 downsamples 32x"):
        RunConfig(backbone="resnet50", image_size=80)
    with pytest.raises(ConfigError, match=r"finetune='conv5': vit_b_16 can train \[\]"):
        RunConfig(backbone="vit_b_16", finetune="conv5", variant="gap")
    with pytest.raises(ConfigError, match="unknown backbone|backbone='resnet18' is not allowed"):
        RunConfig(backbone="resnet18")


def _images(root: Path, n: int = 16, side: int = 48) -> Path:
    """A folders tree of ``n`` tiny images: the positive ones red, the negative ones blue."""
    rng = np.random.default_rng(0)
    for i in range(n):
        label = "positive" if i % 2 else "negative"
        pixels = rng.integers(0, 80, (side, side, 3), dtype=np.uint8)
        pixels[..., 0 if i % 2 else 2] = 220
        (root / label).mkdir(parents=True, exist_ok=True)
        Image.fromarray(pixels).save(root / label / f"{i:02d}.jpg")
    return root


@pytest.mark.parametrize(
    ("backbone", "side", "regions", "channels"), [("resnet50", 64, 4, 2048), ("vgg16", 448, 784, 512)]
)
def test_a_run_goes_end_to_end_with_the_shapes_of_its_backbone(tmp_path, backbone, side, regions, channels):
    """extract -> train -> evaluate -> attention maps, on random weights and a few tiny images."""
    data = _images(tmp_path / "data")
    where = ["--dataset", "folders", "--data-root", str(data), "--backbone", backbone, "--image-size", str(side)]
    extract = [*where, "--weights", "random", "--cache-dir", str(tmp_path / "c"), "--quiet"]
    assert main(["extract", *extract]) == 0
    assert main(["train", *where, "--variant", "attention-learned", *fast_run_flags(tmp_path)]) == 0

    run_id = "data-random-attention-learned" + ("" if backbone == "vgg16" else f"-{backbone}") + "-s0"
    result = json.loads((tmp_path / "r" / f"{run_id}.json").read_text())
    manifest = json.loads((Path(result["backbone"]["cache"]) / "manifest.json").read_text())
    assert manifest["shape"] == [regions, channels]
    assert result["backbone"]["weights"]["backbone"] == backbone
    assert {len(example["o"]) for example in result["examples"]} == {regions}
    evaluated = evaluate_checkpoint(tmp_path / "k" / f"{run_id}.pt", progress=False)
    assert evaluated["accuracy"] == result["metrics"]["test_accuracy"]

    examples = result["examples"]
    images = [Image.open(data / e["path"]) for e in examples]
    overlay_grid(images, np.array([e["o"] for e in examples]), path=tmp_path / "maps.png")
    assert (tmp_path / "maps.png").stat().st_size > 0
