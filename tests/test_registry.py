"""The registries of layouts and weights: entries register themselves, one file adds one, and the
data chapter's two examples work as printed."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import torch

from visent.backbone import WEIGHTS, get_backbone, get_weights, save_weights_file
from visent.config import ConfigError, RunConfig
from visent.data.layouts import LAYOUTS, load_dataset
from visent.registry import Registry, UnknownEntryError

DATA_CHAPTER = Path(__file__).resolve().parents[1] / "book" / "data.md"


def chapter_examples() -> list[str]:
    """The python blocks of the data chapter's section on adding a layout or weights."""
    text = DATA_CHAPTER.read_text()
    section = text.split("## Adding a layout or backbone weights", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```python\n(.*?)```", section, flags=re.S)


@pytest.fixture
def scratch_registries(monkeypatch):
    """Entries registered by a test are gone after it."""
    for registry in (LAYOUTS, WEIGHTS):
        registry.names()  # load the shipped entries first
        monkeypatch.setattr(registry, "_entries", dict(registry._entries))


def test_the_shipped_layouts_and_weights_register_themselves():
    assert LAYOUTS.names() == ("folders", "manifest", "synthetic", "twitter", "twitter2", "vso")
    assert WEIGHTS.names() == ("file", "oxford-imagenet", "random", "torchvision-imagenet")
    assert LAYOUTS["twitter"].config_options == {"subset": "twitter_subset"}
    assert [entry.usage for _, entry in WEIGHTS.items()][0] == "file:PATH"


def test_an_unknown_name_suggests_the_closest_and_lists_all():
    with pytest.raises(UnknownEntryError, match=r"unknown dataset layout 'vsoo'; did you mean 'vso'\? Valid: folders"):
        LAYOUTS["vsoo"]


def test_an_entry_registered_twice_is_refused():
    registry: Registry[int] = Registry("thing", "visent.data.layouts")
    registry.add("one", 1)
    with pytest.raises(ValueError, match="thing 'one' is registered twice"):
        registry.add("one", 2)


def test_the_data_chapter_has_one_layout_and_one_weights_example():
    assert len(chapter_examples()) == 2


def test_the_chapters_layout_file_adds_a_dataset_layout(scratch_registries, tmp_path):
    exec(compile(chapter_examples()[0], "prefixed.py", "exec"), {})
    root = tmp_path / "flat"
    root.mkdir()
    for name in ("pos_a.jpg", "pos_b.jpg", "neg_c.jpg"):
        (root / name).write_bytes(b"x")  # layouts never decode images
    (root / "notes.txt").write_text("?")

    dataset = load_dataset("prefixed", root, cache=False)

    assert dataset.samples[["path", "label"]].values.tolist() == [["neg_c.jpg", 0], ["pos_a.jpg", 1], ["pos_b.jpg", 1]]
    assert [p.reason for p in dataset.report.problems] == ["unlabelled file"]
    assert RunConfig(dataset="prefixed", variant="gap").run_id == "synthetic-random-gap-s0"
    with pytest.raises(ConfigError, match="needs each image's ground-truth adjective, which the prefixed layout"):
        RunConfig(dataset="prefixed", variant="attention-truth")


def test_the_chapters_weights_file_adds_a_weights_spec(scratch_registries, tmp_path):
    exec(compile(chapter_examples()[1], "caffe.py", "exec"), {})
    state = get_backbone("vgg16").random_state(3)
    path = save_weights_file(tmp_path / "vgg16-caffe.pt", state)

    weights = get_weights(f"caffe:{path}")

    assert weights.id == "caffe:vgg16-caffe.pt"
    assert torch.equal(weights.state_dict()["0.weight"], state["0.weight"].flip(1))
    assert RunConfig(weights=f"caffe:{path}").weights == f"caffe:{path}"


def test_a_weights_spec_of_no_entry_is_refused_by_the_config():
    with pytest.raises(ConfigError, match=r"weights='caffe:x.pt' is not allowed; choose one of \['file:PATH'"):
        RunConfig(weights="caffe:x.pt")
