"""lm.trimmed_vocab: train on an mBART recipe with the GFSLT tokenizer: trained, exported, reloaded."""

from __future__ import annotations

import pytest

from glossfree.checkpoint import TRIMMED_VOCAB_FILE
from glossfree.inference.loading import load_trained
from glossfree.inference.translator import Translator
from glossfree.text.trim import TrimmedVocab
from glossfree.training.engine import LaunchConfig, train
from glossfree.training.tasks import load_recipe
from tiny import FAST_RECIPE

MBART = (
    "model.lm={family: mbart, name_or_path: null, src_lang: de_DE, tgt_lang: de_DE, adapter: {kind: none},"
    " architecture: {d_model: 128, encoder_layers: 1, decoder_layers: 1, encoder_attention_heads: 4,"
    " decoder_attention_heads: 4, encoder_ffn_dim: 128, decoder_ffn_dim: 128, max_position_embeddings: 256,"
    " scale_embedding: true},"
    " generation: {num_beams: 1, max_new_tokens: 12}, trimmed_vocab: train}"
)


@pytest.mark.slow
def test_trimmed_mbart_run(tiny_corpus, shared_dir, tmp_path):
    tokenizer_dir = shared_dir / "data" / "mbart_trimmed_tokenizer"
    recipe = load_recipe(
        "pose_perceiver/tiny",
        [*FAST_RECIPE, "stages.0.max_epochs=1", MBART, "tokenizer.kind=pretrained", f"tokenizer.name_or_path={tokenizer_dir}"],
    )
    result = train(recipe, data_root=tiny_corpus, run_dir=tmp_path / "run", launch=LaunchConfig(accelerator="cpu", progress=False))
    vocab = TrimmedVocab.load(result.model_dir / TRIMMED_VOCAB_FILE)
    assert vocab.full_size == 2454 and len(vocab) < 2454
    trained = load_trained(result.run_dir)
    assert trained.recipe.model.lm.trimmed_vocab == str(result.model_dir / TRIMMED_VOCAB_FILE)
    assert trained.model.lm.model.get_input_embeddings().weight.shape[0] == len(vocab)
    text = Translator(trained).translate(tiny_corpus / "poses" / "test-00000.pose").text
    assert isinstance(text, str)
