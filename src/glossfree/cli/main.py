"""The ``glossfree`` command. Sub-commands live in sibling modules and are registered here explicitly."""

from __future__ import annotations

import typer

app = typer.Typer(
    name="glossfree",
    help="Gloss-free sign language translation: synthesise, prepare, train, evaluate, translate.",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
)
