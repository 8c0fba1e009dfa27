"""``glossfree params``: per-stage trainable / total counts of a recipe's full-size model on the
meta device, against a model built on the CPU and against hand counts of published architectures."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from typer.testing import CliRunner

from glossfree.cli.main import app
from glossfree.errors import ConfigError
from glossfree.inference.params import full_size_recipe, recipe_parameters, recipe_tokenizer
from glossfree.training.callbacks import apply_freezing
from glossfree.training.tasks import load_recipe
from glossfree.training.tasks.translation import build_model, prototypes_under_root

TEXTS = ["am tag sonne und wolken", "in der nacht regen", "morgen wird es wärmer", "im süden gewitter"]


@pytest.fixture()
def text_root(tmp_path: Path) -> Path:
    from safetensors.torch import save_file

    lines = [{"id": f"t{i}", "split": "train", "text": text, "language": "de", "pose": f"poses/t{i}.pose"}
             for i, text in enumerate(TEXTS)]  # fmt: skip
    (tmp_path / "manifest.jsonl").write_text("".join(json.dumps(line) + "\n" for line in lines), encoding="utf-8")
    prototypes = torch.cat([torch.zeros(1, 32), torch.randn(4, 32)])
    save_file({"prototypes": prototypes}, str(tmp_path / "pseudo_gloss_prototypes.safetensors"))
    return tmp_path


def test_tiny_recipe_counts_equal_a_model_built_on_the_cpu(text_root):
    recipe = load_recipe("hfa/tiny")
    rows, sources = recipe_parameters(recipe, text_root)
    assert [row.stage for row in rows] == ["pretrain", "finetune1", "finetune2"] and sources == {}
    # the same model on the CPU, frozen stage by stage as training freezes it
    tokenizer = recipe_tokenizer(recipe, text_root)
    torch.manual_seed(0)
    model = build_model(prototypes_under_root(recipe, text_root), tokenizer)
    base_frozen = {name for name, p in model.named_parameters() if not p.requires_grad}
    total = sum(p.numel() for p in model.parameters())
    for row, stage in zip(rows, recipe.stages):
        apply_freezing(model, tuple(stage.trainable_parts(model.parts())), base_frozen)
        assert row.trainable == sum(p.numel() for p in model.parameters() if p.requires_grad)
        assert row.total == total
    # stage 1 of the fine-tuning trains the mapper (+ token_norm) and the decoder piece, nothing else
    decoder = model.sub_part("lm.decoder")[0]
    mapper = sum(p.numel() for n, p in model.named_parameters() if n.startswith(("mapper.", "token_norm.")))
    assert rows[1].trainable == mapper + sum(p.numel() for n, p in model.named_parameters() if n in decoder)
    # pre-training runs no decoder: its layers are left out of what the stage runs
    assert rows[0].in_use < rows[0].total and rows[2].in_use == rows[2].total


def test_cli_prints_the_table(text_root):
    result = CliRunner().invoke(app, ["params", "hfa/tiny", "--data", str(text_root)], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert "pretrain" in result.output and "finetune2" in result.output and "trainable" in result.output


def test_a_trained_tokenizer_needs_the_data():
    with pytest.raises(ConfigError, match="--data"):
        recipe_parameters(load_recipe("hfa/tiny"))


def test_published_dinov2_small_by_hand():
    # ViT-S/14 (facebook/dinov2-small): CLS + mask token, 1 + 37 x 37 positions, 14 x 14 patch conv,
    # 12 blocks of (2 LayerNorms, q/k/v/o, 2 layer scales, MLP 384-1536-384), a final LayerNorm.
    d, blocks = 384, 12
    block = 4 * d + 4 * (d * d + d) + 2 * d + (d * 4 * d + 4 * d) + (4 * d * d + d)
    expected = 2 * d + (1 + 37 * 37) * d + (14 * 14 * 3 * d + d) + blocks * block + 2 * d
    assert expected == 22_056_576
    recipe = load_recipe("hfa/phoenix14t")
    full, sources = full_size_recipe(recipe)
    assert sources["frontend facebook/dinov2-small"] == "published config"
    from glossfree.models.frontends.frame_encoder import FrameEncoder

    with torch.device("meta"):
        encoder = FrameEncoder(full.model.frontend)
    assert sum(p.numel() for p in encoder.backbone.parameters()) - sum(
        p.numel() for n, p in encoder.backbone.named_parameters() if "lora_" in n
    ) == expected
    # LoRA r 16 on q and v of blocks 9-11 only: 3 x 2 x (384 x 16 + 16 x 384)
    assert sum(p.numel() for p in encoder.parameters() if p.requires_grad) == 3 * 2 * 2 * 16 * d + (d * 512 + 512) + 2 * 512


def test_hfa_phoenix14t_counts(shared_dir):
    recipe = load_recipe("hfa/phoenix14t", [f"tokenizer.name_or_path={shared_dir / 'data' / 'mbart_trimmed_tokenizer'}"])
    rows, sources = recipe_parameters(recipe)
    assert "beside the tokenizer" in sources["lm pretrain_models/MBart_trimmed"]
    counts = {row.stage: (row.trainable, row.total) for row in rows}
    # Paper 001 Tab. 3: 15,200,325 / 346,123,973 (pre-training), 16,819,712 / 395,924,608 (fine-tuning);
    # docs/hfa.md explains each difference.
    assert counts["pretrain"][0] == 14_610_735
    assert counts["finetune2"] == (16_029_696, 395_577_263)
    assert abs(counts["finetune2"][1] - 395_924_608) / 395_924_608 < 0.003


def test_published_resnet34_and_mbart50_for_sage():
    # microsoft/resnet-34 without its classifier: torchvision's resnet34 (21,797,672) less the
    # 512 x 1000 + 1000 fully connected layer.
    recipe = load_recipe("sage/phoenix14t")
    full, sources = full_size_recipe(recipe)
    assert sources["frontend microsoft/resnet-34"] == "published config"
    assert sources["lm facebook/mbart-large-50"] == "published config"
    from glossfree.models.frontends.frame_encoder import FrameEncoder

    with torch.device("meta"):
        encoder = FrameEncoder(full.model.frontend)
    assert sum(p.numel() for p in encoder.backbone.parameters()) == 21_797_672 - (512 * 1000 + 1000)
    assert full.model.lm.architecture["d_model"] == 1024 and full.model.lm.architecture["decoder_layers"] == 12
