"""Language-model vocabulary trimming: keep only the tokens the training texts use.

GFSLT-VLP (``zhoubenjia/GFSLT-VLP``, ``tools/trim_model.py`` with hf-trim) and SAGE (paper 002,
Sec. 4.2: "we trim the mBART tokenizer's embedding matrix to retain only vocabulary tokens
present in the training set") shrink mBART's 250k-row embedding matrix and LM head to the few
thousand pieces of PHOENIX14T. Here the *tokenizer is left unchanged*: texts are encoded with
the full tokenizer and the ids mapped to the trimmed ids (:class:`TrimmedVocab`), and generated
ids are mapped back to full-vocabulary ids before decoding. Works for any ``transformers``
encoder-decoder whose input embeddings and LM head are vocabulary-sized (mBART, T5/Flan-T5).

Kept ids: every id the tokenizer produces for the training texts (with special tokens), the
tokenizer's special ids, the special ids named in the model and generation configs
(pad/bos/eos/decoder-start/forced-bos/forced-eos), mBART language codes (``xx_XX`` tokens), and any
``keep_tokens``. New ids follow the old id order, so the mapping is deterministic.

A trimmed model is an ordinary ``transformers`` model with a smaller ``vocab_size``:
:func:`save_trimmed` writes ``save_pretrained`` output plus ``trimmed_vocab.json``;
:func:`load_trimmed` reads both back.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from glossfree.errors import ConfigError, DataError
from glossfree.io import atomic_write_json, read_json

TRIMMED_VOCAB_FILE = "trimmed_vocab.json"
_FORMAT = "glossfree.trimmed_vocab/1"
_LANG_CODE = re.compile(r"^[a-z]{2}_[A-Z]{2}$")
_SPECIAL_ID_FIELDS = (
    "pad_token_id",
    "bos_token_id",
    "eos_token_id",
    "decoder_start_token_id",
    "forced_bos_token_id",
    "forced_eos_token_id",
    "sep_token_id",
)


@dataclass(frozen=True)
class TrimmedVocab:
    """Id mapping between a full tokenizer vocabulary and a trimmed model vocabulary.

    Attributes:
        mapping: ``mapping[new_id] = old_id``, strictly increasing.
        full_size: size of the full vocabulary (the tokenizer's ids are ``< full_size``).
        unk_id: *new* id used for full-vocabulary tokens that were trimmed away (``None``: error).
    """

    mapping: tuple[int, ...]
    full_size: int
    unk_id: int | None = None
    _old_to_new: torch.Tensor = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if any(b <= a for a, b in zip(self.mapping, self.mapping[1:])):
            raise ValueError("TrimmedVocab.mapping must be strictly increasing")
        if self.mapping and (self.mapping[0] < 0 or self.mapping[-1] >= self.full_size):
            raise ValueError(f"mapping ids must lie in [0, {self.full_size})")
        if self.unk_id is not None and not 0 <= self.unk_id < len(self.mapping):
            raise ValueError(f"unk_id {self.unk_id} outside the trimmed vocabulary")
        table = torch.full((self.full_size,), -1, dtype=torch.long)  # [full_size]
        table[torch.tensor(self.mapping, dtype=torch.long)] = torch.arange(len(self.mapping))
        object.__setattr__(self, "_old_to_new", table)

    def __len__(self) -> int:
        return len(self.mapping)

    def old_id(self, new_id: int) -> int:
        return self.mapping[new_id]

    def new_id(self, old_id: int) -> int | None:
        """Trimmed id of a full-vocabulary id, ``None`` if it was trimmed away."""
        new = int(self._old_to_new[old_id])
        return None if new < 0 else new

    def to_new(self, ids: torch.Tensor | Sequence[int]) -> torch.Tensor:
        """Full ids -> trimmed ids (any shape). Negative ids (``-100`` label padding) pass through;
        trimmed-away ids become :attr:`unk_id`, or raise :class:`DataError` when there is none."""
        ids = torch.as_tensor(ids, dtype=torch.long)
        if ids.numel() and int(ids.max()) >= self.full_size:
            raise DataError(f"token id {int(ids.max())} is outside the full vocabulary ({self.full_size})")
        valid = ids >= 0
        out = ids.clone()
        out[valid] = self._old_to_new[ids[valid]]
        lost = valid & (out < 0)
        if lost.any():
            if self.unk_id is None:
                raise DataError(
                    f"{int(lost.sum())} token(s) not in the trimmed vocabulary (e.g. id "
                    f"{int(ids[lost][0])}) and it has no unknown token"
                )
            out[lost] = self.unk_id
        return out

    def to_old(self, ids: torch.Tensor | Sequence[int]) -> torch.Tensor:
        """Trimmed ids -> full ids (any shape); negative ids pass through."""
        ids = torch.as_tensor(ids, dtype=torch.long)
        if ids.numel() and int(ids.max()) >= len(self.mapping):
            raise DataError(f"token id {int(ids.max())} is outside the trimmed vocabulary ({len(self)})")
        table = torch.tensor(self.mapping, dtype=torch.long)
        out = ids.clone()
        valid = ids >= 0
        out[valid] = table[ids[valid]]
        return out

    def encode(self, tokenizer: Any, texts: Sequence[str], **kwargs: Any) -> dict[str, torch.Tensor]:
        """Tokenize with the full tokenizer (padded tensors) and map ``input_ids`` to trimmed ids."""
        batch = tokenizer(list(texts), return_tensors="pt", padding=True, **kwargs)
        out = {key: value for key, value in batch.items()}
        out["input_ids"] = self.to_new(out["input_ids"])
        return out

    def decode(self, tokenizer: Any, ids: torch.Tensor | Sequence[Sequence[int]], **kwargs: Any) -> list[str]:
        """Map trimmed ids back to full ids and decode (``skip_special_tokens=True`` by default)."""
        kwargs.setdefault("skip_special_tokens", True)
        full = self.to_old(ids)
        return tokenizer.batch_decode(full.tolist(), **kwargs)

    def save(self, path: str | Path) -> Path:
        path = Path(path)
        atomic_write_json(
            path,
            {"format": _FORMAT, "full_size": self.full_size, "unk_id": self.unk_id, "mapping": list(self.mapping)},
            indent=1,
        )
        return path

    @classmethod
    def load(cls, path: str | Path) -> TrimmedVocab:
        path = Path(path)
        data = read_json(path, what="trimmed vocabulary mapping")
        if not isinstance(data, dict) or data.get("format") != _FORMAT:
            raise DataError(f"{path}: not a trimmed vocabulary mapping (expected format {_FORMAT!r})")
        mapping = data.get("mapping")
        if not isinstance(mapping, list) or not all(isinstance(i, int) for i in mapping):
            raise DataError(f"{path}: 'mapping' must be a list of integers")
        try:
            return cls(tuple(mapping), int(data["full_size"]), data.get("unk_id"))
        except (KeyError, ValueError) as error:
            raise DataError(f"{path}: invalid mapping: {error}") from None


@dataclass
class TrimResult:
    """The trimmed model (modified in place) and its id mapping."""

    model: nn.Module
    vocab: TrimmedVocab

    @property
    def mapping(self) -> list[int]:
        """``mapping[new_id] = old_id``."""
        return list(self.vocab.mapping)


def _config_special_ids(*configs: Any) -> set[int]:
    ids: set[int] = set()
    for config in configs:
        if config is None:
            continue
        for name in _SPECIAL_ID_FIELDS:
            value = getattr(config, name, None)
            values = value if isinstance(value, (list, tuple)) else [value]
            ids.update(int(v) for v in values if isinstance(v, int) and v >= 0)
    return ids


def used_token_ids(tokenizer: Any, texts: Iterable[str]) -> set[int]:
    """All ids the tokenizer produces for ``texts`` (special tokens included)."""
    from glossfree.text.pseudo_gloss import check_texts

    texts = check_texts(texts, source="trim texts")
    if not texts:
        return set()
    ids: set[int] = set()
    for start in range(0, len(texts), 1024):
        for row in tokenizer(texts[start : start + 1024], add_special_tokens=True)["input_ids"]:
            ids.update(row)
    return ids


def kept_token_ids(
    tokenizer: Any,
    texts: Iterable[str],
    *,
    model_configs: Sequence[Any] = (),
    keep_tokens: Iterable[str | int] = (),
    keep_language_codes: bool = True,
) -> list[int]:
    """The sorted full-vocabulary ids a trimmed model keeps (see module docstring)."""
    ids = used_token_ids(tokenizer, texts)
    ids.update(int(i) for i in getattr(tokenizer, "all_special_ids", []))
    ids.update(_config_special_ids(*model_configs))
    vocab = tokenizer.get_vocab()
    if keep_language_codes:
        ids.update(i for token, i in vocab.items() if _LANG_CODE.match(token))
    for token in keep_tokens:
        if isinstance(token, int):
            ids.add(token)
        elif token in vocab:
            ids.add(vocab[token])
        else:
            raise ConfigError(f"keep_tokens: {token!r} is not a token of the tokenizer")
    return sorted(ids)


def trim_vocabulary(
    model: nn.Module,
    tokenizer: Any,
    texts: Iterable[str],
    *,
    keep_tokens: Iterable[str | int] = (),
    keep_language_codes: bool = True,
) -> TrimResult:
    """Shrink ``model``'s input embeddings, LM head (and mBART's ``final_logits_bias``) in place.

    Args:
        model: a ``transformers`` seq2seq LM (``get_input_embeddings``/``get_output_embeddings``).
        tokenizer: its full tokenizer (unchanged).
        texts: the training texts that define the kept vocabulary.
        keep_tokens: extra tokens (strings or full ids) to keep, e.g. prompt words.
        keep_language_codes: keep every ``xx_XX`` language-code token (mBART).
    """
    input_embeddings = model.get_input_embeddings()
    old_size = input_embeddings.weight.shape[0]
    if len(tokenizer) > old_size:
        raise ConfigError(
            f"tokenizer has {len(tokenizer)} tokens but the model only {old_size} embeddings: "
            "they do not belong together"
        )
    generation_config = getattr(model, "generation_config", None)
    mapping = kept_token_ids(
        tokenizer,
        texts,
        model_configs=(model.config, generation_config),
        keep_tokens=keep_tokens,
        keep_language_codes=keep_language_codes,
    )
    if mapping and mapping[-1] >= old_size:
        raise ConfigError(f"token id {mapping[-1]} is outside the model's {old_size} embeddings")
    unk = getattr(tokenizer, "unk_token_id", None)
    vocab = TrimmedVocab(tuple(mapping), old_size, mapping.index(unk) if unk in mapping else None)
    resize_vocab_modules(model, vocab)
    remap_config_ids(model.config, vocab)
    if generation_config is not None:
        remap_config_ids(generation_config, vocab)
    model.config.vocab_size = len(vocab)
    return TrimResult(model=model, vocab=vocab)


def resize_vocab_modules(model: nn.Module, vocab: TrimmedVocab) -> None:
    """Keep the rows of ``vocab``'s ids in every vocabulary-sized weight of a Hugging Face
    encoder-decoder (embeddings, LM head, ``final_logits_bias``), in place; tied weights stay tied."""
    index = torch.tensor(vocab.mapping, dtype=torch.long)
    old_params = {id(model.get_input_embeddings().weight)}
    output = model.get_output_embeddings()
    if output is not None:
        old_params.add(id(output.weight))
    new_params: dict[int, nn.Parameter] = {}
    # Every module that holds one of the vocabulary-sized weights (shared, encoder/decoder
    # embed_tokens, lm_head); tied weights stay tied because each old Parameter maps to one new.
    for module in model.modules():
        weight = getattr(module, "weight", None)
        if not isinstance(weight, nn.Parameter) or id(weight) not in old_params:
            continue
        if id(weight) not in new_params:
            new_params[id(weight)] = nn.Parameter(
                weight.data[index].clone(), requires_grad=weight.requires_grad
            )  # [V_new, D]
        module.weight = new_params[id(weight)]
        if isinstance(module, nn.Embedding):
            module.num_embeddings = len(vocab)
            if module.padding_idx is not None:
                module.padding_idx = vocab.new_id(module.padding_idx)
        elif isinstance(module, nn.Linear):
            module.out_features = len(vocab)
            if module.bias is not None:
                module.bias = nn.Parameter(module.bias.data[index].clone())
    bias = getattr(model, "final_logits_bias", None)
    if isinstance(bias, torch.Tensor):
        persistent = "final_logits_bias" not in getattr(model, "_non_persistent_buffers_set", set())
        model.register_buffer("final_logits_bias", bias[:, index].clone(), persistent=persistent)  # [1, V_new]


def remap_config_ids(config: Any, vocab: TrimmedVocab) -> None:
    """Map the special token ids of a model or generation config to ``vocab``'s new ids, in place."""
    for name in _SPECIAL_ID_FIELDS:
        value = getattr(config, name, None)
        if isinstance(value, int) and value >= 0:
            setattr(config, name, vocab.new_id(value))
        elif isinstance(value, (list, tuple)) and value:
            setattr(config, name, [vocab.new_id(v) for v in value])


