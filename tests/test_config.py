"""Config loading: unknown keys, wrong types and bad YAML give errors naming the file and key."""

import pytest
from pydantic import Field

from glossfree.config import StrictModel, apply_overrides, load_config, validate
from glossfree.errors import ConfigError


class Inner(StrictModel):
    depth: int = 2
    width: int = Field(8, gt=0)


class Outer(StrictModel):
    name: str = "x"
    inner: Inner = Field(default_factory=Inner)
    layers: list[Inner] = Field(default_factory=list)


def test_unknown_key_names_file_dotted_key_and_valid_keys(tmp_path):
    path = tmp_path / "recipe.yaml"
    path.write_text("inner:\n  depht: 3\n")
    with pytest.raises(ConfigError) as error:
        load_config(Outer, path)
    message = str(error.value)
    assert str(path) in message
    assert "inner.depht" in message
    assert "valid keys: depth, width" in message


def test_unknown_key_inside_list_lists_valid_keys():
    with pytest.raises(ConfigError, match=r"layers\.1\.wdth'; valid keys: depth, width"):
        validate(Outer, {"layers": [{}, {"wdth": 1}]}, source="cfg")


def test_unknown_top_level_key():
    with pytest.raises(ConfigError, match="unknown key 'nmae'; valid keys: inner, layers, name"):
        validate(Outer, {"nmae": "y"}, source="cfg")


def test_wrong_value_names_key_and_value(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("inner:\n  width: -1\n")
    with pytest.raises(ConfigError, match=r"c\.yaml: inner\.width: .*greater than 0.*-1"):
        load_config(Outer, path)


def test_missing_file_and_bad_yaml(tmp_path):
    with pytest.raises(ConfigError, match="config file not found"):
        load_config(Outer, tmp_path / "nope.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("a: [1, 2\n")
    with pytest.raises(ConfigError, match="bad.yaml: not valid YAML"):
        load_config(Outer, bad)
    listing = tmp_path / "list.yaml"
    listing.write_text("- 1\n")
    with pytest.raises(ConfigError, match="expected a mapping"):
        load_config(Outer, listing)


def test_overrides(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("inner:\n  depth: 3\n")
    config = load_config(Outer, path, ["inner.width=16", "name=run"])
    assert (config.inner.depth, config.inner.width, config.name) == (3, 16, "run")
    assert apply_overrides({"a": {"b": 1}}, ["a.c=[1, 2]"]) == {"a": {"b": 1, "c": [1, 2]}}
    with pytest.raises(ConfigError, match="must look like key.path=value"):
        apply_overrides({}, ["novalue"])
    assert apply_overrides({"s": [{"e": 1}, {"e": 2}]}, ["s.1.e=5"]) == {"s": [{"e": 1}, {"e": 5}]}
    with pytest.raises(ConfigError, match="'7' is not an index of a list of 2"):
        apply_overrides({"s": [{}, {}]}, ["s.7.e=5"])
    with pytest.raises(ConfigError, match="'a' is not a section"):
        apply_overrides({"a": 1}, ["a.b=2"])


def test_unknown_key_inside_a_discriminated_union_lists_that_members_keys():
    from glossfree.models.slt import SLTModelConfig

    with pytest.raises(ConfigError, match=r"unknown key 'compressor\.window' \(kind 'none'\); valid keys: kind"):
        validate(SLTModelConfig, {"compressor": {"kind": "none", "window": 4}}, source="cfg")
    with pytest.raises(ConfigError, match=r"compressor\.windw' \(kind 'sliding_perceiver'\); valid keys: .*window"):
        validate(SLTModelConfig, {"compressor": {"kind": "sliding_perceiver", "windw": 4}}, source="cfg")


def test_a_bad_override_is_blamed_not_the_file(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("inner:\n  depth: 3\n")
    with pytest.raises(ConfigError, match=r"^--set inner\.width=abc: inner\.width: Input should be a valid integer"):
        load_config(Outer, path, ["inner.width=abc"])
    with pytest.raises(ConfigError, match=r"^--set inner\.wdth=3: unknown key 'inner\.wdth'; valid keys: depth, width"):
        load_config(Outer, path, ["inner.wdth=3"])
    path.write_text("inner:\n  width: -1\n")
    with pytest.raises(ConfigError, match=r"c\.yaml: inner\.width: .*greater than 0"):  # the file's own value
        load_config(Outer, path, ["name=run"])
    with pytest.raises(ConfigError, match=r"^--set inner\.width=\[1: the value is not valid YAML"):
        load_config(Outer, path, ["inner.width=[1"])


def test_a_section_check_names_the_overrides_inside_it():
    from glossfree.training.tasks import load_recipe

    with pytest.raises(ConfigError) as caught:
        load_recipe("pose_perceiver/tiny", ["stages.0.max_epochs=5", "stages.0.val_every_n_epochs=2", "seed=1"])
    message = str(caught.value)
    assert "tiny.yaml with --set stages.0.max_epochs=5, --set stages.0.val_every_n_epochs=2: stages.0: " in message
    assert "max_epochs 5 is not a multiple of val_every_n_epochs 2" in message
    assert "seed=1" not in message and "(got {" not in message


def test_a_bad_override_inside_a_discriminated_union_is_blamed(tmp_path):
    from glossfree.training.tasks import load_recipe

    with pytest.raises(ConfigError, match=r"^--set model\.compressor\.window=x: model\.compressor\.window \(kind 'sliding_perceiver'\): "):
        load_recipe("pose_perceiver/tiny", ["model.compressor.window=x"])
