"""ISLR pre-training recipes (paper 004, Sec. 3.3): validation, the CLI run on tiny isolated signs,
the backbone loaded into an SLT model by ``init_checkpoint``, and clear errors on bad manifests."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import torch
from typer.testing import CliRunner

from glossfree.cli.main import app
from glossfree.config import validate
from glossfree.data.manifest import read_manifest, write_manifest
from glossfree.data.synth import SynthConfig, generate_corpus
from glossfree.errors import ConfigError, DataError
from glossfree.training.engine import LaunchConfig, train
from glossfree.training.tasks.islr import ISLRRecipeConfig
from glossfree.training.recipe import InitCheckpointConfig
from glossfree.training.tasks import load_recipe

FAST = ["stages.0.max_epochs=2", "stages.0.batch_size=8", "evaluation.batch_size=16"]


@pytest.fixture(scope="module")
def isolated_corpus(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("isolated")
    config = SynthConfig(source="isolated", num_signs=4, per_sign=4, per_sign_eval=2, fps=12.5, face_points="contours")
    generate_corpus(root, config, progress=False)
    return root


@pytest.fixture(scope="module")
def islr_run(isolated_corpus, tmp_path_factory) -> tuple[Path, object]:
    """``glossfree train islr/tiny`` for two short epochs (the CLI, as a user runs it)."""
    out = tmp_path_factory.mktemp("islr") / "run"
    sets = [arg for item in FAST for arg in ("--set", item)]
    result = CliRunner().invoke(
        app, ["train", "islr/tiny", "--data", str(isolated_corpus), "--out", str(out), "--accelerator", "cpu", "--no-progress", *sets]
    )
    return out, result


def test_shipped_islr_recipes_validate():
    tiny = load_recipe("islr/tiny")
    paper = load_recipe("islr/bobsl")
    assert isinstance(tiny, ISLRRecipeConfig) and isinstance(paper, ISLRRecipeConfig)
    stage = paper.stages[0]
    assert stage.monitor == "dev/islr_ce_top1" and stage.monitor_mode == "max"
    assert [o.kind for o in stage.objectives] == ["islr_ce", "islr_aux", "islr_contrastive"]
    assert stage.objectives[2].temperature == 0.1  # Sec. 4.2
    assert (paper.model.masking.probability, paper.model.masking.max_articulators) == (0.5, 2)
    assert paper.model.fusion_weights == (0.7, 0.3)
    assert stage.max_epochs == 20 and stage.batch_size == 64 and stage.schedule.kind == "one_cycle_cosine"


def _recipe(**stage) -> dict:
    base = {"name": "islr", "max_epochs": 1, "monitor": "dev/islr_ce_top1", "objectives": [{"kind": "islr_ce"}]}
    return {"recipe": "islr", "model": {"lm": {"name_or_path": None}}, "stages": [{**base, **stage}]}


def test_recipe_errors_are_clear():
    with pytest.raises(ConfigError, match="lm_ce are not ISLR objectives"):
        validate(ISLRRecipeConfig, _recipe(objectives=[{"kind": "lm_ce"}], monitor="dev/loss"))
    with pytest.raises(ConfigError, match="generates no text"):
        validate(ISLRRecipeConfig, _recipe(monitor="dev/bleu4"))
    with pytest.raises(ConfigError, match="monitor 'dev/top1' is not logged"):
        validate(ISLRRecipeConfig, _recipe(monitor="dev/top1"))
    with pytest.raises(ConfigError, match="train lists frontend"):
        validate(ISLRRecipeConfig, _recipe(train=["frontend"]))
    with pytest.raises(ConfigError, match="recipe: islr"):  # an ISLR loss in a translation recipe
        load_recipe("pose_perceiver/tiny", ["stages.0.objectives=[{kind: islr_ce}]", "stages.0.monitor=dev/loss"])


def test_cli_trains_and_monitors_dev_accuracy(islr_run, isolated_corpus):
    run, result = islr_run
    assert result.exit_code == 0, result.output
    assert "stage islr: best dev/islr_ce_top1" in result.output
    done = json.loads((run / "stages" / "islr" / "done.json").read_text())
    assert done["monitor"] == "dev/islr_ce_top1" and 0.0 <= done["best_score"] <= 1.0
    assert (run / done["best_checkpoint"]).is_file() and (run / "stages" / "islr" / "checkpoints" / "last.ckpt").is_file()
    labels = sorted({r.extra["label"] for r in read_manifest(isolated_corpus / "manifest.jsonl") if r.split == "train"})
    assert json.loads((run / "labels.json").read_text()) == labels
    metadata = json.loads((run / "model" / "metadata.json").read_text())
    assert metadata["labels"] == labels and metadata["task"] == "islr"
    assert metadata["data"]["chance_top1"] == pytest.approx(0.25)
    logged = (next((run / "logs" / "islr").glob("attempt-*")) / "metrics.csv").read_text().splitlines()[0]
    assert all(name in logged for name in ("train/islr_aux", "train/islr_contrastive", "dev/islr_ce_top1", "dev/islr_ce_top5",
                                           "dev/islr_ce_class_top1"))


def test_backbone_loads_into_an_slt_model(islr_run):
    """The pretrained backbone initialises the multitask SLT + SSA recipe's frontend (prefix map backbone. -> frontend.)."""
    from glossfree.training.tasks.translation import build_slt_model
    from glossfree.text.tokenizers import train_tokenizer
    from glossfree.training.init_weights import load_init_checkpoint, read_state_dict

    run, result = islr_run
    assert result.exit_code == 0, result.output
    init = InitCheckpointConfig(path=run, stage="islr", prefix_map={"backbone.": "frontend."})
    recipe = load_recipe("pose_perceiver/ssa_tiny", ["tokenizer.vocab_size=60"])
    tokenizer = train_tokenizer(["das wetter morgen", "es regnet im norden"], run.parent / "tok", vocab_size=60)
    slt = build_slt_model(recipe.model, tokenizer)
    loaded = load_init_checkpoint(slt, init, "slt")
    pretrained = read_state_dict(run / json.loads((run / "stages" / "islr" / "done.json").read_text())["best_checkpoint"])
    backbone = {k[len("backbone."):]: v for k, v in pretrained.items() if k.startswith("backbone.")}
    frontend = slt.frontend.state_dict()
    assert backbone and set(backbone) == set(frontend)
    assert sorted(loaded) == sorted(f"frontend.{k}" for k in backbone)
    for key, value in backbone.items():
        assert torch.equal(frontend[key], value), key


