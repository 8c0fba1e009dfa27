"""What every command module shares: the error console and how a user error ends a command."""

from __future__ import annotations

import typer
from rich.console import Console

console = Console(stderr=True)


def fail(error: object, code: int = 2) -> None:
    """Print a user error (bad file, config, flag) without a traceback, and exit with ``code`` (2)."""
    console.print(f"[bold red]error:[/] {error}", markup=True, highlight=False, soft_wrap=True)
    raise typer.Exit(code=code)