def save_trimmed(model: nn.Module, vocab: TrimmedVocab, out_dir: str | Path) -> Path:
    """``model.save_pretrained(out_dir)`` plus ``out_dir/trimmed_vocab.json``."""
    out_dir = Path(out_dir)
    if model.get_input_embeddings().weight.shape[0] != len(vocab):
        raise ConfigError(
            f"model has {model.get_input_embeddings().weight.shape[0]} embeddings, "
            f"the trimmed vocabulary {len(vocab)}: not a pair"
        )
    model.save_pretrained(str(out_dir))
    vocab.save(out_dir / TRIMMED_VOCAB_FILE)
    return out_dir


def load_trimmed(out_dir: str | Path, model_class: Any = None) -> tuple[nn.Module, TrimmedVocab]:
    """Load a model saved by :func:`save_trimmed` (``model_class`` default ``AutoModelForSeq2SeqLM``)."""
    out_dir = Path(out_dir)
    vocab = TrimmedVocab.load(out_dir / TRIMMED_VOCAB_FILE)
    if model_class is None:
        from transformers import AutoModelForSeq2SeqLM as model_class
    model = model_class.from_pretrained(str(out_dir))
    rows = model.get_input_embeddings().weight.shape[0]
    if rows != len(vocab):
        raise DataError(f"{out_dir}: model has {rows} embeddings but {TRIMMED_VOCAB_FILE} maps {len(vocab)}")
    return model, vocab
