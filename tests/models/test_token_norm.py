"""MaskedBatchNorm: standardises valid tokens only; padding-invariant in evaluation."""

import torch

from glossfree.models.mappers import MaskedBatchNorm, NoTokenNorm, build_token_norm


def test_training_standardises_each_feature_over_valid_tokens_only():
    torch.manual_seed(0)
    x = torch.randn(3, 5, 4) * 3 + 7
    mask = torch.tensor([[1, 1, 1, 0, 0], [1, 1, 1, 1, 1], [1, 0, 0, 0, 0]], dtype=torch.bool)
    x[~mask] = 1000.0  # padding values must not leak into the statistics
    out = MaskedBatchNorm(4).train()(x, mask)
    valid = out[mask]  # [9, 4]
    assert torch.allclose(valid.mean(0), torch.zeros(4), atol=1e-5)
    assert torch.allclose(valid.var(0, unbiased=False), torch.ones(4), atol=1e-3)
    assert torch.all(out[~mask] == 0)


def test_eval_output_of_a_sample_does_not_depend_on_padding_or_batch():
    torch.manual_seed(0)
    norm = MaskedBatchNorm(4)
    norm.train()(torch.randn(4, 6, 4), torch.ones(4, 6, dtype=torch.bool))  # running statistics
    norm.eval()
    sample = torch.randn(1, 3, 4)
    alone = norm(sample, torch.ones(1, 3, dtype=torch.bool))
    padded = torch.cat([torch.cat([sample, torch.full((1, 4, 4), 9.0)], 1), torch.randn(1, 7, 4)])
    mask = torch.tensor([[1, 1, 1, 0, 0, 0, 0], [1] * 7], dtype=torch.bool)
    assert torch.allclose(norm(padded, mask)[0, :3], alone[0], atol=1e-6)


def test_single_valid_token_in_training_uses_running_statistics():
    norm = MaskedBatchNorm(2).train()
    out = norm(torch.tensor([[[1.0, 2.0], [5.0, 5.0]]]), torch.tensor([[True, False]]))
    assert torch.allclose(out[0, 0], torch.tensor([1.0, 2.0]) / (1 + 1e-5) ** 0.5)
    assert norm.training


def test_build_token_norm():
    assert isinstance(build_token_norm("none", 3), NoTokenNorm)
    assert isinstance(build_token_norm("batch", 3), MaskedBatchNorm)
