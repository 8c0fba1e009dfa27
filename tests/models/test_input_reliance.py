"""The input-reliance check: LM loss with real vs swapped visual tokens (issue 13, item 4)."""

from __future__ import annotations

import torch

from glossfree.training.tasks.translation import build_slt_model


def test_a_model_that_ignores_its_input_has_no_reliance_gap(t5_tokenizer, tiny_config, make_batch):
    torch.manual_seed(0)
    model = build_slt_model(tiny_config({"mapper": {"kind": "linear"}}), t5_tokenizer).eval()
    with torch.no_grad():  # every sample gets the same visual tokens: the LM cannot tell them apart
        model.mapper.weight.zero_()
    losses = model.swapped_input_losses(make_batch([16, 16, 16]))
    assert torch.allclose(losses["lm_ce"], losses["lm_ce_swapped"], atol=1e-6)


def test_a_model_that_reads_its_input_scores_worse_on_swapped_tokens(t5_tokenizer, tiny_config, make_batch):
    torch.manual_seed(0)
    config = tiny_config({
        "frontend": {"kind": "keypoint_mlp", "dim": 32, "dropout": 0.0},
        "compressor": {"kind": "none"},
        "mapper": {"kind": "linear"},
    })  # fmt: skip
    model = build_slt_model(config, t5_tokenizer)
    batch = make_batch([12, 12, 12, 12], seed=3)
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
    for _ in range(50):  # memorise four (input, sentence) pairs
        loss = model(batch).loss
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    model.eval()
    with torch.no_grad():
        losses = model.swapped_input_losses(batch)
    assert losses["lm_ce_swapped"] - losses["lm_ce"] > 1.0


def test_a_single_sample_batch_has_nothing_to_swap(t5_tokenizer, tiny_config, make_batch):
    model = build_slt_model(tiny_config(), t5_tokenizer).eval()
    losses = model.swapped_input_losses(make_batch([10]))
    assert losses["lm_ce"] is losses["lm_ce_swapped"]


def test_reusing_the_forward_output_gives_the_same_losses(t5_tokenizer, tiny_config, make_batch):
    torch.manual_seed(0)
    model = build_slt_model(tiny_config(), t5_tokenizer).eval()
    batch = make_batch([14, 9, 11])
    with torch.no_grad():
        fresh = model.swapped_input_losses(batch)
        reused = model.swapped_input_losses(batch, output=model(batch))
    assert torch.allclose(fresh["lm_ce"], reused["lm_ce"], atol=1e-6)
    assert torch.allclose(fresh["lm_ce_swapped"], reused["lm_ce_swapped"], atol=1e-6)
