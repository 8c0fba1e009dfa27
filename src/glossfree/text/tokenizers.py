"""Tokenizers: load a pretrained one by name or local path, or train a sentencepiece one.

:func:`load_tokenizer` never downloads: it reads a local folder, or a name already in the Hugging
Face cache, and otherwise says how to get the files. :func:`train_tokenizer` trains a sentencepiece
unigram model on a list of sentences (deterministic: one thread, no sampling) and wraps it as the
``transformers`` tokenizer of the chosen family, saved with ``save_pretrained`` so that
``load_tokenizer(out_dir)`` (or ``AutoTokenizer``) reloads it:

- ``"t5"``: ``T5Tokenizer`` with T5's special ids ``<pad>=0, </s>=1, <unk>=2``, no sentinel tokens,
  NFKC normalisation as in T5's own sentencepiece model.
- ``"mbart"``: ``MBartTokenizer`` (fairseq ids ``<s>=0, <pad>=1, </s>=2, <unk>=3``, the 25 mBART
  language codes and ``<mask>`` appended), identity normalisation (the ``transformers`` 5 mBART
  converter carries no normaliser, so training and tokenising see the same text).

Both use a unigram model: ``transformers`` 5 represents both families' tokenizers as unigram
models, so the saved tokenizer segments exactly as the trained sentencepiece model does.
"""

from __future__ import annotations

import io
import os
import shutil
import sys
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import Literal

from glossfree.errors import ConfigError, DataError

# sentencepiece model file name each transformers tokenizer class reads
_SPM_FILE = {"t5": "spiece.model", "mbart": "sentencepiece.bpe.model"}
_SPECIAL_IDS = {
    "t5": {"pad_id": 0, "eos_id": 1, "unk_id": 2, "bos_id": -1},
    "mbart": {"unk_id": 0, "bos_id": 1, "eos_id": 2, "pad_id": -1},
}
_NORMALIZATION = {"t5": "nmt_nfkc", "mbart": "identity"}


def _ensure_sentencepiece_protobuf() -> None:
    """Make ``sentencepiece.sentencepiece_model_pb2`` importable for transformers' converters.

    sentencepiece >= 0.2.1 ships protobuf code that needs a protobuf runtime >= 5, while MediaPipe
    0.10.21 (the ``video`` extra) pins protobuf < 5. Then every sentencepiece-only tokenizer fails
    to load. transformers bundles the same schema compiled for older protobuf; when (and only when)
    sentencepiece's own module cannot be imported, register transformers' copy under its name.
    """
    try:
        import sentencepiece.sentencepiece_model_pb2  # noqa: F401
    except ImportError:
        import sentencepiece
        from transformers.utils import sentencepiece_model_pb2_new as compatible

        sys.modules["sentencepiece.sentencepiece_model_pb2"] = compatible
        sentencepiece.sentencepiece_model_pb2 = compatible  # type: ignore[attr-defined]


def load_tokenizer(
    name_or_path: str | os.PathLike[str], *, src_lang: str | None = None, tgt_lang: str | None = None
):
    """Load a tokenizer from a local folder or the local Hugging Face cache (never downloads).

    Args:
        name_or_path: a folder written by ``save_pretrained`` (or holding a sentencepiece model
            and ``tokenizer_config.json``), or a hub name already in the local cache.
        src_lang, tgt_lang: mBART language codes (e.g. ``"de_DE"``); ignored by other families.

    Raises:
        ConfigError: the folder does not exist, or the name is not available offline.
    """
    from transformers import AutoTokenizer

    _ensure_sentencepiece_protobuf()
    text = os.fspath(name_or_path)
    path = Path(text).expanduser()
    looks_like_path = path.exists() or text.startswith(("/", "./", "../", "~"))
    if looks_like_path and not path.is_dir():
        raise ConfigError(f"{text}: tokenizer folder not found")
    kwargs = {key: value for key, value in (("src_lang", src_lang), ("tgt_lang", tgt_lang)) if value}
    try:
        return AutoTokenizer.from_pretrained(
            str(path) if path.is_dir() else text, local_files_only=True, **kwargs
        )
    except (OSError, ValueError) as error:
        where = f"folder {text}" if path.is_dir() else f"'{text}' in the local Hugging Face cache"
        reason = (str(error).strip().splitlines() or [type(error).__name__])[0]
        raise ConfigError(
            f"tokenizer {where} could not be loaded offline ({reason}). glossfree never downloads; "
            f"fetch it yourself (e.g. `hf download {text}`) or pass a local folder that holds it"
        ) from None


