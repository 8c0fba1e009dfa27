"""clcl_token and vt_align inside a tiny SLT model: they run, and gradients reach their parameters."""

from __future__ import annotations

import torch

from glossfree.objectives import ClclTokenConfig, VTAlignConfig
from glossfree.training.tasks.translation import build_slt_model


def build(config, tokenizer, objectives):
    torch.manual_seed(0)
    return build_slt_model(config, tokenizer, objectives)


def test_clcl_token_on_embeddings_and_encoder_states(t5_tokenizer, tiny_config, make_batch):
    # SAGE's L_CE (input embeddings) and L_HS (encoder states), mixed by beta = 0.6 (Eq. 5)
    embeddings = ClclTokenConfig(name="clcl_ce", proj_dim=8, visual="tokens", text="embeddings")
    hidden = ClclTokenConfig(name="clcl_hs", proj_dim=8, visual="encoder", text="encoder")
    model = build(tiny_config(), t5_tokenizer, [embeddings, hidden]).train()
    out = model(make_batch([12, 20, 16]), objectives={"clcl_ce": 0.6, "clcl_hs": 0.4})
    assert set(out.losses) == {"clcl_ce", "clcl_hs"} and torch.isfinite(out.loss)
    assert {"clcl_ce_acc", "clcl_hs_temperature"} <= set(out.metrics)
    out.loss.backward()
    for key in ("clcl_ce", "clcl_hs"):
        head = model.objectives[key]
        for param in (head.visual_proj.weight, head.text_proj.weight, head.log_logit_scale):
            assert param.grad is not None and param.grad.abs().sum() > 0, key
    assert model.frontend.fuse[0].weight.grad.abs().sum() > 0


def test_vt_align_trains_the_visual_side_only(t5_tokenizer, tiny_config, make_batch):
    model = build(tiny_config(), t5_tokenizer, [VTAlignConfig()]).train()
    out = model(make_batch([12, 20, 16]), objectives={"vt_align": 1.0})
    assert set(out.losses) == {"vt_align"} and out.encoder is None and out.logits is None
    out.loss.backward()
    head = model.objectives["vt_align"]
    assert head.log_logit_scale.grad.abs().sum() > 0
    assert model.frontend.fuse[0].weight.grad.abs().sum() > 0  # the visual side (SpaMo: the sign adapter) learns
    assert model.lm.model.get_input_embeddings().weight.grad is None  # SpaMo's E_llm stays fixed
