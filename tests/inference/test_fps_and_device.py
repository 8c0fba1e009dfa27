"""translate resamples every input to the model's training frame rate; evaluate/translate device options."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from typer.testing import CliRunner

from glossfree.inference.loading import load_trained
from glossfree.cli.main import app
from glossfree.data.manifest import load_split
from glossfree.errors import ConfigError, DataError
from glossfree.inference import translator as translator_module
from glossfree.inference.device import InferenceDevice, resolve_device
from glossfree.inference.translator import Translator
from glossfree.training.tasks.base import training_frame_rate
from glossfree.training.tasks import load_recipe


def invoke(*args):
    return CliRunner().invoke(app, [str(a) for a in args])


def _without_recipe_fps(tiny_run) -> Translator:
    """The tiny model as if its recipe set no data.fps (as phoenix14t.yaml): only metadata says 12.5."""
    trained = load_trained(tiny_run)
    data = trained.recipe.data.model_copy(update={"fps": None})
    trained.recipe = trained.recipe.model_copy(update={"data": data})
    return Translator(trained)


# --------------------------------------------------------------------------------------- frame rate
def test_training_frame_rate_comes_from_the_recipe_or_the_files(tiny_corpus):
    records = load_split(tiny_corpus, "train")
    recipe = load_recipe("pose_perceiver/tiny")
    assert training_frame_rate(recipe, records, tiny_corpus) == 12.5  # data.fps
    unset = recipe.model_copy(update={"data": recipe.data.model_copy(update={"fps": None})})
    assert training_frame_rate(unset, records, tiny_corpus) == 12.5  # the files' headers


def test_exported_model_records_its_frame_rate(tiny_run):
    assert load_trained(tiny_run).metadata["fps"] == 12.5


def test_a_faster_input_is_resampled_even_when_the_recipe_sets_no_fps(tiny_run, tiny_corpus, tmp_path, monkeypatch):
    _pose_variant = _load_helper()

    translator = _without_recipe_fps(tiny_run)
    assert translator.fps == 12.5
    source = tiny_corpus / "poses" / "test-00000.pose"
    fast = _pose_variant(source, tmp_path / "fast.pose", fps=25.0)  # same frames, twice the rate
    seen = []
    monkeypatch.setattr(translator, "_generate", lambda keypoints, sample_id: seen.append(keypoints) or "x")
    result = translator.translate(fast)
    assert seen[0].fps == 12.5
    assert abs(seen[0].num_frames - result.num_frames / 2) <= 1


def test_frame_folders_need_fps(tiny_run, tmp_path, monkeypatch):
    translator = _without_recipe_fps(tiny_run)
    folder = tmp_path / "frames"
    folder.mkdir()
    from PIL import Image

    Image.new("RGB", (8, 8)).save(folder / "0001.png")
    with pytest.raises(DataError, match=r"frames: a folder of frames has no frame rate; pass it with --fps .*12.5 fps"):
        translator.translate(folder)
    calls = []

    def fake_estimate(path, *, fps, folder_fps=None):
        calls.append((fps, folder_fps))
        raise DataError("stop here")

    monkeypatch.setattr(translator_module, "estimate_poses", fake_estimate)
    with pytest.raises(DataError, match="stop here"):
        translator.translate(folder, fps=30)
    assert calls == [(12.5, 30)]  # read at 30 fps, sampled at the model's 12.5
    with pytest.raises(ConfigError, match="--fps must be positive"):
        translator.translate(folder, fps=0)

    result = invoke("translate", folder, "--model", tiny_run)
    assert result.exit_code == 2 and "pass it with --fps" in result.output


def test_a_folder_without_images_says_so_before_asking_for_fps(tiny_run, tmp_path):
    """Issue 23, 4: an empty folder, or one of .txt or .pose files, is not a frame folder: say so first."""
    contents = {"empty": [], "texts": ["a.txt"], "poses": ["a.pose", "b.pose", "c.pose", "d.pose"]}
    held = {"empty": "it is empty", "texts": "it holds 1 other file(s): a.txt",
            "poses": "it holds 4 other file(s): a.pose, b.pose, c.pose ..."}  # fmt: skip
    for name, files in contents.items():
        folder = tmp_path / name
        folder.mkdir()
        for file in files:
            (folder / file).write_text("x")
        for fps in ([], ["--fps", "25"]):
            result = invoke("translate", folder, "--model", tiny_run, *fps)
            assert result.exit_code == 2
            assert f"{name}: frame folder has no .png/.jpg/.jpeg images ({held[name]})" in " ".join(result.output.split())


# ------------------------------------------------------------------------------------------- device
def test_resolve_device_on_a_cpu_machine(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert resolve_device("cpu").device == torch.device("cpu")
    assert resolve_device("auto").device == torch.device("cpu")
    with pytest.raises(ConfigError, match="--accelerator gpu: no CUDA GPU is available on this machine"):
        resolve_device("gpu")
    with pytest.raises(ConfigError, match="--precision bf16: bf16 autocast is offered on GPUs only"):
        resolve_device("cpu", precision="bf16")
    with pytest.raises(ConfigError, match="--accelerator tpu: choose one of"):
        resolve_device("tpu")
    with pytest.raises(ConfigError, match="--devices 0,1: inference runs on one device"):
        resolve_device("auto", "0,1")


def test_resolve_device_picks_the_gpu_index(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda: True)
    chosen = resolve_device("gpu", "1", "bf16")
    assert chosen.device == torch.device("cuda", 1) and chosen.precision == "bf16"
    assert resolve_device("auto").device == torch.device("cuda", 0)
    assert resolve_device("cuda").device == torch.device("cuda", 0)
    with pytest.raises(ConfigError, match=r"--devices 2: this machine has 2 GPU\(s\)"):
        resolve_device("gpu", 2)


def test_cli_refuses_a_missing_gpu_before_loading(tiny_run, tiny_corpus):
    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    for args in (["evaluate", tiny_run], ["translate", tiny_corpus / "poses" / "test-00000.pose", "--model", tiny_run]):
        result = invoke(*args, "--accelerator", "gpu")
        assert result.exit_code == 2 and "no CUDA GPU is available" in result.output, result.output


def test_cli_runs_on_the_chosen_cpu_in_batches(tiny_run, tmp_path):
    result = invoke(
        "evaluate", tiny_run, "--split", "test", "--json", "--accelerator", "cpu", "--devices", "0",
        "--batch-size", "3", "--out", tmp_path / "eval",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["num_sentences"] == 4


def test_autocast_wraps_generation(tiny_run, tiny_corpus, monkeypatch):
    """The bf16 path enters torch.autocast around generation (checked on CPU with a recording stub)."""
    entered = []

    class Recording(InferenceDevice):
        def autocast(self):
            entered.append(self.precision)
            return super().autocast()

    translator = Translator(load_trained(tiny_run), device=Recording(torch.device("cpu"), "bf16"))
    text = translator.translate(tiny_corpus / "poses" / "test-00000.pose").text
    assert entered == ["bf16"] and isinstance(text, str)


def _load_helper():
    """``_pose_variant`` from tests/cli/test_cli.py (test folders are not packages)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("_cli_tests", Path(__file__).parents[1] / "cli" / "test_cli.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module._pose_variant