def _copy_corpus(src: Path, dst: Path, edit) -> Path:
    dst.mkdir()
    (dst / "poses").symlink_to(src / "poses")
    records = [edit(r) for r in read_manifest(src / "manifest.jsonl")]
    write_manifest(dst / "manifest.jsonl", records)
    return dst


def _fast_recipe():
    return load_recipe("islr/tiny", FAST)


def test_manifest_without_labels_names_the_file(isolated_corpus, tmp_path):
    from dataclasses import replace

    root = _copy_corpus(isolated_corpus, tmp_path / "nolabel", lambda r: replace(r, extra={}))
    with pytest.raises(DataError, match=r"manifest\.jsonl: 16 of 16 record\(s\) of split 'train' have no label in 'label'"):
        train(_fast_recipe(), data_root=root, run_dir=tmp_path / "run", launch=LaunchConfig(accelerator="cpu", progress=False))
    assert not (tmp_path / "run").exists()  # a failed start leaves nothing behind


def test_dev_label_outside_the_label_set_names_file_and_clip(isolated_corpus, tmp_path):
    from dataclasses import replace

    def edit(record):
        return replace(record, extra={"label": "UNSEEN"}) if record.id == "dev-00001" else record

    root = _copy_corpus(isolated_corpus, tmp_path / "unseen", edit)
    with pytest.raises(DataError, match=r"manifest\.jsonl: 1 record\(s\) of split 'dev' have a label that no training clip has \(dev-00001 \(UNSEEN\)\)"):
        train(_fast_recipe(), data_root=root, run_dir=tmp_path / "run", launch=LaunchConfig(accelerator="cpu", progress=False))


def test_a_label_that_is_not_a_string(isolated_corpus, tmp_path):
    """Issue 23, 8: ["A", "B"] is not a class (it became the class "['A', 'B']")."""
    from dataclasses import replace

    def edit(record):
        return replace(record, extra={"label": ["A", "B"]}) if record.id == "train-00002" else record

    root = _copy_corpus(isolated_corpus, tmp_path / "listed", edit)
    message = """manifest.jsonl: 1 record(s) of split 'train' have a label in 'label' that is not a string (first: train-00002 (["A", "B"]))"""
    with pytest.raises(DataError, match=re.escape(message)):
        train(_fast_recipe(), data_root=root, run_dir=tmp_path / "run", launch=LaunchConfig(accelerator="cpu", progress=False))
    assert not (tmp_path / "run").exists()


def test_label_field_can_name_the_gloss(isolated_corpus, tmp_path):
    from glossfree.training.tasks.islr import labelled_records

    records = labelled_records(isolated_corpus, "train", "gloss")
    assert [r.text for r in records] == [r.extra["label"] for r in read_manifest(isolated_corpus / "manifest.jsonl") if r.split == "train"]


def test_resume_of_a_finished_run_and_translation_models_refuse_it(islr_run, isolated_corpus):
    from glossfree.inference.loading import load_trained

    run, result = islr_run
    assert result.exit_code == 0, result.output
    before = (run / "stages" / "islr" / "done.json").read_text()
    again = CliRunner().invoke(
        app, ["train", "islr/tiny", "--data", str(isolated_corpus), "--out", str(run), "--resume", "--accelerator", "cpu",
              "--no-progress", *[arg for item in FAST for arg in ("--set", item)]],
    )  # fmt: skip
    assert again.exit_code == 0, again.output
    assert (run / "stages" / "islr" / "done.json").read_text() == before  # the finished stage is not trained again
    with pytest.raises(ConfigError, match="ISLR pre-trained backbone"):
        load_trained(run)
