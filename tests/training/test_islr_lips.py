"""ISLR pre-training of both of paper 004's backbones (Sec. 3.3, 4.4): the pose backbone and the lip
backbone on the synthetic signer's isolated signs rendered as stick-figure videos (lip crops see
the drawn lips), late fusion 0.7 / 0.3 monitored by dev top-1, the lip stream from a frozen lip
reader's cached features, and both pretrained backbones loaded into the ``pose_perceiver/lips_tiny``
SLT model by ``init_checkpoint``."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest
import torch
from typer.testing import CliRunner

from glossfree.cli.main import app
from glossfree.data.manifest import read_manifest, write_manifest
from glossfree.errors import DataError
from glossfree.training.engine import LaunchConfig, train
from glossfree.training.tasks import load_recipe

FAST = ["stages.0.max_epochs=1", "stages.0.batch_size=4", "evaluation.batch_size=8"]
# The prefix map of docs/islr.md: ISLR part -> the lips_tiny SLT model's frontend branch.
PREFIX_MAP = {"backbone.": "frontend.branches.0.", "lip_backbone.": "frontend.branches.1."}


def test_islr_tiny_backbone_is_the_ssa_recipes_frontend():
    """docs/islr.md: islr/tiny's backbone loads into pose_perceiver/ssa_tiny (prefix backbone. -> frontend.)."""
    backbone = load_recipe("islr/tiny").model.backbone.model_dump()
    assert load_recipe("pose_perceiver/ssa_tiny").model.frontend.model_dump() == backbone


@pytest.fixture(scope="module")
def video_corpus(tmp_path_factory) -> Path:
    """3 signs x (3 train, 1 dev, 1 test) isolated clips with .pose files and stick-figure videos."""
    from glossfree.data.synth import SynthConfig, generate_corpus

    root = tmp_path_factory.mktemp("isolated_video")
    config = SynthConfig(source="isolated", num_signs=3, per_sign=3, per_sign_eval=1, fps=12.5, face_points="contours",
                         render_video=True, width=128, height=128)  # fmt: skip
    generate_corpus(root, config, progress=False)
    return root


@pytest.fixture(scope="module")
def lips_islr_run(video_corpus, tmp_path_factory) -> Path:
    """``glossfree train islr/lips_tiny`` for one short epoch (the CLI, as a user runs it)."""
    out = tmp_path_factory.mktemp("islr_lips") / "run"
    sets = [arg for item in FAST for arg in ("--set", item)]
    result = CliRunner().invoke(app, ["train", "islr/lips_tiny", "--data", str(video_corpus), "--out", str(out),
                                      "--accelerator", "cpu", "--no-progress", *sets])  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "stage islr: best dev/islr_ce_top1" in result.output
    return out


def _best(run: Path) -> Path:
    return run / json.loads((run / "stages" / "islr" / "done.json").read_text())["best_checkpoint"]


def test_shipped_lips_recipe_matches_the_slt_recipe_frontends():
    """islr/lips_tiny's two backbones are exactly pose_perceiver/lips_tiny's two frontends (so they load)."""
    islr, slt = load_recipe("islr/lips_tiny"), load_recipe("pose_perceiver/lips_tiny")
    pose, lip = slt.model.frontend_list()
    assert islr.model.backbone.model_dump() == pose.model_dump()
    assert islr.model.lip is not None and islr.model.lip.model_dump() == lip.model_dump()
    assert islr.model.fusion_weights == (0.7, 0.3) and islr.model.masking.probability == 0.5
    assert islr.stages[0].monitor == "dev/islr_ce_top1"
    assert [o.kind for o in islr.stages[0].objectives] == ["islr_ce", "islr_aux", "islr_contrastive"]


