"""``glossfree align``: signing-aligned subtitles from audio-aligned ones with a trained multitask model."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Optional

import typer


SHOWN_REASONS = 5  # why a subtitle kept its own timing: the first few, --json has them all


def register(app: typer.Typer) -> None:
    @app.command()
    def align(
        input: Annotated[Path, typer.Argument(help="The signing stream: a .pose file or a video (.mp4, ...).")],
        subtitles: Annotated[Path, typer.Argument(help="Its audio-aligned subtitles (.vtt or .srt).")],
        model: Annotated[Path, typer.Option(help="Run or model folder of a multitask (SLT + SSA) recipe.")] = Path("runs/latest"),
        out: Annotated[Path, typer.Option("-o", "--out", help="Aligned subtitles to write; .srt or .vtt by extension.")] = Path("aligned.vtt"),
        num_beams: Annotated[Optional[int], typer.Option(min=1, help="Beam size (default: the recipe's).")] = None,
        batch_size: Annotated[int, typer.Option(min=1, help="Subtitle windows per generation batch.")] = 16,
        constrained: Annotated[bool, typer.Option("--constrained/--free", help="Beam search only over answers of the form sss-eee (--free: paper 004's unconstrained beam search; malformed answers keep their prior timing).")] = True,
        accelerator: Annotated[str, typer.Option(help="cpu, gpu (= cuda) or auto.")] = "auto",
        devices: Annotated[Optional[str], typer.Option(help="Index of the GPU to run on (default 0).")] = None,
        as_json: Annotated[bool, typer.Option("--json", help="Print a JSON summary on stdout.")] = False,
        progress: Annotated[bool, typer.Option(help="Show a progress bar.")] = True,
    ) -> None:
        """Move each subtitle to where it is signed: a window centred on it, the model's answer, DTW.

        With --free, an answer the model gets wrong in form (not sss-eee) keeps the subtitle's own
        timing and is counted in the summary.
        """
        from rich.console import Console
        from rich.progress import track

        from glossfree.inference.aligner import align_file
        from glossfree.alignment.subtitles import read_subtitles, write_subtitles
        from glossfree.inference.loading import load_trained
        from glossfree.cli.common import console, fail
        from glossfree.errors import DataError, GlossfreeError
        from glossfree.inference.device import resolve_device
        from glossfree.io import check_output_file

        try:
            if out.suffix.lower() not in (".vtt", ".srt"):
                raise DataError(f"{out}: the output must end in .vtt or .srt")
            check_output_file(out, what="-o subtitle file")  # before the model runs, not after
            if not subtitles.is_file():
                raise DataError(f"{subtitles}: no such subtitle file")
            priors = read_subtitles(subtitles)
            device = resolve_device(accelerator, devices, "32")
            trained = load_trained(model, device=device.device)
            bar = (lambda batches: track(batches, description="aligning", console=Console(stderr=True))) if progress else None
            result = align_file(trained, input, priors, num_beams=num_beams, batch_size=batch_size,
                                constrained=constrained, progress=bar)  # fmt: skip
            write_subtitles(out, result.cues)
        except GlossfreeError as error:
            fail(error)
            return
        summary = {**result.summary(), "subtitles_file": str(subtitles), "output": str(out), "model": str(trained.path)}
        for warning in result.warnings:
            console.print(f"[yellow]warning:[/] {subtitles}: {warning}", highlight=False, soft_wrap=True)
        if as_json:
            typer.echo(json.dumps(summary, ensure_ascii=False))
            return
        console.print(f"{len(result.cues)} subtitles aligned -> {out}; {summary['fallbacks']} kept their own timing")
        reasons = summary["fallback_reasons"]
        for reason in reasons[:SHOWN_REASONS]:
            console.print(f"  {reason}", highlight=False, soft_wrap=True)
        if len(reasons) > SHOWN_REASONS:
            console.print(f"  ... {len(reasons) - SHOWN_REASONS} more (--json lists them all)")
