"""``glossfree analyze``: looking inside a trained model (a typer group, registered by ``register(app)``).

- ``analyze tokens RUN``: SpaMo's visual-token analysis (paper 003 Sec. 4.5): the nearest LM
  vocabulary entry of each visual token as a word sequence per sample, a t-SNE plot and the KDE
  entropy (:func:`glossfree.inference.analysis.analyze_tokens`).
- ``analyze similarity RUN SAMPLE --data DATA``: the visual-token x pseudo-gloss similarity matrix
  of one sample (paper 002, Fig. 4) as a PNG (:mod:`glossfree.inference.similarity`).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Optional

import typer

from glossfree.cli.common import console, fail
from glossfree.errors import GlossfreeError

analyze_app = typer.Typer(help="Look inside a trained model: what its visual tokens mean to the LM.", no_args_is_help=True)


@analyze_app.command("tokens")
def tokens(
    run: Annotated[Path, typer.Argument(help="Run folder (or its exported model/ folder).")],
    data: Annotated[Path, typer.Option(help="Dataset root the run reads (manifest and cached features).")],
    split: Annotated[str, typer.Option(help="Split to analyse.")] = "test",
    out: Annotated[Optional[Path], typer.Option(help="Output folder (default: RUN/token_analysis_SPLIT).")] = None,
    max_samples: Annotated[Optional[int], typer.Option(help="At most this many samples of the split.")] = None,
    max_points: Annotated[int, typer.Option(help="Tokens drawn for the t-SNE and the KDE.")] = 2000,
    components: Annotated[int, typer.Option(help="PCA dimensions before the KDE.")] = 2,
    tsne: Annotated[bool, typer.Option(help="Write the t-SNE plot (tsne.png).")] = True,
    seed: Annotated[int, typer.Option(help="Seed of the token draw and the t-SNE.")] = 0,
    json_output: Annotated[bool, typer.Option("--json", help="Print the summary as JSON.")] = False,
) -> None:
    """Nearest LM vocabulary entry of every visual token (a word sequence per sample), t-SNE, KDE entropy."""
    from glossfree.inference.analysis import analyze_tokens

    out = out or Path(run) / f"token_analysis_{split}"
    try:
        result = analyze_tokens(run, data, split=split, out_dir=out, max_samples=max_samples, max_points=max_points,
                                components=components, tsne=tsne, seed=seed)  # fmt: skip
    except GlossfreeError as error:
        fail(error)
        return
    if json_output:
        typer.echo(json.dumps(result.summary, ensure_ascii=False))
        return
    summary = result.summary
    console.print(f"{summary['samples']} samples, {summary['tokens']} visual tokens, {summary['distinct_words']} distinct nearest words")
    console.print(f"KDE entropy (Eq. 4, n={summary['n']}, PCA {summary['components']}): {summary['kde_entropy']:.4f}; "
                  f"-mean log f: {summary['kde_entropy_mean_log']:.4f}")  # fmt: skip
    for sample in result.samples[:5]:
        console.print(f"[bold]{sample['id']}[/]: {sample['visual_tokens']}\n  reference: {sample['reference']}", highlight=False)
    console.print(f"files: {', '.join(summary['files'].values())}")


@analyze_app.command("similarity")
def similarity(
    run: Annotated[Path, typer.Argument(help="Run folder or exported model folder.")],
    sample: Annotated[str, typer.Argument(help="Record id of the sample.")],
    data: Annotated[Path, typer.Option(help="Dataset root holding the sample.")],
    out: Annotated[Optional[Path], typer.Option(help="PNG to write (default similarity-<SAMPLE>.png).")] = None,
) -> None:
    """Draw the visual-token x pseudo-gloss similarity matrix of one sample as a PNG."""
    from glossfree.inference.loading import load_trained
    from glossfree.inference.similarity import draw_similarity, token_similarity
    from glossfree.io import check_output_file

    try:
        target = check_output_file(out or Path(f"similarity-{sample}.png"), what="PNG")
        result = token_similarity(load_trained(run), data, sample)
        draw_similarity(result, target)
    except GlossfreeError as error:
        fail(error)
        return
    rows, cols = result.matrix.shape
    console.print(f"wrote {target}: {rows} visual tokens x {cols} {result.gloss_source}", highlight=False)


def register(app: typer.Typer) -> None:
    """Add the ``analyze`` group to the ``glossfree`` app."""
    app.add_typer(analyze_app, name="analyze")
