"""An exported model whose recipe trains with pseudo-gloss prototypes (HFA) carries them: the model
folder alone loads on a machine without the training corpus."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import torch
import yaml
from safetensors.torch import save_file

from glossfree.checkpoint import export_model
from glossfree.inference.loading import load_trained
from glossfree.inference.params import recipe_tokenizer
from glossfree.training.tasks import load_recipe
from glossfree.training.tasks.translation import build_model, prototypes_under_root

TEXTS = ["am tag sonne und wolken", "in der nacht regen", "morgen wird es wärmer", "im süden gewitter"]


def test_exported_model_loads_without_the_corpus_prototypes(tmp_path: Path):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    lines = [{"id": f"t{i}", "split": "train", "text": text, "language": "de", "pose": f"poses/t{i}.pose"}
             for i, text in enumerate(TEXTS)]  # fmt: skip
    (corpus / "manifest.jsonl").write_text("".join(json.dumps(line) + "\n" for line in lines), encoding="utf-8")
    prototypes = torch.cat([torch.zeros(1, 32), torch.randn(4, 32)])
    save_file({"prototypes": prototypes}, str(corpus / "pseudo_gloss_prototypes.safetensors"))
    recipe = prototypes_under_root(load_recipe("hfa/tiny"), corpus)  # as training builds it
    tokenizer = recipe_tokenizer(recipe, corpus)
    torch.manual_seed(0)
    model = build_model(recipe, tokenizer)
    export_model(model, recipe, tokenizer, tmp_path / "run" / "model", {})

    shutil.rmtree(corpus)  # another machine: no training corpus, the model folder moved
    moved = tmp_path / "elsewhere"
    shutil.move(tmp_path / "run" / "model", moved)
    saved = yaml.safe_load((moved / "recipe.yaml").read_text(encoding="utf-8"))
    names = {o["prototypes"] for stage in saved["stages"] for o in stage["objectives"] if o["kind"] == "pseudo_gloss_bce"}
    assert names == {"prototypes_pseudo_gloss_bce.safetensors"}  # relative to the model folder
    assert (moved / "prototypes_pseudo_gloss_bce.safetensors").is_file()

    trained = load_trained(moved)
    loaded = trained.model.objectives["pseudo_gloss_bce"].prototypes
    torch.testing.assert_close(loaded, model.objectives["pseudo_gloss_bce"].prototypes)
    for name, tensor in model.state_dict().items():
        torch.testing.assert_close(trained.model.state_dict()[name], tensor, msg=name)