def test_cli_trains_both_streams_on_videos(lips_islr_run, video_corpus):
    """The run trained both streams: the data module loads lip crops cut from each clip's video; on a
    training batch both streams' parameters get gradient and the logits are 0.7 pose + 0.3 lip."""
    from glossfree.training.tasks.islr import build_islr_model
    from glossfree.training.init_weights import read_state_dict
    from glossfree.training.tasks.islr import ISLRDataModule, labelled_records

    run = lips_islr_run
    done = json.loads((run / "stages" / "islr" / "done.json").read_text())
    assert done["monitor"] == "dev/islr_ce_top1" and 0.0 <= done["best_score"] <= 1.0
    metadata = json.loads((run / "model" / "metadata.json").read_text())
    assert metadata["task"] == "islr" and len(metadata["labels"]) == 3
    state = read_state_dict(_best(run))
    assert any(k.startswith("lip_backbone.visual.") for k in state) and any(k.startswith("lip_classifier.") for k in state)

    recipe = load_recipe("islr/lips_tiny", FAST)
    labels = metadata["labels"]
    records = labelled_records(video_corpus, "train", "label")
    module = ISLRDataModule(recipe.data, video_corpus, layout=recipe.model.layout, model=recipe.model, batch_size=4,
                            eval_batch_size=8, seed=0, train_records=records, label_field="label", labels=labels)  # fmt: skip
    dataset = module.train_dataset()
    assert dataset.inputs >= {"keypoints", "lips"}
    from glossfree.data.datasets import collate_pose

    batch = collate_pose([dataset[i] for i in range(4)])
    assert batch.lips is not None and batch.lips.shape[2:] == (32, 32) and bool(batch.lip_mask.any())
    assert batch.lips.shape[1] == batch.keypoints.shape[1]  # same steps at data.fps
    model = build_islr_model(recipe.model, labels, state["label_embeddings"], recipe.objective_configs())
    model.load_state_dict(state)
    model.train()
    out = model(batch)
    torch.testing.assert_close(out.logits, 0.7 * out.stream_logits["pose"] + 0.3 * out.stream_logits["lip"])
    out.loss.backward()
    for part in ("backbone.", "classifier.", "lip_backbone.visual.", "lip_backbone.conformer.", "lip_classifier."):
        grads = [p.grad for name, p in model.named_parameters() if name.startswith(part)]
        assert grads and all(g is not None and g.abs().sum() > 0 for g in grads), part


def test_both_backbones_load_into_the_lips_slt_recipe(lips_islr_run, tmp_path):
    """docs/islr.md's recipe line: the SLT model holds exactly the pretrained weights of each backbone,
    and nothing else of it is touched."""
    from glossfree.training.tasks.translation import build_slt_model
    from glossfree.text.tokenizers import train_tokenizer
    from glossfree.training.init_weights import load_init_checkpoint, read_state_dict

    run = lips_islr_run
    line = "stages.0.init_checkpoint={path: %s, stage: islr, prefix_map: %s}" % (run, json.dumps(PREFIX_MAP))
    recipe = load_recipe("pose_perceiver/lips_tiny", ["tokenizer.vocab_size=60", line])
    init = recipe.stages[0].init_checkpoint
    assert init is not None and init.prefix_map == PREFIX_MAP
    tokenizer = train_tokenizer(["das wetter morgen", "es regnet im norden"], tmp_path / "tok", vocab_size=60)
    slt = build_slt_model(recipe.model, tokenizer)
    before = {k: v.clone() for k, v in slt.state_dict().items()}
    loaded = load_init_checkpoint(slt, init, "slt")
    pretrained = read_state_dict(_best(run))
    after = slt.state_dict()
    expected = set()
    for source, target in PREFIX_MAP.items():
        part = {k[len(source):]: v for k, v in pretrained.items() if k.startswith(source)}
        branch = {k[len(target):] for k in after if k.startswith(target)}
        assert part and set(part) == branch, source  # every weight of the branch, nothing more
        for key, value in part.items():
            assert torch.equal(after[target + key], value), target + key
        expected |= {target + k for k in part}
    assert sorted(loaded) == sorted(expected)
    untouched = [k for k in after if k not in expected]
    assert untouched and all(torch.equal(after[k], before[k]) for k in untouched)
    lip_weight = "frontend.branches.1.visual.stem_conv.weight"
    assert not torch.equal(before[lip_weight], after[lip_weight])  # the lip backbone did change


def _avsr_checkpoint(path: Path) -> Path:
    """A tiny random Auto-AVSR checkpoint (2023 layout: the front-end under ``encoder.frontend.``)."""
    from glossfree.models.frontends.lip_backbone import VisualFrontend

    torch.manual_seed(1)
    frontend = VisualFrontend(stem_channels=4, channels=(4, 8), blocks=1, norm="batch")
    renames = {"stem_conv.": "frontend3D.0.", "stem_norm.": "frontend3D.1.", "trunk.": "trunk."}
    state = {}
    for key, value in frontend.state_dict().items():
        old = next(prefix for prefix in renames if key.startswith(prefix))
        state["encoder.frontend." + renames[old] + key[len(old):]] = value
    torch.save(state, path)
    return path


