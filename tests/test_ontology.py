"""Specification of visent.data.ontology: reading and writing VSO / MVSO ANP ontologies."""

import re
from pathlib import Path

import pytest

from visent.data.ontology import (
    NoPolarityError,
    Ontology,
    OntologyError,
    UnknownNameError,
    load_ontology,
    write_vso_ontology,
)

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
VSO = DATA / "vso" / "3244ANPs.txt"
MVSO = DATA / "mvso" / "mvso_sentiment_english.csv"


@pytest.fixture(scope="module")
def vso() -> Ontology:
    return load_ontology(VSO)


def _vso_lines() -> list[str]:
    return VSO.read_bytes().decode("utf-8").split("\r\n")


def _positive_negative(ontology: Ontology) -> tuple[int, int]:
    polarities = [ontology.polarity(anp) for anp in ontology.anps]
    return sum(polarities), len(polarities) - sum(polarities)


def test_real_vso_file_has_269_adjectives_and_3244_anps(vso):
    assert len(vso.adjectives) == 269
    assert len(vso.anps) == 3244
    assert vso.format == "vso"
    assert vso.source == str(VSO)


def test_real_vso_file_has_1789_positive_and_1455_negative_anps(vso):
    assert _positive_negative(vso) == (1789, 1455)
    assert vso.zero_score_anps == 0
    assert sum(vso.adjective_polarity(adjective) for adjective in vso.adjectives) == 127


def test_parser_reads_crlf_file_with_header_prose_scores_and_thousands_separated_counts(vso):
    assert vso.adjectives["beautiful"] == 1.00
    assert vso.adjective_images["beautiful"] == 18_487_527
    assert vso.anps["beautiful_flower"] == ("beautiful", "flower", 1.77)
    assert vso.anp_images["beautiful_flower"] == 2_380_000
    assert vso.anps["enthusiastic_artist"] == ("enthusiastic", "artist", 1.76)
    assert vso.adjectives["dark"] == -1.00


def test_repr_summarises_instead_of_dumping_the_tables(vso):
    assert repr(vso) == f"Ontology(source={str(VSO)!r}, format='vso', adjectives=269, anps=3244)"


def test_nouns_are_the_distinct_nouns_sorted(vso):
    assert len(vso.nouns) == 528
    assert vso.nouns == sorted(vso.nouns)
    assert "flower" in vso.nouns


def test_parser_reads_lf_files_without_header_prose(tmp_path, vso):
    lines = _vso_lines()
    first_entry = next(i for i, line in enumerate(lines) if line.startswith("1. "))
    path = tmp_path / "lf_no_header.txt"
    path.write_bytes("\n".join(lines[first_entry:]).encode())
    variant = load_ontology(path)
    assert variant.anps == vso.anps
    assert variant.adjectives == vso.adjectives
    assert variant.anp_images == vso.anp_images


def test_parser_ignores_a_dummy_zero_sample_block_and_notes_it(tmp_path, vso):
    lines = _vso_lines()
    first_entry = next(i for i, line in enumerate(lines) if line.startswith("1. "))
    sample = ["0. sample [sentiment: 0.00] [#images: 0]", "\tsample_anp [sentiment: 0.00] [#imgs: 0]"]
    path = tmp_path / "with_sample.txt"
    path.write_text("\n".join(lines[:first_entry] + sample + lines[first_entry:]), newline="\n")
    variant = load_ontology(path)
    assert "sample" not in variant.adjectives and "sample_anp" not in variant.anps
    assert len(variant.anps) == 3244
    assert variant.notes == (f"ignored the dummy '0. sample' block starting at line {first_entry + 1}",)


def test_parser_accepts_imgs_and_images_labels_on_either_line_kind(tmp_path):
    path = tmp_path / "labels.txt"
    path.write_text("1. calm [sentiment: 0.5] [#imgs: 1,002]\n\tcalm_lake [sentiment: 1.25] [#images: 7]\n")
    ontology = load_ontology(path)
    assert ontology.adjective_images == {"calm": 1002}
    assert ontology.anp_images == {"calm_lake": 7}


def test_parser_reads_files_without_image_counts_as_empty_anp_images(tmp_path):
    path = tmp_path / "no_counts.txt"
    path.write_text("1. calm [sentiment: 0.5]\n\tcalm_lake [sentiment: 1.25]\n")
    assert load_ontology(path).anp_images == {}


CALM = "1. calm [sentiment: 0.5]\n"


@pytest.mark.parametrize(
    ("body", "line", "fragment"),
    [
        (CALM + "\tcalm_lake [sentiment: high]\n", 2, "malformed line"),
        ("1. calm [sentiment: 0.5] [#images: 12,34]\n", 1, "malformed line"),
        (CALM + "\tstormy_sea [sentiment: -1.0]\n", 2, "listed under adjective 'calm'"),
        ("\tcalm_lake [sentiment: 1.0]\n" + CALM, 1, "before any adjective"),
        (CALM + "\tcalm_lake [sentiment: 1]\n\tcalm_lake [sentiment: 1]\n", 3, "also appears on line 2"),
        (CALM + "2. calm [sentiment: 0.5]\n", 2, "appears twice"),
        (CALM + "\tcalm_lake [sentiment: 1] [#imgs: 3]\n\tcalm_sea [sentiment: 1]\n", 3, "no [#imgs: N]"),
    ],
)
def test_malformed_vso_lines_raise_naming_file_and_line(tmp_path, body, line, fragment):
    path = tmp_path / "bad.txt"
    path.write_text(body)
    with pytest.raises(OntologyError, match=re.escape(fragment)) as caught:
        load_ontology(path)
    assert caught.value.path == str(path)
    assert caught.value.line == line
    assert f"{path}, line {line}:" in str(caught.value)


