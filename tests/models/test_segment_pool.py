"""Issue 25, items 2-3: SAGE's segment tokenizer (``segment_pool``), its VE, and the ``ff_stack`` mapper."""

from __future__ import annotations

import pytest
import torch

from glossfree.config import validate
from glossfree.errors import ConfigError
from glossfree.models.mappers import MapperConfig, build_mapper
from glossfree.models.slt import SLTModelConfig, required_inputs
from glossfree.models.temporal.segment_pool import (
    SegmentPool,
    SegmentPoolConfig,
    batch_segments,
)
from glossfree.objectives import ClclTokenConfig
from glossfree.training.tasks.translation import build_slt_model

TINY = {"kind": "segment_pool", "dim": 16, "context_layers": 1, "context_heads": 2, "context_ff_dim": 32, "dropout": 0.0}


def tiny(**override) -> SegmentPool:
    config = validate(SegmentPoolConfig, {**TINY, **override}, source="t")
    return SegmentPool(config, 6, 32)


def spans(rows: list[list[tuple[int, int]]]) -> tuple[torch.Tensor, torch.Tensor]:
    count = max(len(r) for r in rows)
    out = torch.zeros(len(rows), count, 2, dtype=torch.long)
    mask = torch.zeros(len(rows), count, dtype=torch.bool)
    for i, row in enumerate(rows):
        for j, span in enumerate(row):
            out[i, j], mask[i, j] = torch.tensor(span), True
    return out, mask


def test_defaults_are_the_paper_sizes():
    config = SegmentPoolConfig()
    assert (config.dim, config.kernel_size, config.context_layers, config.context_in_tokens) == (1024, 5, 3, False)
    with pytest.raises(ValueError, match="odd"):
        SegmentPoolConfig(kernel_size=4)
    with pytest.raises(ValueError, match="context_layers > 0"):
        SegmentPoolConfig(context_layers=0, context_in_tokens=True)


def test_one_token_per_segment_is_the_mean_of_conv_bn_relu_inside_it():
    torch.manual_seed(0)
    model = tiny().eval()
    features = torch.randn(1, 20, 6)
    segs, segs_mask = spans([[(2, 9), (9, 12), (15, 20)]])  # 7, 3 (shorter than the kernel) and 5 frames
    tokens, mask = model(features, torch.ones(1, 20, dtype=torch.bool), segments=segs, segment_mask=segs_mask)
    assert tokens.shape == (1, 3, 16) and mask.tolist() == [[True, True, True]]

    def by_hand(frames: torch.Tensor) -> torch.Tensor:
        h = model.conv(frames.T[None])[0].T  # valid convolution: n - 4 outputs
        return torch.relu(model.norm.norm(h)).mean(dim=0)

    torch.testing.assert_close(tokens[0, 0], by_hand(features[0, 2:9]))
    # 3 frames: zero-padded to 5, one on each side -> one output
    padded = torch.cat([torch.zeros(1, 6), features[0, 9:12], torch.zeros(1, 6)])
    torch.testing.assert_close(tokens[0, 1], by_hand(padded))
    torch.testing.assert_close(tokens[0, 2], by_hand(features[0, 15:20]))


def test_padding_and_batch_neighbours_do_not_change_a_sample():
    torch.manual_seed(1)
    model = tiny().eval()
    features = torch.randn(2, 30, 6)
    alone_spans, alone_mask = spans([[(0, 6), (6, 14)]])
    alone, _ = model(features[:1, :14], torch.ones(1, 14, dtype=torch.bool), segments=alone_spans, segment_mask=alone_mask)
    frame_mask = torch.zeros(2, 30, dtype=torch.bool)
    frame_mask[0, :14], frame_mask[1] = True, True
    features[0, 14:] = 1e3  # padding frames hold garbage: never read
    segs, segs_mask = spans([[(0, 6), (6, 14)], [(0, 4), (4, 11), (11, 19), (19, 30)]])
    batched, mask = model(features, frame_mask, segments=segs, segment_mask=segs_mask)
    assert mask.sum(dim=1).tolist() == [2, 4]
    torch.testing.assert_close(batched[0, :2], alone[0])
    assert batched[0, 2:].abs().sum() == 0
    # the VE too: padded tokens are never attended
    from glossfree.models.outputs import VisualTokens

    ve_alone = model.contextualize(VisualTokens(alone, torch.ones(1, 2, dtype=torch.bool)))
    ve_batch = model.contextualize(VisualTokens(batched, mask))
    torch.testing.assert_close(ve_batch.features[0, :2], ve_alone.features[0], atol=1e-5, rtol=1e-5)
    assert ve_batch.features[0, 2:].abs().sum() == 0


