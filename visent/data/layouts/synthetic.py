"""A ``visent synth`` folder: the vso layout with its own ontology, region boxes and config."""

from __future__ import annotations

import json
from pathlib import Path

from visent.data.layouts.base import DatasetNotFoundError, LayoutError, register
from visent.data.layouts.vso import index_vso
from visent.data.table import Dataset


@register("synthetic", "a folder written by `visent synth`: the vso layout with ontology.txt, regions.csv, synth.json")
def load_synthetic(root: Path, *, name: str | None = None) -> Dataset:
    """A ``visent synth`` folder: the vso layout with its own ontology and region boxes.

    ``synth.json`` (the generator's config) goes into ``meta["synth"]``; a folder whose
    generation did not complete is refused. ``noise.csv`` (the label-noise audit) is
    expected at the root and recorded in ``meta["noise"]``.
    """
    needed = {f: root / f for f in ("ontology.txt", "regions.csv", "synth.json")}
    for file_name, path in needed.items():
        if not path.is_file():
            raise DatasetNotFoundError(
                f"{root} is not a synthetic dataset: {file_name} is missing; create it with `visent synth {root}`"
            )
    try:
        config = json.loads(needed["synth.json"].read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise LayoutError(f"{needed['synth.json']} is not valid JSON ({err}); regenerate with `visent synth`") from None
    if isinstance(config, dict) and config.get("complete") is False:
        raise LayoutError(f"{root}: synth.json says generation did not finish; run `visent synth` on it again")
    noise = root / "noise.csv"
    meta = {"layout": "synthetic", "synth": config, "noise": str(noise) if noise.is_file() else None}
    return index_vso(root, needed["ontology.txt"], needed["regions.csv"], name, meta, needed["synth.json"], noise)
