"""Language-model wrapper: a ``transformers`` seq2seq model (T5 / Flan-T5 or mBART) fed visual tokens.

Visual embeddings ``[B, L, D]`` enter the encoder through ``inputs_embeds``; an optional text prompt
is embedded with the model's own input embedding and placed right after each sample's valid visual
tokens (SpaMo, ``t5_slt.py`` ``prepare_inputs``; paper 004 Fig. 2), so a sample's encoder input
never depends on the batch padding. Training uses cross-entropy with label smoothing on the target
text (label padding = -100); inference is beam search through ``generate`` and returns strings.

The model is built from a pretrained name or local folder (``name_or_path``, never downloaded) or
from an explicit architecture (``architecture``: keyword arguments of ``T5Config`` /
``MBartConfig``; the vocabulary comes from the tokenizer). Named Flan-T5 sizes are in
:data:`FLAN_T5_ARCHITECTURES`. LoRA and DoRA adapters come from ``peft``; with an adapter only the
adapter weights (and ``adapter.modules_to_save``) are trainable.

Paper 004 (Sec. 3.2, 4.2, Tab. A.8): Flan-T5-XL with DoRA, rank 32, alpha 64, beam search with 5
beams. The paper does not name DoRA's target modules or dropout; the defaults are ``peft``'s T5
targets (``q``, ``v``) and SpaMo's LoRA dropout 0.1.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import inspect
import warnings
from typing import Any, Literal

import torch
import torch.nn.functional as F
from pydantic import Field, model_validator
from torch import nn

from glossfree.config import StrictModel
from glossfree.errors import ConfigError

# Flan-T5 checkpoints' architectures (their config.json, vocabulary 32128, untied LM head).
FLAN_T5_ARCHITECTURES: dict[str, dict[str, Any]] = {
    "small": {"d_model": 512, "d_ff": 1024, "d_kv": 64, "num_heads": 6, "num_layers": 8,
              "num_decoder_layers": 8, "feed_forward_proj": "gated-gelu", "tie_word_embeddings": False},
    "base": {"d_model": 768, "d_ff": 2048, "d_kv": 64, "num_heads": 12, "num_layers": 12,
             "num_decoder_layers": 12, "feed_forward_proj": "gated-gelu", "tie_word_embeddings": False},
    "large": {"d_model": 1024, "d_ff": 2816, "d_kv": 64, "num_heads": 16, "num_layers": 24,
              "num_decoder_layers": 24, "feed_forward_proj": "gated-gelu", "tie_word_embeddings": False},
    "xl": {"d_model": 2048, "d_ff": 5120, "d_kv": 64, "num_heads": 32, "num_layers": 24,
           "num_decoder_layers": 24, "feed_forward_proj": "gated-gelu", "tie_word_embeddings": False},
}  # fmt: skip
FLAN_T5_VOCAB_SIZE = 32128

# peft's default LoRA targets per family (attention query and value projections).
DEFAULT_TARGET_MODULES: dict[str, list[str]] = {"t5": ["q", "v"], "mbart": ["q_proj", "v_proj"]}

# Config fields that are bookkeeping or come from the tokenizer, not architecture choices.
_NOT_ARCHITECTURE = {
    "transformers_version", "architectures", "output_hidden_states", "return_dict", "dtype",
    "torch_dtype", "chunk_size_feed_forward", "id2label", "label2id", "problem_type", "is_decoder",
    "is_encoder_decoder", "self", "kwargs",
}  # fmt: skip
_FROM_TOKENIZER = {
    "vocab_size", "pad_token_id", "eos_token_id", "bos_token_id", "decoder_start_token_id",
    "forced_eos_token_id",
}  # fmt: skip


class AdapterConfig(StrictModel):
    """Parameter-efficient fine-tuning of the language model (``peft``).

    Attributes:
        kind: ``"none"`` (all LM weights trainable), ``"lora"`` or ``"dora"``.
        r: adapter rank.
        alpha: scaling numerator (``alpha / r`` scales the update).
        dropout: dropout on the adapter input.
        target_modules: module names to adapt; ``None`` = the family default (q, v projections).
        modules_to_save: base modules trained in full alongside the adapter (e.g. ``lm_head``).
    """

    kind: Literal["none", "lora", "dora"] = "dora"
    r: int = 32
    alpha: float = 64.0
    dropout: float = 0.1
    target_modules: list[str] | None = None
    modules_to_save: list[str] = []


class GenerationSettings(StrictModel):
    """Decoding defaults: deterministic beam search (paper 004 Sec. 4.2: 5 beams).

    Attributes:
        num_beams, max_new_tokens, length_penalty: beam search.
        do_sample: sample instead (SpaMo's released code samples at evaluation); off by default,
            since scores then change from run to run. With it, ``top_p`` (nucleus) and
            ``temperature`` shape the draws, under torch's global seed.
    """

    num_beams: int = 5
    max_new_tokens: int = 128
    length_penalty: float = 1.0
    do_sample: bool = False
    top_p: float = Field(1.0, gt=0, le=1)
    temperature: float = Field(1.0, gt=0)


class LanguageModelConfig(StrictModel):
    """Seq2seq language model.

    Attributes:
        family: ``"t5"`` (T5, Flan-T5) or ``"mbart"`` (mBART-cc25, mBART-50). From scratch the
            family is a layout choice: the mBART layout (learned absolute positions, embeddings
            scaled by sqrt(d_model), LayerNorm, GELU, output tied without rescaling) learned twice
            as fast as the T5 layout (relative position buckets, unscaled embeddings, RMSNorm, ReLU,
            output scaled by d_model^-0.5) at the same size, data and optimiser (docs/benchmarks.md
            §12); the ``mid`` recipes use it. Swapped in one at a time, T5's embedding
            parametrisation costs the pace (its N(0, 1) initialisation, which AdamW moves slowly,
            and the output scaling that needs it), not its positions, norm or activation.
        name_or_path: pretrained checkpoint, a local folder or a name in the local Hugging Face
            cache; ``None`` = build from ``architecture`` with random weights (a from-scratch mBART
            must state ``architecture.scale_embedding``: transformers' ``MBartConfig`` defaults to
            false, the pretrained mBART checkpoints and the measured layout use true).
        architecture: ``T5Config`` / ``MBartConfig`` keyword arguments; with ``name_or_path`` they
            override the checkpoint's config (e.g. dropout). Vocabulary and special-token ids
            always come from the tokenizer. From scratch, mind ``init_std`` (mBART): transformers'
            0.02 suits mBART's d 1,024; at d 256 the decoder's cross-attention then starts adding a
            tenth of its residual stream and the visual side gets about a twelfth of the gradient it gets
            at 0.044 (nn.Transformer's xavier scale at that width), and the LM learns the sentence
            prior before it reads its input. The ``mid`` recipes set 0.044 (docs/benchmarks.md §12,
            eighth round; ``benchmarks/bench_tokens_at_init.py`` measures both at initialisation).
        dtype: weight dtype of the language model.
        label_smoothing: label smoothing of the cross-entropy (0 = plain cross-entropy).
        adapter: LoRA / DoRA settings.
        prompt: text embedded after the visual tokens (``None`` = no prompt).
        max_target_length: target texts are truncated to this many tokens in training.
        generation: beam-search defaults.
        src_lang, tgt_lang: mBART language codes (e.g. ``"de_DE"``); the target code starts
            decoding. Ignored by T5.
        resize_embeddings: allow a tokenizer larger than the pretrained vocabulary: the embeddings
            and LM head grow by randomly initialised rows. Off by default, since a mismatch usually
            means the tokenizer belongs to another model.
        trimmed_vocab: a ``trimmed_vocab.json`` (:mod:`glossfree.text.trim`): the LM embeds and
            predicts only its kept ids, as GFSLT-VLP and SAGE trim mBART's 250k vocabulary. Targets
            and prompts are encoded with the full tokenizer and mapped to the kept ids; generated
            ids are mapped back before decoding. A pretrained model of the full vocabulary is
            trimmed when loaded; one saved trimmed (``save_trimmed``) is used as is. ``train``:
            ``glossfree train`` keeps the ids of the training texts and the prompt.
    """

    family: Literal["t5", "mbart"] = "t5"
    name_or_path: str | None = "google/flan-t5-xl"
    architecture: dict[str, Any] = {}
    dtype: Literal["float32", "bfloat16", "float16"] = "float32"
    label_smoothing: float = 0.1
    adapter: AdapterConfig = AdapterConfig()
    prompt: str | None = None
    max_target_length: int = 128
    generation: GenerationSettings = GenerationSettings()
    src_lang: str | None = None
    tgt_lang: str | None = None
    resize_embeddings: bool = False
    trimmed_vocab: str | None = None

    @model_validator(mode="after")
    def _scratch_mbart_states_its_scaling(self) -> LanguageModelConfig:
        if self.family == "mbart" and self.name_or_path is None and "scale_embedding" not in self.architecture:
            raise ValueError(
                "lm.architecture.scale_embedding: a from-scratch mBART must say whether its embeddings are scaled "
                "by sqrt(d_model): transformers' MBartConfig defaults to false, the pretrained mBART checkpoints "
                "and glossfree's mid recipes use true (docs/benchmarks.md §12)"
            )
        return self


@dataclasses.dataclass
class LMOutput:
    """Teacher-forced pass: loss, logits ``[B, L_target, V]``, encoder hidden states ``[B, L, D]`` and
    the encoder input mask ``[B, L]`` (visual tokens then prompt)."""

    loss: torch.Tensor
    logits: torch.Tensor
    encoder_hidden: torch.Tensor
    encoder_mask: torch.Tensor


def label_smoothed_cross_entropy(
    logits: torch.Tensor, labels: torch.Tensor, *, smoothing: float, ignore_index: int = -100
) -> torch.Tensor:
    """Mean over non-ignored tokens of ``(1 - eps) * -log p(y) + eps * mean_v(-log p(v))``.

    ``logits`` [B, L, V], ``labels`` [B, L] (``ignore_index`` on padding). Computed in float32.
    """
    return F.cross_entropy(
        logits.flatten(0, 1).float(), labels.flatten(), ignore_index=ignore_index, label_smoothing=smoothing
    )


def concat_valid(
    first: torch.Tensor, first_mask: torch.Tensor, second: torch.Tensor, second_mask: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """Per sample, the valid rows of ``first`` then the valid rows of ``second``, left-aligned.

    ``first`` [B, L1, D], ``second`` [B, L2, D], masks bool. Returns ``[B, L, D]`` (0 on padding)
    and its mask ``[B, L]`` with ``L`` the longest packed sample.
    """
    rows = torch.cat([first, second], dim=1)  # [B, L1 + L2, D]
    mask = torch.cat([first_mask.bool(), second_mask.bool()], dim=1)  # [B, L1 + L2]
    order = torch.argsort((~mask).to(torch.int8), dim=1, stable=True)  # valid rows first, in order
    rows = rows.gather(1, order.unsqueeze(-1).expand(-1, -1, rows.shape[-1]))
    mask = mask.gather(1, order)
    keep = int(mask.sum(dim=1).max())
    rows, mask = rows[:, :keep], mask[:, :keep]
    return rows * mask.unsqueeze(-1).to(rows.dtype), mask


def _model_classes(family: str):
    from transformers import MBartConfig, MBartForConditionalGeneration, T5Config, T5ForConditionalGeneration

    return {
        "t5": (T5Config, T5ForConditionalGeneration),
        "mbart": (MBartConfig, MBartForConditionalGeneration),
    }[family]


def architecture_keys(family: str) -> list[str]:
    """Keys accepted in ``lm.architecture`` for ``family``."""
    config_class, _ = _model_classes(family)
    if dataclasses.is_dataclass(config_class):
        names = {field.name for field in dataclasses.fields(config_class)}
    else:
        names = set(inspect.signature(config_class.__init__).parameters)
    names.add("tie_word_embeddings")
    return sorted(names - _NOT_ARCHITECTURE - _FROM_TOKENIZER)


def _check_architecture(config: LanguageModelConfig) -> None:
    valid = architecture_keys(config.family)
    for key in config.architecture:
        if key in _FROM_TOKENIZER:
            raise ConfigError(f"lm.architecture.{key}: set from the tokenizer, remove it from the config")
        if key not in valid:
            raise ConfigError(
                f"lm.architecture: unknown key '{key}' for family '{config.family}'; "
                f"valid keys: {', '.join(valid)}"
            )


def _token_ids(tokenizer) -> dict[str, int]:
    ids = {"pad_token_id": tokenizer.pad_token_id, "eos_token_id": tokenizer.eos_token_id}
    if getattr(tokenizer, "bos_token_id", None) is not None:
        ids["bos_token_id"] = tokenizer.bos_token_id
    return ids


def load_trimmed_vocab(config: LanguageModelConfig, tokenizer) -> Any:
    """The :class:`~glossfree.text.trim.TrimmedVocab` of ``config.trimmed_vocab`` (None: no trimming)."""
    if not config.trimmed_vocab:
        return None
    from pathlib import Path

    from glossfree.text.trim import TrimmedVocab

    if config.trimmed_vocab == "train":
        raise ConfigError(
            "lm.trimmed_vocab: train is resolved by `glossfree train` (it keeps the ids of the training "
            "texts); to build a model directly, give the path of a trimmed_vocab.json"
        )
    path = Path(config.trimmed_vocab)
    if not path.is_file():
        raise ConfigError(f"lm.trimmed_vocab: {path} not found (a trimmed_vocab.json from glossfree.text.trim)")
    vocab = TrimmedVocab.load(path)
    if len(tokenizer) > vocab.full_size:
        raise ConfigError(
            f"lm.trimmed_vocab {path} maps a vocabulary of {vocab.full_size} ids, but the tokenizer has "
            f"{len(tokenizer)} tokens: they do not belong together"
        )
    return vocab


def build_seq2seq(config: LanguageModelConfig, tokenizer, vocab: Any = None) -> nn.Module:
    """The bare ``transformers`` model (no adapter): pretrained or from ``config.architecture``.

    ``vocab`` (a :class:`~glossfree.text.trim.TrimmedVocab`): the model embeds and predicts only
    its kept ids.
    """
    _check_architecture(config)
    config_class, model_class = _model_classes(config.family)
    dtype = getattr(torch, config.dtype)
    if config.name_or_path:
        try:
            model = model_class.from_pretrained(
                config.name_or_path, local_files_only=True, dtype=dtype, **config.architecture
            )
        except OSError as error:
            reason = (str(error).strip().splitlines() or [type(error).__name__])[0]
            raise ConfigError(
                f"lm.name_or_path '{config.name_or_path}' could not be loaded offline ({reason}). glossfree "
                f"never downloads weights; fetch them yourself (e.g. `hf download {config.name_or_path}`) "
                "and pass the local folder"
            ) from None
        rows = model.get_input_embeddings().weight.shape[0]
        if vocab is not None:
            return _trimmed(model, vocab, config)
        if len(tokenizer) > rows:
            if not config.resize_embeddings:
                raise ConfigError(
                    f"the tokenizer has {len(tokenizer)} tokens but lm.name_or_path "
                    f"'{config.name_or_path}' embeds only {rows}: the tokenizer probably belongs to "
                    "another model (check tokenizer.name_or_path); to add randomly initialised rows "
                    "for the extra tokens on purpose, set lm.resize_embeddings: true"
                )
            model.resize_token_embeddings(len(tokenizer))
            model.glossfree_resized = True  # the new rows are not part of the pretrained base
        return model
    ids = _token_ids(tokenizer)
    if config.family == "t5":
        ids["decoder_start_token_id"] = tokenizer.pad_token_id
    else:
        ids["decoder_start_token_id"] = tokenizer.eos_token_id
    size = len(tokenizer)
    if vocab is not None:  # a from-scratch model of the kept ids only
        ids = {name: _kept_id(vocab, value, name) for name, value in ids.items()}
        size = len(vocab)
    model_config = config_class(**config.architecture, vocab_size=size, **ids)
    return model_class(model_config).to(dtype)


def _kept_id(vocab: Any, full_id: int, what: str) -> int:
    new = vocab.new_id(full_id)
    if new is None:
        raise ConfigError(f"lm.trimmed_vocab: the {what} (id {full_id}) is not among the kept ids")
    return new


def _trimmed(model: nn.Module, vocab: Any, config: LanguageModelConfig) -> nn.Module:
    """A pretrained model on the trimmed vocabulary: trimmed now, or already saved trimmed."""
    from glossfree.text.trim import remap_config_ids, resize_vocab_modules

    rows = model.get_input_embeddings().weight.shape[0]
    if rows == len(vocab):
        return model  # saved by glossfree.text.trim.save_trimmed
    if rows != vocab.full_size:
        raise ConfigError(
            f"lm.trimmed_vocab maps a vocabulary of {vocab.full_size} ids to {len(vocab)}, but "
            f"lm.name_or_path '{config.name_or_path}' embeds {rows}: the mapping is from another model"
        )
    resize_vocab_modules(model, vocab)
    remap_config_ids(model.config, vocab)
    if getattr(model, "generation_config", None) is not None:
        remap_config_ids(model.generation_config, vocab)
    model.config.vocab_size = len(vocab)
    return model


def base_fingerprint(name_or_path: str, model_config: Any, tensors: dict[str, torch.Tensor]) -> dict[str, Any]:
    """What identifies a pretrained base: its shape and a checksum of a few of its tensors.

    The checksum hashes the names, shapes, dtypes and the first 256K elements of four tensors spread
    over the sorted keys (two different checkpoints differ in every trained tensor), so it costs
    milliseconds even for Flan-T5-XL.
    """
    keys = sorted(tensors)
    picks = sorted({keys[round(i * (len(keys) - 1) / 3)] for i in range(4)}) if keys else []
    digest = hashlib.sha256()
    for key in picks:
        tensor = tensors[key].detach()
        digest.update(f"{key}|{tuple(tensor.shape)}|{tensor.dtype}|".encode())
        flat = tensor.reshape(-1)[: 1 << 18].cpu().contiguous()
        digest.update(flat.view(torch.uint8).numpy().tobytes())
    return {
        "name_or_path": name_or_path,
        "model_type": getattr(model_config, "model_type", None),
        "d_model": getattr(model_config, "d_model", None),
        "vocab_size": getattr(model_config, "vocab_size", None),
        "num_tensors": len(keys),
        "checksum": digest.hexdigest(),
    }


def add_adapter(model: nn.Module, config: LanguageModelConfig) -> nn.Module:
    """Wrap ``model`` with a LoRA/DoRA adapter (base weights frozen); unchanged for ``kind="none"``."""
    adapter = config.adapter
    if adapter.kind == "none":
        return model
    from peft import LoraConfig, TaskType, get_peft_model

    targets = adapter.target_modules or DEFAULT_TARGET_MODULES[config.family]
    peft_config = LoraConfig(
        r=adapter.r,
        lora_alpha=adapter.alpha,
        lora_dropout=adapter.dropout,
        target_modules=list(targets),
        use_dora=adapter.kind == "dora",
        modules_to_save=list(adapter.modules_to_save) or None,
        task_type=TaskType.SEQ_2_SEQ_LM,
    )
    try:
        with warnings.catch_warnings():
            # peft reads transformers' deprecated `is_gradient_checkpointing`: a FutureWarning on every
            # build that the user can do nothing about (peft 0.21 / transformers 5)
            warnings.filterwarnings("ignore", message="`is_gradient_checkpointing` is deprecated", category=FutureWarning)
            return get_peft_model(model, peft_config)
    except ValueError as error:
        raise ConfigError(f"lm.adapter (target_modules={targets}): {error}") from None


class LanguageModel(nn.Module):
    """A seq2seq LM that reads visual embeddings and writes text.

    Args:
        config: :class:`LanguageModelConfig`.
        tokenizer: the model's tokenizer (for mBART, ``src_lang``/``tgt_lang`` from the config are
            set on it).
    """

    def __init__(self, config: LanguageModelConfig, tokenizer) -> None:
        super().__init__()
        self.config = config
        self.tokenizer = tokenizer
        if config.family == "mbart":
            if config.src_lang:
                tokenizer.src_lang = config.src_lang
            if config.tgt_lang:
                tokenizer.tgt_lang = config.tgt_lang
        self.vocab = load_trimmed_vocab(config, tokenizer)  # None: the LM uses the tokenizer's ids
        base = build_seq2seq(config, tokenizer, self.vocab)
        self.embed_dim: int = base.config.d_model
        self.model = add_adapter(base, config)
        # A frozen pretrained base is not stored in checkpoints (glossfree.checkpoint): its keys here,
        # and a fingerprint that tells a different base apart on loading.
        self.frozen_base_keys: frozenset[str] = frozenset()
        self.base_fingerprint: dict[str, Any] | None = None
        if config.name_or_path and config.adapter.kind != "none":
            frozen = {id(p) for p in self.model.parameters() if not p.requires_grad}
            if getattr(base, "glossfree_resized", False):  # resized embeddings hold random rows: saved
                frozen -= {id(m.weight) for m in (base.get_input_embeddings(), base.get_output_embeddings()) if m}
            tensors = {k: v for k, v in self.state_dict(keep_vars=True).items() if id(v) in frozen}
            self.frozen_base_keys = frozenset(tensors)
            self.base_fingerprint = base_fingerprint(config.name_or_path, base.config, tensors)
        self._decoder_start, self._forced_bos = self._decoding_start(base)
        special = set(tokenizer.all_special_ids) | set(getattr(tokenizer, "lang_code_to_id", {}).values())
        special |= {self.full_id(i) for i in (self._decoder_start, self._forced_bos) if i is not None}
        self._strip_ids = special

    def _decoding_start(self, base: nn.Module) -> tuple[int | None, int | None]:
        """(decoder start id, forced first token id) for generation."""
        if self.config.family == "t5":
            return base.config.decoder_start_token_id, None
        # mBART: training shifts the labels right, wrapping their last token to the front. The
        # labels of an empty text show the layout: cc25 [</s>, lang] -> start with lang; mBART-50
        # [lang, </s>] -> start with </s> and force lang as the first generated token.
        probe = self.tokenizer(text_target="").input_ids
        start = probe[-1]
        forced = probe[0] if len(probe) > 1 and probe[0] != self.tokenizer.eos_token_id else None
        return self.model_id(start), None if forced is None else self.model_id(forced)

    # Ids: the tokenizer's ("full") and the model's differ only with a trimmed vocabulary.
    def model_id(self, full_id: int) -> int:
        """The model's id of tokenizer id ``full_id`` (they differ with a trimmed vocabulary)."""
        return full_id if self.vocab is None else _kept_id(self.vocab, full_id, f"token {full_id}")

    def full_id(self, model_id: int) -> int:
        """The tokenizer's id of the model's id ``model_id`` (they differ with a trimmed vocabulary)."""
        return model_id if self.vocab is None else self.vocab.old_id(model_id)

    def _model_ids(self, full_ids: torch.Tensor) -> torch.Tensor:
        return full_ids if self.vocab is None else self.vocab.to_new(full_ids)

    @property
    def dtype(self) -> torch.dtype:
        return next(self.model.parameters()).dtype

    def encode_targets(self, texts: list[str]) -> torch.Tensor:
        """Token ids of the target texts ``[B, L]`` with -100 on padding (truncated to max length)."""
        encoded = self.tokenizer(
            text_target=list(texts),
            max_length=self.config.max_target_length,
            truncation=True,
            padding="longest",
            return_tensors="pt",
        )
        return self._model_ids(encoded.input_ids).masked_fill(encoded.attention_mask == 0, -100)

    def prepare_inputs(
        self, inputs_embeds: torch.Tensor, attention_mask: torch.Tensor, prompts: list[str] | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Encoder input: each sample's valid visual tokens, then its embedded prompt.

        ``prompts`` (one per sample) overrides ``config.prompt``; with neither, the visual tokens
        go in alone. Returns ``[B, L, D]`` embeddings and a ``[B, L]`` mask.
        """
        batch = inputs_embeds.shape[0]
        embeds = inputs_embeds.to(self.dtype)
        mask = attention_mask.bool()
        if prompts is None and self.config.prompt:
            prompts = [self.config.prompt] * batch
        if not prompts:
            return embeds * mask.unsqueeze(-1).to(embeds.dtype), mask
        if len(prompts) != batch:
            raise ValueError(f"{len(prompts)} prompts for a batch of {batch}")
        encoded = self.tokenizer(list(prompts), padding="longest", return_tensors="pt").to(embeds.device)
        prompt_ids = self._model_ids(encoded.input_ids.cpu()).to(embeds.device)
        prompt_embeds = self.model.get_input_embeddings()(prompt_ids)  # [B, Lp, D]
        return concat_valid(embeds, mask, prompt_embeds.to(embeds.dtype), encoded.attention_mask.bool())

    def forward(
        self,
        inputs_embeds: torch.Tensor,
        attention_mask: torch.Tensor,
        texts: list[str],
        *,
        prompts: list[str] | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Teacher-forced loss on ``texts``.

        Args:
            inputs_embeds: ``[B, L, embed_dim]`` visual tokens.
            attention_mask: ``[B, L]`` bool, True = valid token.
            texts: ``B`` target sentences.
            prompts: optional per-sample prompts (default: ``config.prompt``).

        Returns:
            ``(loss, logits)``: label-smoothed cross-entropy (mean over target tokens) and
            ``[B, L_target, vocab]`` logits.
        """
        output = self.teacher_forced(inputs_embeds, attention_mask, texts, prompts=prompts)
        return output.loss, output.logits

    def teacher_forced(
        self,
        inputs_embeds: torch.Tensor,
        attention_mask: torch.Tensor,
        texts: list[str],
        *,
        prompts: list[str] | None = None,
    ) -> LMOutput:
        """:meth:`forward` with the encoder's hidden states kept (:class:`LMOutput`)."""
        embeds, mask = self.prepare_inputs(inputs_embeds, attention_mask, prompts)
        labels = self.encode_targets(texts).to(embeds.device)
        decoder_input_ids = self._base().prepare_decoder_input_ids_from_labels(labels=labels)
        output = self.model(inputs_embeds=embeds, attention_mask=mask, decoder_input_ids=decoder_input_ids)
        loss = label_smoothed_cross_entropy(output.logits, labels, smoothing=self.config.label_smoothing)
        return LMOutput(loss, output.logits, output.encoder_last_hidden_state, mask)

    def _base(self) -> nn.Module:
        return self.model.get_base_model() if hasattr(self.model, "get_base_model") else self.model

    def part_split(self) -> dict[str, tuple[frozenset[str], list[nn.Module]]]:
        """The LM's two stage parts, ``encoder`` and ``decoder``: each one's parameter names (as in
        ``self.named_parameters()``) and the modules to put in eval mode when it is frozen.

        The token embeddings (shared by encoder and decoder) and the LM head (tied to them in mBART)
        belong to the decoder: the encoder reads visual tokens, the decoder reads and writes text (a
        prompt embedded for the encoder is embedded by them too). Adapter weights follow the layer
        they adapt. Every LM parameter is in exactly one of the two.
        """
        base = self._base()
        text_side = [base.get_decoder(), base.get_input_embeddings(), base.get_output_embeddings()]
        decoder_ids = {id(p) for module in text_side if module is not None for p in module.parameters()}
        encoder_ids = {id(p) for p in base.get_encoder().parameters()} - decoder_ids
        named = list(self.named_parameters())
        encoder = frozenset(name for name, p in named if id(p) in encoder_ids)
        decoder = frozenset(name for name, p in named if id(p) in decoder_ids)
        rest = sorted({name for name, _ in named} - encoder - decoder)
        if rest:  # a family with parameters outside encoder, decoder, embeddings and head
            raise ConfigError(f"lm: parameters in neither lm.encoder nor lm.decoder: {', '.join(rest[:5])}")
        modules = [m for m in (base.get_decoder(), base.get_output_embeddings()) if m is not None]
        return {"encoder": (encoder, [base.get_encoder()]), "decoder": (decoder, modules)}

    def encode_embeds(
        self, inputs_embeds: torch.Tensor, attention_mask: torch.Tensor, *, prompts: list[str] | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """The encoder alone on visual tokens (plus prompt): hidden states ``[B, L, D]`` and mask ``[B, L]``."""
        embeds, mask = self.prepare_inputs(inputs_embeds, attention_mask, prompts)
        hidden = self._base().get_encoder()(inputs_embeds=embeds, attention_mask=mask).last_hidden_state
        return hidden, mask

    def _tokenize_texts(self, texts: list[str]):
        device = next(self.model.parameters()).device
        return self.tokenizer(
            list(texts), max_length=self.config.max_target_length, truncation=True, padding="longest",
            return_tensors="pt",
        ).to(device)  # fmt: skip

    def embed_texts(self, texts: list[str]) -> tuple[torch.Tensor, torch.Tensor]:
        """The texts' input embeddings (the LM's own embedding table, special tokens included):
        ``[B, L, embed_dim]`` (0 on padding) and the mask ``[B, L]`` (bool).

        The text side of contrastive objectives at the lexical level (paper 002's token embeddings).
        Gradients reach the embedding table when the LM trains.
        """
        encoded = self._tokenize_texts(texts)
        mask = encoded.attention_mask.bool()
        embeds = self.model.get_input_embeddings()(encoded.input_ids)
        return embeds * mask.unsqueeze(-1).to(embeds.dtype), mask

    def encode_texts(self, texts: list[str], *, adapters: bool = True) -> tuple[torch.Tensor, torch.Tensor]:
        """The LM encoder's hidden states on the texts: ``[B, L, embed_dim]`` and mask ``[B, L]``.

        The text side at the contextual level (paper 001's sentence features from the mBART
        encoder, paper 002's hidden states). ``adapters=False`` is paper 001's *frozen* text encoder
        without a second copy in memory: the same encoder with its LoRA/DoRA adapters switched off
        (peft's ``disable_adapter()``), in eval mode (no dropout) and without a graph, so no gradient
        reaches any weight through it. Without an adapter it is the encoder's current weights, still
        without a graph.
        """
        if adapters:
            return self._encode_texts(texts)
        encoder = self._base().get_encoder()
        modes = [(module, module.training) for module in encoder.modules()]
        switch_off = self.model.disable_adapter() if hasattr(self.model, "disable_adapter") else contextlib.nullcontext()
        try:
            encoder.eval()
            with torch.no_grad(), switch_off:
                return self._encode_texts(texts)
        finally:
            for module, training in modes:
                module.training = training

    # The text-to-text path of a denoising objective (glossfree.objectives.text_denoise).
    @property
    def special_ids(self) -> frozenset[int]:
        """Tokenizer ids of special tokens (``</s>``, padding, language codes, decoding starts)."""
        return frozenset(self._strip_ids)

    @property
    def mask_token_id(self) -> int:
        """The tokenizer id of ``<mask>`` (mBART) or T5's first sentinel ``<extra_id_0>``.

        Raises:
            ConfigError: the tokenizer has neither (a trained T5 tokenizer has no sentinels).
        """
        mask = self.tokenizer.mask_token_id
        if mask is None:
            sentinel = self.tokenizer.convert_tokens_to_ids("<extra_id_0>")
            mask = None if sentinel in (None, self.tokenizer.unk_token_id) else sentinel
        if mask is None:
            raise ConfigError(
                f"the {self.config.family} tokenizer ({type(self.tokenizer).__name__}) has no <mask> or "
                "<extra_id_0> token to corrupt text with; use an mbart-family tokenizer (tokenizer.family: mbart)"
            )
        if self.vocab is not None and self.vocab.new_id(mask) is None:
            raise ConfigError(f"the trimmed vocabulary of the LM dropped the mask token (id {mask})")
        return mask

    def text_vocab_ids(self) -> list[int]:
        """The tokenizer ids the LM can read (every id, or those a trimmed vocabulary kept)."""
        return list(self.vocab.mapping) if self.vocab is not None else list(range(len(self.tokenizer)))

    def text_ids(self, texts: list[str]) -> list[list[int]]:
        """Each text's tokenizer ids as the encoder reads a text (special tokens included, truncated
        to ``max_target_length``), unpadded."""
        encoded = self.tokenizer(list(texts), max_length=self.config.max_target_length, truncation=True)
        return [list(ids) for ids in encoded.input_ids]

    def reconstruction_loss(self, source_ids: list[list[int]], texts: list[str]) -> torch.Tensor:
        """Label-smoothed teacher-forced loss of writing ``texts`` from token ids ``source_ids``
        (tokenizer ids, one unpadded list per text: e.g. a corrupted copy of the text). No visual
        tokens and no prompt: the encoder reads the ids through the LM's own embeddings."""
        if len(source_ids) != len(texts):
            raise ValueError(f"{len(source_ids)} sources for {len(texts)} texts")
        device = next(self.model.parameters()).device
        width = max(len(ids) for ids in source_ids)
        pad = self.tokenizer.pad_token_id
        ids = torch.full((len(source_ids), width), pad, dtype=torch.long)
        mask = torch.zeros(len(source_ids), width, dtype=torch.bool)
        for row, source in enumerate(source_ids):
            ids[row, : len(source)] = torch.tensor(source, dtype=torch.long)
            mask[row, : len(source)] = True
        ids, mask = self._model_ids(ids).to(device), mask.to(device)
        labels = self.encode_targets(texts).to(device)
        decoder_input_ids = self._base().prepare_decoder_input_ids_from_labels(labels=labels)
        output = self.model(input_ids=ids, attention_mask=mask, decoder_input_ids=decoder_input_ids)
        return label_smoothed_cross_entropy(output.logits, labels, smoothing=self.config.label_smoothing)

    def _encode_texts(self, texts: list[str]) -> tuple[torch.Tensor, torch.Tensor]:
        encoded = self._tokenize_texts(texts)
        mask = encoded.attention_mask.bool()
        hidden = self._base().get_encoder()(input_ids=encoded.input_ids, attention_mask=mask).last_hidden_state
        return hidden * mask.unsqueeze(-1).to(hidden.dtype), mask

    @torch.no_grad()
    def generate(
        self,
        inputs_embeds: torch.Tensor,
        attention_mask: torch.Tensor,
        *,
        prompts: list[str] | None = None,
        num_beams: int | None = None,
        max_new_tokens: int | None = None,
        length_penalty: float | None = None,
        prefix_allowed_tokens_fn=None,
    ) -> list[str]:
        """Beam-search decode one sentence per sample (``None`` arguments: ``config.generation``).

        ``prefix_allowed_tokens_fn(batch_id, decoder_ids) -> list of model ids`` restricts each step
        (Hugging Face ``generate``), e.g. to the SSA answer format (``glossfree.inference.aligner``).
        """
        settings = self.config.generation
        embeds, mask = self.prepare_inputs(inputs_embeds, attention_mask, prompts)
        kwargs: dict[str, Any] = {
            "num_beams": num_beams if num_beams is not None else settings.num_beams,
            "max_new_tokens": max_new_tokens if max_new_tokens is not None else settings.max_new_tokens,
            "length_penalty": length_penalty if length_penalty is not None else settings.length_penalty,
            "do_sample": settings.do_sample,
            "pad_token_id": self.model_id(self.tokenizer.pad_token_id),
            "eos_token_id": self.model_id(self.tokenizer.eos_token_id),
            "decoder_start_token_id": self._decoder_start,
        }
        if settings.do_sample:
            kwargs.update(top_p=settings.top_p, temperature=settings.temperature)
        if self._forced_bos is not None:
            kwargs["forced_bos_token_id"] = self._forced_bos
        if prefix_allowed_tokens_fn is not None:
            kwargs["prefix_allowed_tokens_fn"] = prefix_allowed_tokens_fn
        sequences = self.model.generate(inputs_embeds=embeds, attention_mask=mask.long(), **kwargs)
        return [self._decode(row) for row in sequences.tolist()]

    def _decode(self, ids: list[int]) -> str:
        ids = [self.full_id(i) for i in ids]
        kept = [i for i in ids if i not in self._strip_ids]
        return self.tokenizer.decode(kept, skip_special_tokens=True).strip()