def test_lip_stream_from_a_frozen_lip_reader_stream(video_corpus, tmp_path):
    """The paper's lip backbone: ``glossfree extract`` with a lip_reader writes the stream, the ISLR lip
    stream (``source: features``) reads it, and the stage trains with late fusion."""
    import yaml

    from glossfree.training.tasks.islr import ISLRDataModule, labelled_records

    root = tmp_path / "data"
    root.mkdir()
    for folder in ("poses", "videos"):
        (root / folder).symlink_to(video_corpus / folder)
    (root / "manifest.jsonl").symlink_to(video_corpus / "manifest.jsonl")
    config = tmp_path / "lip_avsr.yaml"
    config.write_text(yaml.safe_dump({"kind": "lip_reader", "checkpoint": str(_avsr_checkpoint(tmp_path / "vsr.pth")),
                                      "output": "frontend", "stem_channels": 4, "channels": [4, 8], "blocks": 1,
                                      "crop": {"size": 24}}), encoding="utf-8")  # fmt: skip
    result = CliRunner().invoke(app, ["extract", str(root), "--config", str(config), "--name", "lip_avsr", "--no-progress"])
    assert result.exit_code == 0, result.output
    lip = ("model.lip={kind: lip_backbone, source: features, stream: lip_avsr, input_dim: 8, dim: 16, "
           "conformer: {num_layers: 1, num_heads: 2}}")  # fmt: skip
    recipe = load_recipe("islr/lips_tiny", [*FAST, lip])
    records = labelled_records(root, "train", "label")
    module = ISLRDataModule(recipe.data, root, layout=recipe.model.layout, model=recipe.model, batch_size=4,
                            eval_batch_size=8, seed=0, train_records=records, label_field="label",
                            labels=sorted({r.text for r in records}))  # fmt: skip
    assert module.train_dataset().inputs >= {"keypoints", "features:lip_avsr"} and "lips" not in module.train_dataset().inputs
    result = train(recipe, data_root=root, run_dir=tmp_path / "run", launch=LaunchConfig(accelerator="cpu", progress=False))
    assert result.stages[0]["monitor"] == "dev/islr_ce_top1"
    logged = (next((tmp_path / "run" / "logs" / "islr").glob("attempt-*")) / "metrics.csv").read_text().splitlines()[0]
    assert "dev/islr_ce_top1" in logged and "train/islr_contrastive" in logged


def test_clips_without_video_are_refused_before_training(video_corpus, tmp_path):
    root = tmp_path / "novideo"
    root.mkdir()
    (root / "poses").symlink_to(video_corpus / "poses")
    write_manifest(root / "manifest.jsonl", [replace(r, video=None) for r in read_manifest(video_corpus / "manifest.jsonl")])
    with pytest.raises(DataError, match=r"manifest\.jsonl: 9 of 9 record\(s\) of split 'train' have no 'video'.*--isolated --video"):
        train(load_recipe("islr/lips_tiny", FAST), data_root=root, run_dir=tmp_path / "run",
              launch=LaunchConfig(accelerator="cpu", progress=False))  # fmt: skip
    assert not (tmp_path / "run").exists()


def test_backbone_options_load_with_their_statistics(video_corpus, tmp_path):
    """A backbone pre-trained with the options stack_frames, standardize and agcn_norm: batch loads into
    the SLT recipe's frontend with its running statistics (buffers), not only its parameters."""
    from glossfree.data.datasets import collate_pose
    from glossfree.training.tasks.islr import build_islr_model
    from glossfree.training.tasks.translation import build_slt_model
    from glossfree.text.tokenizers import train_tokenizer
    from glossfree.training.init_weights import load_weights_into
    from glossfree.training.tasks.islr import ISLRDataModule, labelled_records

    options = ["stack_frames=2", "standardize=true", "agcn_multipliers=[2]", "agcn_norm=batch"]
    islr = load_recipe("islr/tiny", [f"model.backbone.{o}" for o in options])
    records = labelled_records(video_corpus, "train", "label")
    labels = sorted({r.text for r in records})
    module = ISLRDataModule(islr.data, video_corpus, layout=islr.model.layout, model=islr.model, batch_size=4,
                            eval_batch_size=8, seed=0, train_records=records, label_field="label", labels=labels)  # fmt: skip
    batch = collate_pose([module.train_dataset()[i] for i in range(6)])
    torch.manual_seed(0)
    model = build_islr_model(islr.model, labels, torch.randn(len(labels), 8), islr.objective_configs()).train()
    model(batch).loss.backward()  # one training forward moves the running statistics
    state = model.state_dict()
    buffers = [k for k in state if k.startswith("backbone.") and k.endswith(("running_mean", "running_var"))]
    assert any(".standardizer." in k for k in buffers) and any(".norm." in k for k in buffers)
    assert not torch.equal(state["backbone.standardizer.running_mean"], torch.zeros_like(state["backbone.standardizer.running_mean"]))
    slt_recipe = load_recipe("pose_perceiver/ssa_tiny", ["tokenizer.vocab_size=60", *(f"model.frontend.{o}" for o in options)])
    tokenizer = train_tokenizer(["das wetter morgen", "es regnet im norden"], tmp_path / "tok", vocab_size=60)
    slt = build_slt_model(slt_recipe.model, tokenizer)
    loaded = load_weights_into(slt, state, prefix_map={"backbone.": "frontend."})
    assert sorted(loaded) == sorted("frontend." + k[len("backbone."):] for k in state if k.startswith("backbone."))
    after = slt.state_dict()
    for key in buffers:
        assert torch.equal(after["frontend." + key[len("backbone."):]], state[key]), key
