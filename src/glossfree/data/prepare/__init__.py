"""Convert official dataset releases into the glossfree manifest (``glossfree prepare``).

One small module per dataset, each a single ``prepare_<dataset>(root, out, **options)`` function
that reads the release in its official layout, writes ``out/manifest.jsonl`` and
``out/prepare_summary.json`` (records per split, skipped items with reasons) and returns a
:class:`~glossfree.data.prepare.common.PrepareSummary`. A layout that does not match raises
:class:`~glossfree.errors.DataError` naming the missing file or folder. Preparers are looked up
in the explicit :data:`PREPARERS` dict, never by import string.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from pathlib import Path
from typing import Any

from glossfree.data.prepare.bobsl import prepare_bobsl
from glossfree.data.prepare.common import PrepareSummary
from glossfree.data.prepare.how2sign import prepare_how2sign
from glossfree.data.prepare.phoenix14t import prepare_phoenix14t
from glossfree.data.prepare.youtube_sl_25 import prepare_youtube_sl_25
from glossfree.errors import ConfigError

PREPARERS: dict[str, Callable[..., PrepareSummary]] = {
    "phoenix14t": prepare_phoenix14t,
    "how2sign": prepare_how2sign,
    "bobsl": prepare_bobsl,
    "youtube_sl_25": prepare_youtube_sl_25,
}


def prepare(dataset: str, root: str | Path, out: str | Path, **options: Any) -> PrepareSummary:
    """Run the preparer of ``dataset``; unknown datasets and options are a ConfigError."""
    if dataset not in PREPARERS:
        raise ConfigError(f"unknown dataset '{dataset}'; valid: {', '.join(PREPARERS)}")
    preparer = PREPARERS[dataset]
    accepted = set(inspect.signature(preparer).parameters) - {"root", "out"}
    unknown = sorted(set(options) - accepted)
    if unknown:
        raise ConfigError(f"{dataset}: option(s) {', '.join(unknown)} do not apply; "
                          f"it accepts: {', '.join(sorted(accepted)) or 'none'}")  # fmt: skip
    return preparer(Path(root), Path(out), **options)


__all__ = ["PREPARERS", "PrepareSummary", "prepare"]
