"""Language-side commands: ``pseudo-glosses``, ``pseudo-gloss-report``, ``prototypes``.

Each command parses its arguments, then calls one function of ``glossfree.text``. Errors caused
by user input (:class:`glossfree.errors.GlossfreeError`) are printed as one line on stderr and
exit with status 2.
"""

from __future__ import annotations

import shlex
from pathlib import Path
from typing import Annotated, Literal, Optional

import typer

from glossfree.errors import ConfigError, GlossfreeError


def _fail(error: GlossfreeError) -> typer.Exit:
    typer.echo(f"error: {error}", err=True)
    return typer.Exit(code=2)


def pseudo_glosses(
    manifest: Annotated[Path, typer.Argument(help="Dataset root (manifest.jsonl or <split>.jsonl) or a manifest file.")],
    language: Annotated[Optional[str], typer.Option(help="Language of the texts (de, en); default: the records' language.")] = None,
    max_doc_freq: Annotated[
        Optional[float], typer.Option(help="Drop lemmas found in at least this fraction of training sentences (Sign2GPT: 0.4).")
    ] = None,
    filter_mode: Annotated[
        str, typer.Option(help="sentences (share of sentences with the lemma) or occurrences (Sign2GPT's measure).")
    ] = "sentences",
    min_count: Annotated[int, typer.Option(help="Drop lemmas found in fewer training sentences.")] = 1,
    spacy_model: Annotated[Optional[str], typer.Option(help="Use this installed spaCy pipeline instead of HanTa.")] = None,
    out: Annotated[Optional[Path], typer.Option(help="Output folder (default: next to the manifest).")] = None,
) -> None:
    """Extract pseudo-glosses; write pseudo_gloss_vocab.json and pseudo_glosses.json next to the data."""
    from glossfree.text.pseudo_gloss import annotate_manifest
    from glossfree.text.taggers import SpacyTagger

    try:
        tagger = SpacyTagger(spacy_model) if spacy_model else None
        result = annotate_manifest(
            manifest,
            language=language,
            tagger=tagger,
            max_doc_freq=max_doc_freq,
            filter_mode=filter_mode,
            min_count=min_count,
            out_dir=out,
        )
    except GlossfreeError as error:
        raise _fail(error) from None
    splits = ", ".join(f"{split} {n}" for split, n in sorted(result.split_counts.items()))
    typer.echo(
        f"{result.num_samples} samples ({splits}); {result.vocab.num_glosses} pseudo-gloss types on train "
        f"(+ blank); {result.num_empty} samples without any pseudo-gloss"
    )
    typer.echo(f"wrote {result.vocab_path}")
    typer.echo(f"wrote {result.glosses_path}")


def pseudo_gloss_report(
    phoenix_dir: Annotated[Path, typer.Argument(help="Folder with PHOENIX14T {train,dev,test}.jsonl (text + gloss_orth).")],
    out: Annotated[Path, typer.Option(help="Markdown file to write.")] = Path("docs/pseudo_glosses.md"),
    limit: Annotated[Optional[int], typer.Option(help="Use only the first N sentences of each split.")] = None,
    variants: Annotated[bool, typer.Option(help="Also tag train with the HanTa case-sensitive/-insensitive variants.")] = True,
) -> None:
    """Pseudo-gloss statistics and coverage of the official glosses on PHOENIX-2014-T."""
    from glossfree.text.report import write_pseudo_gloss_report

    args = ["glossfree", "pseudo-gloss-report", str(phoenix_dir), "--out", str(out)]
    args += ["--limit", str(limit)] if limit is not None else []
    args += [] if variants else ["--no-variants"]
    command = " ".join(shlex.quote(arg) for arg in args)
    try:
        report = write_pseudo_gloss_report(phoenix_dir, out, command=command, limit=limit, variants=variants)
    except GlossfreeError as error:
        raise _fail(error) from None
    typer.echo(f"{report.vocab_size} pseudo-gloss types on train; wrote {out}")


def prototypes(
    root: Annotated[Path, typer.Argument(help="Dataset root annotated by `glossfree pseudo-glosses`.")],
    source: Annotated[
        Literal["fasttext", "vectors", "lm"],
        typer.Option(help="fasttext (train on the training texts), vectors (.bin/.vec) or lm."),
    ] = "fasttext",
    vectors: Annotated[Optional[Path], typer.Option(help="fastText .bin or word2vec .vec file (source=vectors).")] = None,
    lm: Annotated[Optional[Path], typer.Option(help="Local seq2seq LM folder whose input embeddings to use (source=lm).")] = None,
    dim: Annotated[int, typer.Option(help="fastText vector size.")] = 300,
    epochs: Annotated[int, typer.Option(help="fastText epochs.")] = 10,
    buckets: Annotated[int, typer.Option(help="fastText hashed character n-gram buckets.")] = 2_000_000,
    seed: Annotated[int, typer.Option(help="fastText seed.")] = 0,
    on_missing: Annotated[
        Literal["error", "random"], typer.Option(help="For .vec files: error or random for lemmas without a vector.")
    ] = "error",
    out: Annotated[Optional[Path], typer.Option(help="Output file (default: <root>/pseudo_gloss_prototypes.safetensors).")] = None,
) -> None:
    """Prototype vectors for the pseudo-gloss head (row 0 = zero blank prototype)."""
    from glossfree.config import validate
    from glossfree.text.prototypes import PrototypeConfig, build_dataset_prototypes

    # Checked here, so that the message names the flags (the library names recipe keys).
    if source == "vectors" and vectors is None:
        raise _fail(ConfigError("--source vectors needs --vectors FILE (a fastText .bin or word2vec .vec file)"))
    if source == "lm" and lm is None:
        raise _fail(ConfigError("--source lm needs --lm FOLDER (a local seq2seq language model)"))
    try:
        config = validate(
            PrototypeConfig,
            {
                "source": source,
                "dim": dim,
                "epochs": epochs,
                "buckets": buckets,
                "seed": seed,
                "vectors": str(vectors) if vectors else None,
                "on_missing": on_missing,
            },
            source="command line",
        )
        path = build_dataset_prototypes(root, config=config, lm_path=lm, out=out)
    except GlossfreeError as error:
        raise _fail(error) from None
    typer.echo(f"wrote {path}")


def register(app: typer.Typer) -> None:
    """Add the language-side commands to ``app``."""
    app.command("pseudo-glosses")(pseudo_glosses)
    app.command("pseudo-gloss-report")(pseudo_gloss_report)
    app.command("prototypes")(prototypes)
