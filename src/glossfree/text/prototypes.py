"""Prototype vectors for the pseudo-gloss head: one row per vocabulary entry, row 0 (blank) zero.

HFA (paper 001, Sec. 3) represents each pseudo-gloss by a 300-d fastText vector and adds a zero
vector for non-sign segments; the visual features are compared with these prototypes by cosine
similarity. Three sources are provided:

- :func:`fasttext_prototypes` trains fastText (gensim's ``FastText``, the same skip-gram/CBOW
  with character n-grams as Facebook's tool) on the lemmatised training sentences, offline,
  deterministically (``workers=1`` and a seed);
- :func:`load_vector_prototypes` reads a user's vectors: Facebook ``.bin`` (``cc.de.300.bin``,
  out-of-vocabulary lemmas get n-gram vectors) or word2vec text ``.vec``;
- :func:`lm_embedding_prototypes` averages the language model's input embeddings over each
  lemma's subword tokens (SAGE paper 002 and paper 004 embed pseudo-glosses with the LM's
  embedding layer).

The result is a ``torch.Tensor [V, D]`` aligned with :class:`PseudoGlossVocab` ids; saved with
:func:`save_prototypes` as safetensors, with the vocabulary tokens' hash in the metadata so that
a prototype file cannot silently be paired with another vocabulary.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch

from glossfree.config import StrictModel
from glossfree.errors import ConfigError, DataError
from glossfree.text.pseudo_gloss import BLANK, VOCAB_FILE, PseudoGlossVocab

logger = logging.getLogger(__name__)

PROTOTYPES_FILE = "pseudo_gloss_prototypes.safetensors"


class PrototypeConfig(StrictModel):
    """Where prototype vectors come from (recipe section ``prototypes``).

    Attributes:
        source: ``fasttext`` (train on the training texts), ``vectors`` (a ``.bin``/``.vec``
            file) or ``lm`` (the language model's input embeddings).
        dim: fastText vector size (HFA: 300).
        epochs: fastText training epochs.
        window: fastText context window.
        buckets: fastText hashed character n-gram buckets.
        seed: fastText seed.
        vectors: path of the ``.bin``/``.vec`` file for ``source: vectors``.
        on_missing: for ``.vec`` files, what to do with lemmas that have no vector.
    """

    source: Literal["fasttext", "vectors", "lm"] = "fasttext"
    dim: int = 300
    epochs: int = 10
    window: int = 5
    buckets: int = 2_000_000
    seed: int = 0
    vectors: str | None = None
    on_missing: Literal["error", "random"] = "error"


def vocab_fingerprint(vocab: PseudoGlossVocab) -> str:
    """SHA-256 of the vocabulary tokens in id order."""
    return hashlib.sha256("\n".join(vocab.tokens).encode("utf-8")).hexdigest()


def _with_blank(vocab: PseudoGlossVocab, rows: np.ndarray) -> torch.Tensor:
    """``rows`` for ``vocab.tokens[1:]`` -> ``[V, D]`` tensor with the zero blank row at id 0."""
    out = torch.zeros(len(vocab), rows.shape[1], dtype=torch.float32)  # [V, D]
    out[1:] = torch.from_numpy(np.asarray(rows, dtype=np.float32))
    return out


def fasttext_prototypes(
    vocab: PseudoGlossVocab,
    corpus: Sequence[Sequence[str]],
    *,
    dim: int = 300,
    epochs: int = 10,
    window: int = 5,
    min_count: int = 1,
    buckets: int = 2_000_000,
    seed: int = 0,
) -> torch.Tensor:
    """Train fastText (skip-gram, character 3-6-grams) on ``corpus``, e.g. lemmatised training texts.

    ``buckets`` is the size of the hashed n-gram table (fastText's default 2M). Returns
    ``[len(vocab), dim]``; lemmas absent from the corpus get their character n-gram vector.
    """
    from gensim.models import FastText

    if dim < 1 or epochs < 1:
        raise ConfigError(f"fastText dim and epochs must be >= 1, got dim={dim}, epochs={epochs}")
    sentences = [list(s) for s in corpus if len(s) > 0]
    if not sentences:
        raise DataError("cannot train fastText prototypes on an empty corpus")
    model = FastText(
        vector_size=dim,
        window=window,
        min_count=min_count,
        bucket=buckets,
        workers=1,
        seed=seed,
        epochs=epochs,
        sg=1,
    )
    model.build_vocab(corpus_iterable=sentences)
    model.train(corpus_iterable=sentences, total_examples=len(sentences), epochs=epochs)
    rows = np.stack([model.wv[token] for token in vocab.tokens[1:]]) if len(vocab) > 1 else (
        np.zeros((0, dim), dtype=np.float32)
    )
    return _with_blank(vocab, rows)


def _lookup_keys(token: str) -> list[str]:
    # Pretrained vectors are case-sensitive (German nouns capitalised); lemmas here are lowercase.
    return list(dict.fromkeys([token, token.capitalize(), token.title(), token.upper()]))


def load_vector_prototypes(
    vocab: PseudoGlossVocab,
    path: str | Path,
    *,
    on_missing: Literal["error", "random"] = "error",
    seed: int = 0,
) -> torch.Tensor:
    """Prototypes from a user's fastText ``.bin`` or word2vec-format ``.vec`` file.

    ``.bin`` files give every lemma a vector (character n-grams). For ``.vec`` files a lemma is
    looked up as is, then capitalised; lemmas still missing raise :class:`DataError`
    (``on_missing="error"``) or get a seeded random vector of the average norm (``"random"``).
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: vector file not found")
    if on_missing not in ("error", "random"):
        raise ConfigError(f"on_missing must be 'error' or 'random', got {on_missing!r}")
    tokens = vocab.tokens[1:]
    if path.suffix == ".bin":
        from gensim.models.fasttext import load_facebook_vectors

        try:
            vectors = load_facebook_vectors(str(path))
        except Exception as error:  # gensim raises assorted errors on a non-fastText file
            raise DataError(f"{path}: not a fastText .bin model: {error}") from None
        rows = np.stack([vectors[t] for t in tokens]) if tokens else np.zeros((0, vectors.vector_size))
        return _with_blank(vocab, rows)
    if path.suffix not in (".vec", ".txt"):
        raise ConfigError(f"{path}: unknown vector format {path.suffix!r}; expected .bin, .vec or .txt")
    table, dim = _read_vec(path, wanted={k for t in tokens for k in _lookup_keys(t)})
    rows = np.zeros((len(tokens), dim), dtype=np.float32)
    missing = []
    for i, token in enumerate(tokens):
        key = next((k for k in _lookup_keys(token) if k in table), None)
        if key is None:
            missing.append(i)
        else:
            rows[i] = table[key]
    if missing:
        names = [tokens[i] for i in missing]
        if on_missing == "error":
            raise DataError(
                f"{path}: no vector for {len(names)} of {len(tokens)} pseudo-glosses, e.g. "
                f"{names[:5]}; use a .bin model (subword vectors), or give them random vectors with "
                "--on-missing random (on_missing='random' from Python or a recipe)"
            )
        found = [i for i in range(len(tokens)) if i not in set(missing)]
        scale = float(np.linalg.norm(rows[found], axis=1).mean()) if found else 1.0
        rng = np.random.default_rng(seed)
        noise = rng.standard_normal((len(missing), dim)).astype(np.float32)
        rows[missing] = noise / np.linalg.norm(noise, axis=1, keepdims=True) * scale
        logger.warning("%s: %d pseudo-glosses had no vector; random vectors used", path, len(missing))
    return _with_blank(vocab, rows)


def _read_vec(path: Path, *, wanted: set[str]) -> tuple[dict[str, np.ndarray], int]:
    """Read the wanted rows of a word2vec text file (optional ``count dim`` header line)."""
    table: dict[str, np.ndarray] = {}
    dim = None
    with path.open("rb") as handle:
        for lineno, raw in enumerate(handle, start=1):
            try:
                line = raw.decode("utf-8").rstrip("\n").rstrip(" ")
            except UnicodeDecodeError as error:
                raise DataError(f"{path}:{lineno}: not valid UTF-8 (byte {error.start})") from None
            parts = line.split(" ")
            if lineno == 1 and len(parts) == 2 and all(p.isdigit() for p in parts):
                dim = int(parts[1])
                continue
            if not line:
                continue
            if dim is None:
                dim = len(parts) - 1
            if len(parts) != dim + 1:
                raise DataError(f"{path}:{lineno}: expected a word and {dim} numbers, got {len(parts) - 1}")
            if parts[0] in wanted:
                try:
                    table[parts[0]] = np.asarray([float(x) for x in parts[1:]], dtype=np.float32)
                except ValueError:
                    raise DataError(f"{path}:{lineno}: non-numeric vector entry") from None
    if dim is None:
        raise DataError(f"{path}: empty vector file")
    return table, dim


def lm_embedding_prototypes(
    vocab: PseudoGlossVocab, embeddings: torch.Tensor | torch.nn.Embedding, tokenizer: Any
) -> torch.Tensor:
    """Mean of the LM input-embedding rows of each lemma's subword tokens (no special tokens).

    Args:
        embeddings: ``[vocab_size, d_model]`` weight or the model's input ``nn.Embedding``.
        tokenizer: the LM's tokenizer (``tokenizer(text, add_special_tokens=False)``).
    """
    weight = embeddings.weight if isinstance(embeddings, torch.nn.Embedding) else embeddings
    weight = weight.detach().float()  # [vocab_size, D]
    out = torch.zeros(len(vocab), weight.shape[1])  # [V, D]
    for index, token in enumerate(vocab.tokens[1:], start=1):
        ids = tokenizer(token, add_special_tokens=False)["input_ids"]
        if not ids:
            raise DataError(f"pseudo-gloss {token!r} tokenises to nothing with {type(tokenizer).__name__}")
        if max(ids) >= weight.shape[0]:
            raise ConfigError(
                f"tokenizer id {max(ids)} for {token!r} is outside the embedding matrix "
                f"({weight.shape[0]} rows): tokenizer and model do not match"
            )
        out[index] = weight[ids].mean(dim=0)
    return out


def save_prototypes(path: str | Path, prototypes: torch.Tensor, vocab: PseudoGlossVocab) -> Path:
    """Save ``[V, D]`` prototypes as safetensors (atomically) with the vocabulary fingerprint."""
    from safetensors.torch import save_file

    from glossfree.io import atomic_path

    path = Path(path)
    if prototypes.ndim != 2 or prototypes.shape[0] != len(vocab):
        raise ValueError(f"prototypes must be [{len(vocab)}, D], got {tuple(prototypes.shape)}")
    with atomic_path(path) as tmp:
        save_file(
            {"prototypes": prototypes.contiguous().float()},
            str(tmp),
            metadata={"vocab_sha256": vocab_fingerprint(vocab), "blank": BLANK, "size": str(len(vocab))},
        )
    return path


def load_prototypes(path: str | Path, vocab: PseudoGlossVocab | None = None) -> torch.Tensor:
    """Load prototypes; with ``vocab``, check they were built for exactly that vocabulary."""
    from safetensors import safe_open

    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: prototype file not found")
    try:
        with safe_open(str(path), framework="pt") as handle:
            metadata = handle.metadata() or {}
            prototypes = handle.get_tensor("prototypes")
    except Exception as error:  # safetensors raises its own error types
        raise DataError(f"{path}: not a prototype safetensors file: {error}") from None
    if vocab is not None and metadata.get("vocab_sha256") != vocab_fingerprint(vocab):
        raise DataError(
            f"{path}: prototypes were built for another pseudo-gloss vocabulary "
            f"({metadata.get('size', '?')} entries, this vocabulary has {len(vocab)}); rebuild them"
        )
    return prototypes


def build_dataset_prototypes(
    root: str | Path,
    *,
    config: PrototypeConfig | None = None,
    lm_path: str | Path | None = None,
    out: str | Path | None = None,
) -> Path:
    """Prototypes for a dataset annotated by ``glossfree pseudo-glosses``; returns the saved path.

    Reads ``<root>/pseudo_gloss_vocab.json`` and, for ``source: fasttext``, lemmatises the
    training texts of the manifest with the vocabulary's language (HanTa).
    """
    from glossfree.text.pseudo_gloss import lemmatize, read_text_records

    config = config or PrototypeConfig()
    root = Path(root)
    folder = root.parent if root.is_file() else root
    vocab_path = folder / VOCAB_FILE
    if not vocab_path.is_file():
        raise DataError(f"{vocab_path}: not found; run `glossfree pseudo-glosses {root}` first")
    vocab = PseudoGlossVocab.load(vocab_path)
    if config.source == "fasttext":
        texts = [r.text for r in read_text_records(root) if r.split == "train"]
        corpus = lemmatize(texts, language=vocab.language, source=str(root))
        prototypes = fasttext_prototypes(
            vocab,
            corpus,
            dim=config.dim,
            epochs=config.epochs,
            window=config.window,
            buckets=config.buckets,
            seed=config.seed,
        )
    elif config.source == "vectors":
        if not config.vectors:
            raise ConfigError("prototypes.source 'vectors' needs prototypes.vectors (a .bin or .vec path)")
        prototypes = load_vector_prototypes(vocab, config.vectors, on_missing=config.on_missing, seed=config.seed)
    else:
        if lm_path is None:
            raise ConfigError("prototypes.source 'lm' needs the path of a local language model")
        prototypes = _lm_prototypes_from_path(vocab, Path(lm_path))
    return save_prototypes(Path(out) if out else folder / PROTOTYPES_FILE, prototypes, vocab)


def _lm_prototypes_from_path(vocab: PseudoGlossVocab, path: Path) -> torch.Tensor:
    from transformers import AutoModelForSeq2SeqLM

    from glossfree.text.tokenizers import load_tokenizer

    if not path.is_dir():
        raise DataError(f"{path}: language model folder not found (give a local save_pretrained folder)")
    tokenizer = load_tokenizer(path)
    try:
        model = AutoModelForSeq2SeqLM.from_pretrained(str(path), local_files_only=True)
    except (OSError, ValueError) as error:
        raise DataError(f"{path}: cannot load a seq2seq model: {error}") from None
    return lm_embedding_prototypes(vocab, model.get_input_embeddings(), tokenizer)
