"""Mappers: kinds chosen through one dict, widths checked."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from glossfree.config import validate
from glossfree.errors import ConfigError
from glossfree.models.mappers import MAPPERS, MapperConfig, build_mapper


def test_every_kind_maps_widths():
    assert set(MAPPERS) == {"linear", "mlp", "ff_stack", "identity"}
    x = torch.randn(2, 5, 8)
    assert build_mapper(MapperConfig(kind="linear"), 8, 12)(x).shape == (2, 5, 12)
    mlp = build_mapper(MapperConfig(kind="mlp", hidden_dim=20), 8, 12)
    assert mlp(x).shape == (2, 5, 12) and mlp[0].out_features == 20
    assert isinstance(build_mapper(MapperConfig(kind="identity"), 8, 8), nn.Identity)
    assert build_mapper(MapperConfig(kind="ff_stack"), 8, 12)(x).shape == (2, 5, 12)


def test_identity_with_different_widths_says_what_to_do():
    with pytest.raises(ConfigError, match=r"identity.*8-d.*12-d.*'linear' or 'mlp'"):
        build_mapper(MapperConfig(kind="identity"), 8, 12)


def test_unknown_kind_lists_choices():
    with pytest.raises(ConfigError, match=r"mapper: kind: .*'linear', 'mlp', 'ff_stack' or 'identity'.*'conv'"):
        validate(MapperConfig, {"kind": "conv"}, source="mapper")
