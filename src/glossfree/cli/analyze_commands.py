"""``glossfree analyze``: looks inside a trained model.

``glossfree analyze similarity RUN SAMPLE --data DATA`` draws the visual-token x pseudo-gloss
similarity matrix of one sample (paper 002, Fig. 4) as a PNG (:mod:`glossfree.inference.similarity`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from glossfree.cli.common import fail
from glossfree.errors import GlossfreeError

analyze_app = typer.Typer(help="Look inside a trained model.", no_args_is_help=True)


@analyze_app.command("similarity")
def similarity(
    run: Annotated[Path, typer.Argument(help="Run folder or exported model folder.")],
    sample: Annotated[str, typer.Argument(help="Record id of the sample.")],
    data: Annotated[Path, typer.Option(help="Dataset root holding the sample.")],
    out: Annotated[Path | None, typer.Option(help="PNG to write (default similarity-<SAMPLE>.png).")] = None,
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
    Console().print(f"wrote {target}: {rows} visual tokens x {cols} {result.gloss_source}", highlight=False)


def register(app: typer.Typer) -> None:
    """Add the ``analyze`` group to ``app``."""
    app.add_typer(analyze_app, name="analyze")
