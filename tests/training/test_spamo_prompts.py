"""SpaMo's prompts in the data (paper 003, appendix A): the instruction in each record's language and
in-context pairs drawn from the training split only, carried per sample through the batch."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from glossfree.data.datasets import collate_pose
from glossfree.errors import ConfigError
from glossfree.text.prompts import SLTPromptConfig
from glossfree.training.datamodule import build_dataset, build_prompter
from glossfree.training.tasks import load_recipe

INSTRUCTION = "Translate the given sentence into German."


@pytest.fixture()
def marked_corpus(tiny_corpus, tmp_path) -> Path:
    """The tiny corpus with every dev/test reference replaced by a marker no training sentence has,
    and a translations file that also (wrongly) offers dev/test sentences."""
    root = tmp_path / "corpus"
    shutil.copytree(tiny_corpus, root)
    lines = [json.loads(line) for line in (root / "manifest.jsonl").read_text(encoding="utf-8").splitlines()]
    for record in lines:
        if record["split"] != "train":
            record["text"] = f"GEHEIM {record['split']} {record['id']}"
    (root / "manifest.jsonl").write_text("".join(json.dumps(r) + "\n" for r in lines), encoding="utf-8")
    translations = {r["id"]: [f"FOREIGN {r['id']}"] for r in lines}
    (root / "translations.json").write_text(json.dumps(translations), encoding="utf-8")
    return root


def _recipe(exemplars: int, translations: str | None = "translations.json"):
    recipe = load_recipe("pose_perceiver/tiny", ["data.num_workers=0"])
    prompt = SLTPromptConfig(exemplars=exemplars, translations=translations)
    return recipe.model_copy(update={"data": recipe.data.model_copy(update={"prompt": prompt})})


def _records(root: Path, split: str):
    from glossfree.data.manifest import load_split

    return load_split(root, split)


def test_no_dev_or_test_reference_ever_enters_a_prompt(marked_corpus):
    recipe = _recipe(exemplars=2)
    train_ids = {r.id for r in _records(marked_corpus, "train")}
    for split in ("train", "dev", "test"):
        for train in (True, False):  # a dev set built as if for training draws from the train pool too
            dataset = build_dataset(recipe.data, recipe.model, _records(marked_corpus, split), marked_corpus,
                                    train=train, seed=recipe.seed)  # fmt: skip
            for epoch in range(3):
                dataset.set_epoch(epoch)
                for index in range(len(dataset)):
                    prompt = dataset[index]["prompt"]
                    assert prompt.startswith(INSTRUCTION + " ")
                    assert "GEHEIM" not in prompt  # no dev/test reference
                    used = {chunk.split("=")[0] for chunk in prompt.split("FOREIGN ")[1:]}
                    assert len(used) == 2 and used <= train_ids  # two pairs, both training sentences
                    if train:
                        record = dataset.records[index]
                        assert f"FOREIGN {record.id}=" not in prompt and f"={record.text}" not in prompt


def test_prompts_follow_the_seed_epoch_and_split(marked_corpus):
    recipe = _recipe(exemplars=1)
    train = build_dataset(recipe.data, recipe.model, _records(marked_corpus, "train"), marked_corpus, train=True, seed=0)
    first = [train[(i, 0)]["prompt"] for i in range(len(train))]
    assert first == [train[(i, 0)]["prompt"] for i in range(len(train))]  # deterministic
    assert first != [train[(i, 1)]["prompt"] for i in range(len(train))]  # redrawn each epoch
    # evaluation: one fixed draw for every sample, whatever the references say
    dev = build_dataset(recipe.data, recipe.model, _records(marked_corpus, "dev"), marked_corpus, train=False, seed=0)
    prompts = {dev[i]["prompt"] for i in range(len(dev))}
    assert len(prompts) == 1
    changed = [r.__class__(**{**r.__dict__, "text": "ganz anders"}) for r in dev.records]
    again = build_dataset(recipe.data, recipe.model, changed, marked_corpus, train=False, seed=0)
    assert {again[i]["prompt"] for i in range(len(again))} == prompts
    # the prompts travel through the batch to the model
    batch = collate_pose([train[(i, 0)] for i in range(4)])
    assert batch.prompts == first[:4]


def test_instruction_only_and_target_only_pairs(marked_corpus):
    plain = build_dataset(_recipe(0, None).data, _recipe(0, None).model, _records(marked_corpus, "dev"), marked_corpus, train=False)
    assert plain[0]["prompt"] == INSTRUCTION
    recipe = _recipe(1, None)
    train_texts = {r.text for r in _records(marked_corpus, "train")}
    prompt = build_prompter(recipe.data, marked_corpus).prompt({"language": "de"}, train=False)
    assert prompt.startswith(INSTRUCTION + " ") and prompt[len(INSTRUCTION) + 1 :] in train_texts


def test_prompt_errors(marked_corpus):
    too_many = _recipe(exemplars=10_000)
    with pytest.raises(ConfigError, match="exemplars is 10000 but the training split has only"):
        build_prompter(too_many.data, marked_corpus)
    recipe = _recipe(1)
    extra = recipe.data.model_copy(update={"extra_inputs": ["prompts"]})
    with pytest.raises(ConfigError, match="exclude each other"):
        build_dataset(extra, recipe.model, _records(marked_corpus, "dev"), marked_corpus, train=False)


def test_a_trimmed_vocabulary_keeps_the_prompt_words(marked_corpus, tmp_path):
    """The instruction and the in-context translations are in the texts a trained tokenizer learns
    from and a trimmed vocabulary keeps (the exemplars' targets are training texts already)."""
    from glossfree.training.tasks.translation import TranslationTask

    data = TranslationTask().read_data(_recipe(exemplars=1), marked_corpus, tmp_path, rank=0)
    assert INSTRUCTION in data.tokenizer_texts
    assert "FOREIGN train-00000" in data.tokenizer_texts
    assert not any("GEHEIM" in text or "FOREIGN dev" in text or "FOREIGN test" in text for text in data.tokenizer_texts)
    plain = TranslationTask().read_data(load_recipe("pose_perceiver/tiny"), marked_corpus, tmp_path, rank=0)
    assert INSTRUCTION not in plain.tokenizer_texts