def _train_sentencepiece(sentences: list[str], *, vocab_size: int, family: str, split_digits: bool = False) -> bytes:
    import sentencepiece as spm

    buffer = io.BytesIO()
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(sentences),
        model_writer=buffer,
        model_type="unigram",
        vocab_size=vocab_size,
        hard_vocab_limit=False,
        character_coverage=1.0,
        normalization_rule_name=_NORMALIZATION[family],
        input_sentence_size=0,
        shuffle_input_sentence=False,
        num_threads=1,
        minloglevel=2,
        split_digits=split_digits,
        **_SPECIAL_IDS[family],
    )
    return buffer.getvalue()


def _wrap(folder: Path, family: str, *, src_lang: str | None, tgt_lang: str | None):
    """Build the transformers tokenizer from the sentencepiece model in ``folder``."""
    _ensure_sentencepiece_protobuf()
    if family == "t5":
        from transformers import T5Tokenizer

        return T5Tokenizer.from_pretrained(str(folder), extra_ids=0, local_files_only=True)
    from transformers import MBartTokenizer

    return MBartTokenizer.from_pretrained(
        str(folder), src_lang=src_lang, tgt_lang=tgt_lang, local_files_only=True
    )


def train_tokenizer(
    texts: Iterable[str],
    out_dir: str | os.PathLike[str],
    *,
    vocab_size: int,
    family: Literal["t5", "mbart"] = "t5",
    src_lang: str | None = None,
    tgt_lang: str | None = None,
    split_digits: bool = False,
):
    """Train a sentencepiece unigram tokenizer on ``texts`` and save it to ``out_dir``.

    Args:
        texts: training sentences (e.g. a manifest's ``text`` fields); blank ones are skipped.
        out_dir: folder to write (created; its tokenizer files are replaced atomically).
        vocab_size: target sentencepiece vocabulary (a soft limit: small corpora may yield fewer).
        family: ``"t5"`` or ``"mbart"`` (see the module docstring for ids and extras).
        src_lang, tgt_lang: mBART language codes stored with the tokenizer (e.g. ``"de_DE"``).
        split_digits: every digit is a piece of its own (sentencepiece ``split_digits``): SSA
            answers such as ``"042-137"`` then give one token per digit, as paper 004's digit-wise
            soft decoding needs (``glossfree.objectives.ssa_soft_digits``).

    Returns:
        The tokenizer, equal to ``load_tokenizer(out_dir)``.

    Raises:
        DataError: no non-blank text. ConfigError: unknown family or too small a vocabulary.
    """
    if family not in _SPM_FILE:
        raise ConfigError(f"tokenizer family '{family}' is not supported; valid: {', '.join(_SPM_FILE)}")
    minimum = len([i for i in _SPECIAL_IDS[family].values() if i >= 0]) + 1
    if vocab_size <= minimum:
        raise ConfigError(f"vocab_size must be larger than {minimum} (got {vocab_size})")
    sentences = [line.strip() for line in texts if line and line.strip()]
    if not sentences:
        raise DataError("cannot train a tokenizer: no non-blank texts were given")
    model = _train_sentencepiece(sentences, vocab_size=vocab_size, family=family, split_digits=split_digits)

    out = Path(out_dir)
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    try:
        source = staging / "source"
        source.mkdir()
        (source / _SPM_FILE[family]).write_bytes(model)
        tokenizer = _wrap(source, family, src_lang=src_lang, tgt_lang=tgt_lang)
        saved = staging / "saved"
        tokenizer.save_pretrained(str(saved))
        out.mkdir(exist_ok=True)
        for file in saved.iterdir():
            os.replace(file, out / file.name)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return load_tokenizer(out)