def test_mvso_csv_has_4421_anps_split_at_the_first_underscore():
    mvso = load_ontology(MVSO)
    assert mvso.format == "mvso"
    assert len(mvso.anps) == 4421
    assert mvso.anps["tiny_dog"] == ("tiny", "dog", 0.125)
    assert mvso.anp_images == {}
    assert _positive_negative(mvso) == (2418, 2003)


def test_mvso_adjective_score_is_the_mean_of_its_anp_scores(tmp_path):
    path = tmp_path / "mvso.csv"
    path.write_text("old_books,0.5\r\nold_car,-0.1\r\nold_stone_wall,0.2\r\nnew_car,0.3\r\n")
    ontology = load_ontology(path)
    assert ontology.adjectives["old"] == pytest.approx(0.2)
    assert ontology.anps["old_stone_wall"] == ("old", "stone_wall", 0.2)
    assert ontology.adjectives["new"] == 0.3


@pytest.mark.parametrize(
    ("body", "line", "fragment"),
    [
        ("tiny_dog,0.1\nbig,0.2\n", 2, "not of the form 'adjective_noun'"),
        ("tiny_dog,0.1\ntiny_cat,much\n", 2, "not a finite number"),
        ("tiny_dog,0.1\ntiny_cat,nan\n", 2, "not a finite number"),
        ("tiny_dog,0.1\ntiny_cat,0.2,extra\n", 2, "expected 2 fields"),
        ("tiny_dog,0.1\ntiny_dog,0.2\n", 2, "also appears on line 1"),
    ],
)
def test_malformed_mvso_rows_raise_naming_file_and_line(tmp_path, body, line, fragment):
    path = tmp_path / "bad.csv"
    path.write_text(body)
    with pytest.raises(OntologyError, match=re.escape(fragment)) as caught:
        load_ontology(path)
    assert caught.value.line == line


def test_a_plain_anp_list_is_rejected_as_not_an_ontology():
    with pytest.raises(OntologyError, match="no scores and is not an ontology"):
        load_ontology(DATA / "vso" / "1200ANPsv1.1.txt")


def test_missing_and_empty_files_raise_ontology_errors(tmp_path):
    with pytest.raises(OntologyError, match="cannot read"):
        load_ontology(tmp_path / "absent.txt")
    (tmp_path / "empty.txt").write_text("\n\n")
    with pytest.raises(OntologyError, match="empty"):
        load_ontology(tmp_path / "empty.txt")


def test_zero_score_anps_are_counted_and_have_no_polarity(tmp_path):
    path = tmp_path / "zero.csv"
    path.write_text("plain_wall,0\nplain_door,0.0\nsunny_day,0.4\n")
    ontology = load_ontology(path)
    assert ontology.zero_score_anps == 2
    assert ontology.polarity("sunny_day") == 1
    with pytest.raises(NoPolarityError, match="'plain_wall' has sentiment score exactly 0"):
        ontology.polarity("plain_wall")
    with pytest.raises(NoPolarityError, match="adjective 'plain'"):
        ontology.adjective_polarity("plain")


def test_unknown_names_raise_a_key_error_naming_the_name(vso):
    with pytest.raises(UnknownNameError, match="ANP 'Beautiful_flower' is not in the ontology"):
        vso.polarity("Beautiful_flower")
    with pytest.raises(KeyError, match="adjective 'velvety'"):
        vso.adjective_polarity("velvety")


def test_writing_then_reading_gives_back_the_same_tables(tmp_path, vso):
    path = tmp_path / "ontology.txt"
    write_vso_ontology(path, vso.anps, vso.adjectives, vso.anp_images)
    again = load_ontology(path)
    assert again.anps == vso.anps
    assert again.adjectives == vso.adjectives
    assert again.anp_images == vso.anp_images
    assert list(again.anps) == list(vso.anps)
    assert "1. beautiful [sentiment: 1.00] [#images:" in path.read_text()


def test_writing_keeps_scores_that_need_more_than_two_decimals_and_omits_unknown_counts(tmp_path):
    path = tmp_path / "ontology.txt"
    anps = {"calm_lake": ("calm", "lake", 0.123456789)}
    write_vso_ontology(path, anps, {"calm": 1 / 3})
    again = load_ontology(path)
    assert again.anps == anps
    assert again.adjectives == {"calm": 1 / 3}
    assert again.anp_images == {}


@pytest.mark.parametrize(
    ("anps", "adjectives", "images", "fragment"),
    [
        ({"calm_lake": ("calm", "lake", 1.0)}, {}, None, "missing from adjective_scores"),
        ({"calm_lake": ("calm", "sea", 1.0)}, {"calm": 1.0}, None, "does not match its entry"),
        ({"calm_lake": ("calm", "lake", 1.0)}, {"calm": 1.0}, {}, "missing ['calm_lake']"),
        ({"calm_lake": ("calm", "lake", float("nan"))}, {"calm": 1.0}, None, "finite score"),
    ],
)
def test_writing_inconsistent_tables_raises_naming_the_entry(tmp_path, anps, adjectives, images, fragment):
    with pytest.raises(OntologyError, match=re.escape(fragment)):
        write_vso_ontology(tmp_path / "ontology.txt", anps, adjectives, images)
