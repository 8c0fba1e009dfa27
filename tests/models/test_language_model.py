"""Language-model wrapper: loss, inputs_embeds and prompt paths, generation, adapters, loading."""

from __future__ import annotations

import math
import warnings

import pytest
import torch
from tiny import TINY_MBART_ARCHITECTURE

from glossfree.config import validate
from glossfree.errors import ConfigError
from glossfree.models.language_model import (
    FLAN_T5_ARCHITECTURES,
    FLAN_T5_VOCAB_SIZE,
    LanguageModel,
    LanguageModelConfig,
    concat_valid,
    label_smoothed_cross_entropy,
)
from glossfree.text.tokenizers import load_tokenizer, train_tokenizer

TEXTS = ["und nun die wettervorhersage", "über den höhen fällt schnee"]


def build(config, tokenizer, seed: int = 0) -> LanguageModel:
    torch.manual_seed(seed)
    return LanguageModel(config, tokenizer).eval()


def visual(lengths: list[int], dim: int = 32, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    longest = max(lengths)
    mask = torch.arange(longest)[None] < torch.tensor(lengths)[:, None]
    return torch.randn(len(lengths), longest, dim, generator=generator) * mask[..., None], mask


# --- loss ------------------------------------------------------------------------------------------


def test_label_smoothed_cross_entropy_hand_computed():
    # probabilities (1/4, 1/2, 1/4); target 1; second position is padding
    logits = torch.log(torch.tensor([[[1.0, 2.0, 1.0], [5.0, -3.0, 0.0]]]))
    labels = torch.tensor([[1, -100]])
    plain = label_smoothed_cross_entropy(logits, labels, smoothing=0.0)
    assert plain.item() == pytest.approx(math.log(2))
    # (1 - 0.1) * -log(1/2) + 0.1 * mean(-log 1/4, -log 1/2, -log 1/4) = (0.9 + 0.1 * 5/3) * log 2
    smoothed = label_smoothed_cross_entropy(logits, labels, smoothing=0.1)
    assert smoothed.item() == pytest.approx((0.9 + 0.1 * 5 / 3) * math.log(2), rel=1e-6)


def test_inputs_embeds_path_matches_the_transformers_loss(t5_tokenizer, tiny_lm_config):
    lm = build(tiny_lm_config({"label_smoothing": 0.0}), t5_tokenizer)
    embeds, mask = visual([4, 7])
    loss, logits = lm(embeds, mask, TEXTS)
    labels = lm.encode_targets(TEXTS)
    reference = lm.model(inputs_embeds=embeds, attention_mask=mask.long(), labels=labels)
    torch.testing.assert_close(loss, reference.loss)
    torch.testing.assert_close(logits, reference.logits)
    assert logits.shape == (2, labels.shape[1], len(t5_tokenizer))


def test_targets_end_with_eos_and_pad_with_ignore_index(t5_tokenizer, tiny_lm_config):
    lm = build(tiny_lm_config({"max_target_length": 4}), t5_tokenizer)
    labels = lm.encode_targets(["ja", "und nun die wettervorhersage für morgen"])
    assert labels.shape == (2, 4)  # truncated to max_target_length
    first = labels[0][labels[0] != -100].tolist()
    assert first[-1] == t5_tokenizer.eos_token_id
    assert (labels[0, len(first) :] == -100).all()


# --- prompt ---------------------------------------------------------------------------------------


def test_concat_valid_packs_per_sample():
    a = torch.arange(1, 7, dtype=torch.float32).view(2, 3, 1)
    a_mask = torch.tensor([[True, True, False], [True, True, True]])
    b = torch.tensor([[[10.0], [11.0]], [[20.0], [0.0]]])
    b_mask = torch.tensor([[True, True], [True, False]])
    rows, mask = concat_valid(a, a_mask, b, b_mask)
    assert rows[..., 0].tolist() == [[1, 2, 10, 11], [4, 5, 6, 20]]
    assert mask.all()


def test_prompt_follows_the_valid_visual_tokens(t5_tokenizer, tiny_lm_config):
    prompt = "übersetze ins deutsche"
    lm = build(tiny_lm_config({"prompt": prompt}), t5_tokenizer)
    embeds, mask = visual([3, 5])
    packed, packed_mask = lm.prepare_inputs(embeds, mask)
    ids = t5_tokenizer(prompt, return_tensors="pt").input_ids[0]
    prompt_embeds = lm.model.get_input_embeddings()(ids)
    n = len(ids)
    assert packed_mask.sum(dim=1).tolist() == [3 + n, 5 + n]
    torch.testing.assert_close(packed[0, :3], embeds[0, :3])
    torch.testing.assert_close(packed[0, 3 : 3 + n], prompt_embeds)
    torch.testing.assert_close(packed[1, 5 : 5 + n], prompt_embeds)
    assert torch.all(packed[0, 3 + n :] == 0)


def test_per_sample_prompts_override_the_config(t5_tokenizer, tiny_lm_config):
    lm = build(tiny_lm_config({"prompt": "a"}), t5_tokenizer)
    embeds, mask = visual([2, 2])
    _, packed_mask = lm.prepare_inputs(embeds, mask, ["über den höhen", "schnee"])
    lengths = [len(t5_tokenizer(p).input_ids) for p in ["über den höhen", "schnee"]]
    assert packed_mask.sum(dim=1).tolist() == [2 + lengths[0], 2 + lengths[1]]


def test_padding_never_changes_a_sample_with_prompt(t5_tokenizer, tiny_lm_config):
    lm = build(tiny_lm_config({"prompt": "übersetze"}), t5_tokenizer)
    alone, alone_mask = visual([4], seed=1)
    other, _ = visual([9], seed=2)
    batch = torch.zeros(2, 9, 32)
    batch[0, :4], batch[1] = alone[0], other[0]
    batch_mask = torch.arange(9)[None] < torch.tensor([4, 9])[:, None]
    texts = [TEXTS[0], TEXTS[1] + " und regen"]
    with torch.no_grad():
        loss_alone, logits_alone = lm(alone, alone_mask, texts[:1])
        _, logits_batch = lm(batch, batch_mask, texts)
    steps = logits_alone.shape[1]
    torch.testing.assert_close(logits_batch[0, :steps], logits_alone[0], atol=1e-5, rtol=0)
    assert lm.generate(batch, batch_mask, num_beams=3)[0] == lm.generate(alone, alone_mask, num_beams=3)[0]


# --- generation -----------------------------------------------------------------------------------


def test_beam_search_returns_strings(t5_tokenizer, tiny_lm_config):
    lm = build(tiny_lm_config(), t5_tokenizer)
    embeds, mask = visual([3, 6])
    out = lm.generate(embeds, mask, num_beams=3, max_new_tokens=5)
    assert len(out) == 2 and all(isinstance(text, str) for text in out)
    assert all("</s>" not in text and "<pad>" not in text for text in out)


def test_beam_search_is_deterministic_and_sampling_is_an_option(t5_tokenizer, tiny_lm_config):
    """Evaluation decodes by beam search, the same every time; SpaMo's sampling is offered
    (``generation.do_sample``), not the default, and its draws follow torch's seed."""
    lm = build(tiny_lm_config(), t5_tokenizer)
    embeds, mask = visual([3, 6, 4, 5])
    assert lm.config.generation.do_sample is False
    torch.manual_seed(1)
    first = lm.generate(embeds, mask, num_beams=2, max_new_tokens=6)
    torch.manual_seed(2)
    assert lm.generate(embeds, mask, num_beams=2, max_new_tokens=6) == first
    sampling = tiny_lm_config().model_copy(
        update={"generation": tiny_lm_config().generation.model_copy(update={"do_sample": True, "temperature": 5.0})}
    )
    lm_sampling = build(sampling, t5_tokenizer)
    draws = []
    for seed in (1, 2, 1):
        torch.manual_seed(seed)
        draws.append(lm_sampling.generate(embeds, mask, num_beams=1, max_new_tokens=6))
    assert draws[0] == draws[2] and draws[0] != draws[1]


# --- adapters -------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["lora", "dora"])
def test_adapter_trains_only_adapter_weights(t5_tokenizer, tiny_lm_config, kind):
    with warnings.catch_warnings():
        warnings.simplefilter("error", FutureWarning)  # wrapping warns nothing the user cannot act on
        lm = build(tiny_lm_config({"adapter": {"kind": kind, "r": 4, "alpha": 8}}), t5_tokenizer)
    trainable = [name for name, p in lm.named_parameters() if p.requires_grad]
    assert trainable and all(".lora_" in name for name in trainable)
    targets = {name.split(".lora_")[0].rsplit(".", 1)[-1] for name in trainable}
    assert targets == {"q", "v"}  # the family default
    has_magnitude = any("lora_magnitude_vector" in name for name in trainable)
    assert has_magnitude == (kind == "dora")
    loss, _ = lm.train()(*visual([3, 4]), TEXTS)
    loss.backward()
    assert all(p.grad is not None for name, p in lm.named_parameters() if p.requires_grad)


def test_adapter_modules_to_save_are_trainable_too(t5_tokenizer, tiny_lm_config):
    adapter = {
        "kind": "dora",
        "r": 2,
        "target_modules": ["q", "k", "v", "o"],
        "modules_to_save": ["final_layer_norm"],
    }
    lm = build(tiny_lm_config({"adapter": adapter}), t5_tokenizer)
    trainable = [name for name, p in lm.named_parameters() if p.requires_grad]
    assert any("final_layer_norm.modules_to_save" in name for name in trainable)
    assert all(".lora_" in name or "modules_to_save" in name for name in trainable)
    assert {n.split(".lora_")[0].rsplit(".", 1)[-1] for n in trainable if ".lora_" in n} == {
        "q",
        "k",
        "v",
        "o",
    }


def test_unknown_target_module_is_a_config_error(t5_tokenizer, tiny_lm_config):
    with pytest.raises(ConfigError, match=r"lm.adapter \(target_modules=\['query'\]\)"):
        build(tiny_lm_config({"adapter": {"kind": "lora", "target_modules": ["query"]}}), t5_tokenizer)


# --- building -------------------------------------------------------------------------------------


def test_vocabulary_comes_from_the_tokenizer(t5_tokenizer, tiny_lm_config):
    lm = build(tiny_lm_config(), t5_tokenizer)
    assert lm.model.config.vocab_size == len(t5_tokenizer)
    assert lm.embed_dim == 32


def test_unknown_architecture_key_lists_valid_keys(t5_tokenizer, tiny_lm_config):
    with pytest.raises(
        ConfigError, match=r"unknown key 'd_modle' for family 't5'; valid keys:.*d_model.*num_heads"
    ):
        build(tiny_lm_config({"architecture": {"d_modle": 32}}), t5_tokenizer)
    with pytest.raises(ConfigError, match=r"lm.architecture.vocab_size: set from the tokenizer"):
        build(tiny_lm_config({"architecture": {"vocab_size": 99}}), t5_tokenizer)


def test_unknown_config_key_lists_valid_keys():
    with pytest.raises(
        ConfigError, match=r"unknown key 'adapter.rank'; valid keys: .*alpha.*r, target_modules"
    ):
        validate(LanguageModelConfig, {"adapter": {"rank": 8}})


def test_builds_from_a_pretrained_path(t5_tokenizer, tiny_lm_config, tmp_path):
    original = build(tiny_lm_config(), t5_tokenizer, seed=3)
    original.model.save_pretrained(tmp_path / "tiny-t5")
    loaded = build(
        tiny_lm_config({"name_or_path": str(tmp_path / "tiny-t5"), "architecture": {}}), t5_tokenizer, seed=4
    )
    embeds, mask = visual([3, 5])
    with torch.no_grad():
        torch.testing.assert_close(loaded(embeds, mask, TEXTS)[1], original(embeds, mask, TEXTS)[1])


def test_pretrained_config_overrides_apply(t5_tokenizer, tiny_lm_config, tmp_path):
    build(tiny_lm_config(), t5_tokenizer).model.save_pretrained(tmp_path / "tiny-t5")
    loaded = build(
        tiny_lm_config({"name_or_path": str(tmp_path / "tiny-t5"), "architecture": {"dropout_rate": 0.3}}),
        t5_tokenizer,
    )
    assert loaded.model.config.dropout_rate == 0.3


def test_missing_pretrained_model_says_to_download(t5_tokenizer, tiny_lm_config, tmp_path):
    with pytest.raises(ConfigError, match=r"could not be loaded offline.*never downloads weights"):
        build(tiny_lm_config({"name_or_path": str(tmp_path / "nothing-here")}), t5_tokenizer)


def test_state_dict_round_trip_with_dora(t5_tokenizer, tiny_lm_config, tmp_path):
    config = tiny_lm_config({"adapter": {"kind": "dora", "r": 4}})
    trained = build(config, t5_tokenizer, seed=5)
    with torch.no_grad():  # make the adapter non-trivial (LoRA B starts at zero)
        for name, p in trained.named_parameters():
            if "lora_B" in name:
                p.normal_()
    torch.save(trained.state_dict(), tmp_path / "lm.pt")
    fresh = build(config, t5_tokenizer, seed=6)
    fresh.load_state_dict(torch.load(tmp_path / "lm.pt"))
    embeds, mask = visual([3, 5])
    with torch.no_grad():
        torch.testing.assert_close(fresh(embeds, mask, TEXTS)[1], trained(embeds, mask, TEXTS)[1])


# --- mBART ----------------------------------------------------------------------------------------

TINY_MBART = {
    "family": "mbart", "name_or_path": None, "src_lang": "de_DE", "tgt_lang": "de_DE",
    "architecture": TINY_MBART_ARCHITECTURE,
    "adapter": {"kind": "lora", "r": 2}, "generation": {"num_beams": 2, "max_new_tokens": 5},
}  # fmt: skip


def test_mbart_family_trains_and_generates(tmp_path):
    tokenizer = train_tokenizer(TEXTS * 3, tmp_path / "mbart", vocab_size=40, family="mbart")
    lm = build(validate(LanguageModelConfig, TINY_MBART), tokenizer)
    de = tokenizer.convert_tokens_to_ids("de_DE")
    assert lm._decoder_start == de and lm._forced_bos is None  # mBART-cc25: labels end "</s> de_DE"
    labels = lm.encode_targets(TEXTS)
    assert labels[0][labels[0] != -100].tolist()[-2:] == [tokenizer.eos_token_id, de]
    trainable = [name for name, p in lm.named_parameters() if p.requires_grad]
    assert {n.split(".lora_")[0].rsplit(".", 1)[-1] for n in trainable} == {"q_proj", "v_proj"}
    loss, _ = lm(*visual([3, 5]), TEXTS)
    assert torch.isfinite(loss)
    out = lm.generate(*visual([3, 5]))
    assert all(isinstance(text, str) and "de_DE" not in text for text in out)


def test_mbart_with_the_gfslt_tokenizer(shared_dir):
    tokenizer = load_tokenizer(
        shared_dir / "data" / "mbart_trimmed_tokenizer", src_lang="de_DE", tgt_lang="de_DE"
    )
    lm = build(validate(LanguageModelConfig, TINY_MBART), tokenizer)
    assert lm.model.config.vocab_size == 2454
    assert lm._decoder_start == tokenizer.convert_tokens_to_ids("de_DE") == 2430
    assert all(isinstance(text, str) for text in lm.generate(*visual([4])))


# --- paper scale ----------------------------------------------------------------------------------


def test_paper_defaults():
    config = LanguageModelConfig()
    assert (config.family, config.name_or_path) == ("t5", "google/flan-t5-xl")
    assert (config.adapter.kind, config.adapter.r, config.adapter.alpha) == ("dora", 32, 64)
    assert config.generation.num_beams == 5


def test_flan_t5_xl_parameter_count_on_meta():
    from transformers import T5Config, T5ForConditionalGeneration

    with torch.device("meta"):
        model = T5ForConditionalGeneration(
            T5Config(**FLAN_T5_ARCHITECTURES["xl"], vocab_size=FLAN_T5_VOCAB_SIZE)
        )
    count = sum(p.numel() for p in model.parameters())
    if model.lm_head.weight is model.shared.weight:  # transformers 5 ties T5's head when built from a config
        count += model.lm_head.weight.numel()  # the checkpoint has its own head
    assert count == 2_849_757_184  # google/flan-t5-xl


# --- vocabulary mismatches --------------------------------------------------------------------------


def test_a_larger_tokenizer_is_an_error_unless_resizing_is_asked_for(t5_tokenizer, tiny_lm_config, tmp_path):
    small = tiny_lm_config({"architecture": {"vocab_size": 99}})
    from glossfree.models.language_model import _model_classes

    config_class, model_class = _model_classes("t5")
    arch = {k: v for k, v in small.architecture.items() if k != "vocab_size"}
    ids = {"pad_token_id": 0, "eos_token_id": 1, "decoder_start_token_id": 0}
    model_class(config_class(**arch, vocab_size=50, **ids)).save_pretrained(tmp_path / "small-t5")
    pretrained = {"name_or_path": str(tmp_path / "small-t5"), "architecture": {}}
    assert len(t5_tokenizer) > 50
    with pytest.raises(ConfigError, match=r"tokenizer has \d+ tokens but .* embeds only 50.*lm.resize_embeddings: true"):
        build(tiny_lm_config(pretrained), t5_tokenizer)
    grown = build(tiny_lm_config({**pretrained, "resize_embeddings": True}), t5_tokenizer)
    assert grown.model.get_input_embeddings().weight.shape[0] == len(t5_tokenizer)


def test_from_scratch_mbart_must_state_its_embedding_scaling():
    from pydantic import ValidationError

    from glossfree.models.language_model import LanguageModelConfig

    architecture = {key: value for key, value in TINY_MBART["architecture"].items() if key != "scale_embedding"}
    with pytest.raises(ValidationError, match="scale_embedding"):
        LanguageModelConfig(**{**TINY_MBART, "architecture": architecture})
    # a pretrained mBART takes its checkpoint's setting; T5 has no such switch
    LanguageModelConfig(**{**TINY_MBART, "architecture": architecture, "name_or_path": "some/mbart"})
    LanguageModelConfig(family="t5", name_or_path=None, architecture={"d_model": 32})


def test_mid_recipes_use_the_scaled_mbart_layout():
    from glossfree.training.tasks import load_recipe

    lms = {name: load_recipe(name).model.lm for name in ("pose_conv/mid", "pose_perceiver/mid", "pose_perceiver/mid_mlp")}
    for name, lm in lms.items():
        assert lm.family == "mbart" and lm.name_or_path is None, name
        assert lm.architecture["scale_embedding"] is True and lm.architecture["d_model"] == 256, name
        # transformers' 0.02 is set for mBART's d 1,024; at d 256 it starts the cross-attention unread
        assert lm.architecture["init_std"] == 0.044, name
    first, *others = (lm.architecture for lm in lms.values())
    assert all(other == first for other in others)  # one LM, three visual sides


def test_from_scratch_init_std_reaches_every_weight(tmp_path):
    tokenizer = train_tokenizer(TEXTS * 3, tmp_path / "mbart", vocab_size=40, family="mbart")
    config = {**TINY_MBART, "adapter": {"kind": "none"}}
    for std in (0.02, 0.2):
        config["architecture"] = {**TINY_MBART["architecture"], "init_std": std}
        model = build(validate(LanguageModelConfig, config), tokenizer).model
        layer = model.model.decoder.layers[0]
        for weight in (layer.encoder_attn.q_proj.weight, layer.encoder_attn.out_proj.weight, layer.fc2.weight,
                       model.model.shared.weight):  # fmt: skip
            assert float(weight.detach().std()) == pytest.approx(std, rel=0.15)
