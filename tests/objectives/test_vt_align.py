"""vt_align (SpaMo's VT-Align) against a hand-computed case, and its config."""

from __future__ import annotations

import math

import pytest
import torch
from pydantic import TypeAdapter

from glossfree.config import validate
from glossfree.errors import ConfigError
from glossfree.objectives import OBJECTIVES, ObjectiveConfig, PointDims, VTAlign, VTAlignConfig
from glossfree.objectives.base import masked_mean
from glossfree.objectives.clip_global import clip_loss


def test_hand_computed_pooled_pairs():
    # video 0 tokens (2,0),(0,2) -> mean (1,1); video 1 tokens (0,3) + pad -> (0,3)
    # sentence 0 embeddings (1,0),(1,2) -> (1,1); sentence 1 (-1,0),(1,4) -> (0,2)
    visual = torch.tensor([[[2.0, 0.0], [0.0, 2.0]], [[0.0, 3.0], [9.0, 9.0]]])
    visual_mask = torch.tensor([[True, True], [True, False]])
    text = torch.tensor([[[1.0, 0.0], [1.0, 2.0]], [[-1.0, 0.0], [1.0, 4.0]]])
    r = 1 / math.sqrt(2)
    cos = [[1.0, r], [r, 1.0]]  # (1,1)/(0,1) cosines, rows = videos
    scale = 1 / 0.07

    def ce(row, target):
        return -scale * row[target] + math.log(sum(math.exp(scale * x) for x in row))

    expected = (ce(cos[0], 0) + ce(cos[1], 1) + ce([cos[0][0], cos[1][0]], 0) + ce([cos[0][1], cos[1][1]], 1)) / 4
    video, sentence = masked_mean(visual, visual_mask), masked_mean(text, torch.ones(2, 2, dtype=torch.bool))
    head = VTAlign(VTAlignConfig(), PointDims(frontend=6, compressor=5, tokens=2, encoder=2, text=2))
    loss, accuracy = clip_loss(video, sentence, head.logit_scale)
    assert loss.item() == pytest.approx(expected, rel=1e-5) and accuracy.item() == 1.0
    assert head.log_logit_scale.item() == pytest.approx(math.log(1 / 0.07))


def test_config_is_the_paper_form():
    config = TypeAdapter(ObjectiveConfig).validate_python({"kind": "vt_align"})
    assert isinstance(config, VTAlignConfig) and OBJECTIVES["vt_align"] is VTAlign
    assert (config.visual, config.text, config.proj_dim, config.temperature) == ("tokens", "embeddings", None, 0.07)
    with pytest.raises(ConfigError, match="proj_dim"):
        validate(VTAlignConfig, {"proj_dim": 8})
    with pytest.raises(ConfigError, match="proj_dim null"):  # the visual point must have the LM's width
        VTAlign(VTAlignConfig(visual="frontend"), PointDims(frontend=6, compressor=5, tokens=4, encoder=4, text=4))