def test_spans_are_clipped_in_order_and_a_sample_without_any_gets_its_whole_clip():
    segs, segs_mask = spans([[(0, 5), (5, 12), (12, 40)], [(3, 4)]])
    segs_mask[1, 0] = False  # the second sample has no segment
    out, mask = batch_segments(segs, segs_mask, torch.tensor([20, 9]))
    assert out[0, : int(mask[0].sum())].tolist() == [[0, 5], [5, 12], [12, 20]]
    assert out[1, : int(mask[1].sum())].tolist() == [[0, 9]]
    rows = out[0][mask[0]]
    assert (rows[1:, 0] >= rows[:-1, 1]).all() and (rows[:, 1] > rows[:, 0]).all()  # in order, no overlap


def test_in_an_slt_model_with_ve_and_ff_stack(t5_tokenizer, tiny_config, make_batch):
    config = tiny_config({"compressor": TINY, "mapper": {"kind": "ff_stack", "dropout": 0.1}})
    assert "segments" in required_inputs(config)
    torch.manual_seed(0)
    objectives = [
        ClclTokenConfig(name="clcl_ce", visual="tokens", text="embeddings", proj_dim=None),
        ClclTokenConfig(name="clcl_hs", visual="context", text="encoder", proj_dim=8),
    ]
    model = build_slt_model(config, t5_tokenizer, objectives)
    batch = make_batch([12, 20])
    batch.segments, batch.segment_mask = spans([[(0, 6), (6, 12)], [(2, 7), (7, 13), (13, 20)]])
    out = model.train()(batch, objectives={"clcl_ce": 0.6, "clcl_hs": 0.4})
    assert out.visual["tokens"].mask.sum(dim=1).tolist() == [2, 3] and "context" in out.visual
    assert out.logits is None and set(out.losses) == {"clcl_ce", "clcl_hs"}
    out.loss.backward()
    assert model.compressor.context.layers[0].linear1.weight.grad.abs().sum() > 0  # L_HS trains the VE
    assert model.compressor.conv.weight.grad.abs().sum() > 0
    translated = model(batch)  # translation (lm_ce) leaves the VE out
    assert "context" not in translated.visual and torch.isfinite(translated.loss)


def test_the_context_point_needs_a_ve(t5_tokenizer, tiny_config):
    config = tiny_config({"compressor": {**TINY, "context_layers": 0}, "mapper": {"kind": "linear"}})
    with pytest.raises(ConfigError, match="no context encoder"):
        build_slt_model(config, t5_tokenizer, [ClclTokenConfig(visual="context", proj_dim=8)])


def test_ff_stack_mapper_is_three_ln_linear_gelu_dropout_blocks():
    mapper = build_mapper(MapperConfig(kind="ff_stack", dropout=0.1), 16, 1024)
    assert len(mapper) == 3
    for block, (a, b) in zip(mapper, [(16, 1024), (1024, 1024), (1024, 1024)], strict=True):
        norm, linear, act, drop = block
        assert isinstance(norm, torch.nn.LayerNorm) and norm.normalized_shape == (a,)
        assert (linear.in_features, linear.out_features) == (a, b)
        assert isinstance(act, torch.nn.GELU) and drop.p == 0.1
    x = torch.randn(2, 3, 16)
    mapper.eval()
    expected = x
    for block in mapper:
        expected = torch.nn.functional.gelu(block[1](torch.nn.functional.layer_norm(expected, expected.shape[-1:], block[0].weight, block[0].bias)))
    torch.testing.assert_close(mapper(x), expected)
    assert validate(SLTModelConfig, {"mapper": {"kind": "ff_stack"}}, source="t").mapper.num_blocks == 3
