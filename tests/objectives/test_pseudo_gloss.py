"""pseudo_gloss_bce (paper 001, Eq. 1-3) against a hand-computed case, padding, and its config."""

from __future__ import annotations

import math
from types import SimpleNamespace

import pytest
import torch

from glossfree.config import validate
from glossfree.errors import ConfigError, DataError
from glossfree.models.outputs import VisualTokens
from glossfree.objectives import OBJECTIVES, ObjectiveConfig, PointDims, PseudoGlossBCE, PseudoGlossBCEConfig
from glossfree.text.prototypes import save_prototypes
from glossfree.text.pseudo_gloss import PseudoGlossVocab
from pydantic import TypeAdapter

DIMS = PointDims(frontend=5, compressor=2, tokens=4, encoder=4, text=4)
VOCAB = PseudoGlossVocab(tokens=("<blank>", "haus", "regen"), language="de", doc_freq={"haus": 1, "regen": 1}, num_sentences=1)


@pytest.fixture()
def prototype_file(tmp_path):
    # blank (zero), "haus" along x, "regen" along y; the scale does not matter (cosine)
    return str(save_prototypes(tmp_path / "p.safetensors", torch.tensor([[0.0, 0.0], [2.0, 0.0], [0.0, 3.0]]), VOCAB))


def head(prototype_file: str, **settings) -> PseudoGlossBCE:
    config = PseudoGlossBCEConfig(prototypes=prototype_file, dim=2, **settings)
    objective = PseudoGlossBCE(config, DIMS)
    with torch.no_grad():  # Z' = Z
        objective.proj.weight.copy_(torch.eye(2))
        objective.proj.bias.zero_()
    return objective


def loss_of(objective: PseudoGlossBCE, features, mask, targets) -> torch.Tensor:
    output = SimpleNamespace(visual={"compressor": VisualTokens(features, mask)}, encoder=None)
    batch = SimpleNamespace(targets={"pseudo_gloss": targets})
    return objective(output, batch, model=None).loss


def test_two_steps_three_prototypes_by_hand(prototype_file):
    objective = head(prototype_file, temperature_time=0.5, temperature_prototype=1.0)
    features = torch.tensor([[[1.0, 0.0], [1.0, 1.0]]])  # T = 2 steps
    targets = torch.tensor([[0.0, 1.0, 0.0]])  # "haus" is signed, "regen" is not
    r = 1 / math.sqrt(2)
    # Eq. 1, S [t, u] over (blank, haus, regen): step 0 = (0, 1, 0), step 1 = (0, r, r); blank cosine 0
    # Eq. 2, over time (tau_T = 0.5) for haus: exp(1/0.5), exp(r/0.5); for regen: exp(0), exp(r/0.5)
    time_haus = [math.exp(2) / (math.exp(2) + math.exp(2 * r)), math.exp(2 * r) / (math.exp(2) + math.exp(2 * r))]
    time_regen = [1 / (1 + math.exp(2 * r)), math.exp(2 * r) / (1 + math.exp(2 * r))]
    #        over prototypes (tau_U = 1): step 0 = (1, e, 1) / (2 + e), step 1 = (1, e^r, e^r) / (1 + 2 e^r)
    proto_0 = [1 / (2 + math.e), math.e / (2 + math.e), 1 / (2 + math.e)]
    proto_1 = [1 / (1 + 2 * math.exp(r)), math.exp(r) / (1 + 2 * math.exp(r)), math.exp(r) / (1 + 2 * math.exp(r))]
    # Eq. 3, presence = sum over time of the products
    haus = time_haus[0] * proto_0[1] + time_haus[1] * proto_1[1]
    regen = time_regen[0] * proto_0[2] + time_regen[1] * proto_1[2]
    expected = -(math.log(haus) + math.log(1 - regen)) / 2  # BCE over the two pseudo-gloss columns
    loss = loss_of(objective, features, torch.tensor([[True, True]]), targets)
    assert loss.item() == pytest.approx(expected, rel=1e-5)
    loss.backward()
    assert objective.proj.weight.grad.abs().sum() > 0
    assert objective.log_tau_time.grad is not None and objective.log_tau_prototype.grad is not None


def test_padded_steps_do_not_change_the_loss(prototype_file):
    objective = head(prototype_file)
    torch.manual_seed(0)
    first, second = torch.randn(1, 3, 2), torch.randn(1, 5, 2)
    targets = torch.tensor([[0.0, 1.0, 0.0], [0.0, 1.0, 1.0]])
    alone = [
        loss_of(objective, first, torch.ones(1, 3, dtype=torch.bool), targets[:1]),
        loss_of(objective, second, torch.ones(1, 5, dtype=torch.bool), targets[1:]),
    ]
    features = torch.randn(2, 5, 2) * 100  # padding holds large garbage
    features[0, :3], features[1] = first[0], second[0]
    mask = torch.arange(5)[None, :] < torch.tensor([[3], [5]])
    batched = loss_of(objective, features, mask, targets)
    torch.testing.assert_close(batched, (alone[0] + alone[1]) / 2)
    empty = loss_of(objective, features[:1], torch.zeros(1, 5, dtype=torch.bool), targets[:1])
    assert torch.isfinite(empty)  # no valid step: presence 0, no NaN


def test_config_and_registration(prototype_file):
    assert OBJECTIVES["pseudo_gloss_bce"] is PseudoGlossBCE
    config = TypeAdapter(ObjectiveConfig).validate_python({"kind": "pseudo_gloss_bce", "prototypes": prototype_file})
    assert isinstance(config, PseudoGlossBCEConfig)
    assert (config.visual, config.dim, config.key, config.owns_parameters) == ("compressor", 300, "pseudo_gloss_bce", True)
    default = PseudoGlossBCE(PseudoGlossBCEConfig(prototypes=prototype_file, dim=2), DIMS)
    assert default.log_tau_time.exp().item() == pytest.approx(0.1)
    assert default.log_tau_prototype.exp().item() == pytest.approx(0.1)
    assert "prototypes" not in default.state_dict()  # read from the file, not stored twice
    with pytest.raises(ConfigError, match=r"shape \(3, 2\), but dim is 300"):
        PseudoGlossBCE(config, DIMS)
    with pytest.raises(ConfigError, match="prototypes"):
        validate(PseudoGlossBCEConfig, {})


def test_missing_targets_and_mismatched_vocabulary(prototype_file, tmp_path):
    objective = head(prototype_file)
    output = SimpleNamespace(visual={"compressor": VisualTokens(torch.randn(1, 2, 2), torch.ones(1, 2, dtype=torch.bool))})
    with pytest.raises(ConfigError, match="targets:pseudo_gloss"):
        objective(output, SimpleNamespace(targets={}), model=None)
    with pytest.raises(DataError, match="4 pseudo-gloss columns but .* 3 prototypes"):
        objective(output, SimpleNamespace(targets={"pseudo_gloss": torch.zeros(1, 4)}), model=None)
    vocab = PseudoGlossVocab(tokens=("<blank>", "a"), language="de", doc_freq={"a": 1}, num_sentences=1)
    bad = save_prototypes(tmp_path / "bad.safetensors", torch.ones(2, 2), vocab)
    with pytest.raises(DataError, match="row 0 must be the zero blank"):
        PseudoGlossBCE(PseudoGlossBCEConfig(prototypes=str(bad), dim=2), DIMS)
