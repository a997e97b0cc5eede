"""Property-based tests of every parser of user files: arbitrary bytes and lines never crash
other than with the project's own clear error, and every line that is not used is reported."""

from __future__ import annotations

import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from visent.data.folds import FoldsError, read_folds
from visent.data.layouts import DatasetNotFoundError, LayoutError, load_dataset
from visent.data.ontology import OntologyError, load_ontology
from visent.model.embeddings import EmbeddingError, load_glove

SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
IMAGES = ("a.jpg", "b.jpg", "c.png")

line_text = st.text(
    st.characters(blacklist_categories=("Cs",), blacklist_characters="\r\n\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029"),
    max_size=30,
)


def _tmp() -> Path:
    return Path(tempfile.mkdtemp(prefix="visent-property-"))


def _images(root: Path) -> Path:
    (root / "images").mkdir(parents=True, exist_ok=True)
    for name in IMAGES:
        (root / "images" / name).write_bytes(b"x")  # layouts never decode images
    return root


@SETTINGS
@given(st.binary(max_size=400))
def test_the_ontology_parser_reads_any_bytes_or_names_the_problem(raw):
    path = _tmp() / "ontology.txt"
    path.write_bytes(raw)
    try:
        ontology = load_ontology(path)
    except OntologyError as err:
        assert str(path) in str(err)
    else:
        assert ontology.adjectives


vso_line = st.one_of(
    st.sampled_from(
        [
            "1. happy [sentiment: 1.2] [#images: 1,000]",
            "\thappy_dog [sentiment: 1.5] [#imgs: 10]",
            "\thappy_cat [sentiment: 0.9] [#imgs: 3]",
            "2. sad [sentiment: -1.0] [#images: 5]",
            "\tsad_rain [sentiment: -1.3] [#imgs: 7]",
            "",
        ]
    ),
    line_text,
)


@SETTINGS
@given(st.lists(vso_line, max_size=12))
def test_every_line_of_a_vso_ontology_is_an_entry_prose_before_the_first_one_or_an_error(lines):
    path = _tmp() / "ontology.txt"
    path.write_text("\n".join(lines), encoding="utf-8")
    try:
        ontology = load_ontology(path)
    except OntologyError as err:
        assert str(path) in str(err)
        return
    if ontology.format != "vso":
        return
    first = next(n for n, line in enumerate(lines) if "[sentiment:" in line)
    entries = [line for line in lines[first:] if line.strip()]
    assert len(entries) == len(ontology.adjectives) + len(ontology.anps)


label_line = st.one_of(
    st.tuples(st.sampled_from(IMAGES + ("missing.jpg",)), st.sampled_from(["0", "1", "2", "yes"])).map(" ".join),
    line_text,
)


@SETTINGS
@given(st.lists(label_line, max_size=12))
def test_every_line_of_a_twitter_label_file_is_a_sample_or_reported(lines):
    root = _images(_tmp())
    (root / "twitter_five_agrees.txt").write_text("\n".join(lines), encoding="utf-8")
    dataset = load_dataset("twitter", root, cache=False, subset="five")
    data_lines = sum(1 for line in lines if line.strip())
    reported = {p.path for p in dataset.report.problems}
    assert len(dataset.samples) + len(reported) == data_lines


cell = st.text(st.characters(blacklist_categories=("Cs", "Cc"), blacklist_characters='",\u2028\u2029\x85'), max_size=8)
manifest_row = st.tuples(
    st.one_of(st.sampled_from([f"images/{n}" for n in IMAGES] + ["images/missing.jpg"]), cell),
    st.one_of(st.sampled_from(["0", "1", "positive", "neg"]), cell),
    st.one_of(st.sampled_from(["train", "val", "test", ""]), cell),
).map(",".join)


@SETTINGS
@given(
    st.lists(manifest_row, max_size=12),
    st.sampled_from(["path,label,split", "path,label", "file,label", "path,label,split,extra"]),
)
def test_every_row_of_a_manifest_is_a_sample_or_reported(rows, header):
    root = _images(_tmp())
    (root / "manifest.csv").write_text("\n".join([header, *rows]) + "\n", encoding="utf-8")
    try:
        dataset = load_dataset("manifest", root / "manifest.csv", cache=False)
    except LayoutError as err:
        assert "manifest" in str(err) and "file" in header
        return
    row_problems = {p.path for p in dataset.report.problems if p.reason != "ignored column"}
    assert len(dataset.samples) + len(row_problems) == sum(1 for row in rows if row != "")


@SETTINGS
@given(
    st.lists(
        st.one_of(st.sampled_from(["the 0.1 0.2", "cat 1 2", "dog 3 4 5", "a b 1 2", "2 2", ""]), line_text),
        max_size=10,
    )
)
def test_every_line_of_a_glove_text_file_is_a_vector_or_an_error(lines):
    path = _tmp() / "glove.txt"
    path.write_text("\n".join(lines), encoding="utf-8")
    try:
        vectors = load_glove(str(path))
    except EmbeddingError as err:
        assert str(path.resolve()) in str(err) or str(path) in str(err)
        return
    used = [line for line in lines if line.rstrip(" ") != ""]
    header = (
        1
        if used
        and lines
        and lines[0] == used[0]
        and all(f.isdigit() for f in used[0].split(" "))
        and len(used[0].split(" ")) == 2
        else 0
    )
    assert len(vectors) == len(used) - header


@SETTINGS
@given(st.binary(max_size=200), st.binary(max_size=200))
def test_the_fold_reader_reads_any_bytes_or_names_the_file(train, test):
    root = _tmp()
    for k in (1, 2):
        (root / f"test{k}").mkdir()
        (root / f"test{k}" / "train.txt").write_bytes(train)
        (root / f"test{k}" / "test.txt").write_bytes(test)
    try:
        folds = read_folds(root)
    except FoldsError as err:
        assert str(root) in str(err)
    else:
        assert len(folds) == 2


def test_missing_twitter_label_file_is_a_clear_error():
    root = _images(_tmp())
    try:
        load_dataset("twitter", root, cache=False, subset="five")
    except DatasetNotFoundError as err:
        assert "twitter_five_agrees.txt does not exist" in str(err)
