"""The files a run folder names, named relative to it, so that the folder can be copied or moved.

A stage summary (``<run>/stages/<stage>/done.json``) names its best checkpoint relative to the run
folder (``stages/slt/checkpoints/best-epoch=1-step=6.ckpt``). Lightning's checkpoint state names
files by absolute path; :class:`RunCheckpoint` moves those names onto the folder the run lies in now
when a stage resumes. A run therefore never reads, and never exports, another run's checkpoint:

- a name that leads outside the run folder is refused (:class:`DataError` naming the file and run);
- a summary written before names were relative holds an absolute path: it is used when it lies
  inside this run, or else this run's file of the same name (``stages/<stage>/checkpoints/<name>``)
  is used, with a warning that says so.

Reading another run on purpose (``init_checkpoint``, pre-training then fine-tuning) resolves that
run's summary against that run's folder with :func:`best_checkpoint`.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from lightning.pytorch.callbacks import ModelCheckpoint

from glossfree.errors import DataError

log = logging.getLogger(__name__)

__all__ = ["RunCheckpoint", "best_checkpoint", "run_relative"]


def run_relative(run_dir: Path, path: str | Path) -> str:
    """``path`` as a POSIX name relative to ``run_dir``; :class:`DataError` when it lies outside."""
    run = Path(run_dir).resolve()
    full = Path(path).resolve()
    if not full.is_relative_to(run):
        raise DataError(f"{run_dir}: the checkpoint {path} lies outside this run folder; a run only names its own files")
    return full.relative_to(run).as_posix()


def best_checkpoint(run_dir: Path, summary: Mapping[str, Any]) -> Path:
    """The best checkpoint a stage summary of ``run_dir`` names, inside ``run_dir`` (see the module docstring)."""
    stage = summary["stage"]
    done = Path(run_dir) / "stages" / stage / "done.json"
    stored = Path(summary["best_checkpoint"])
    run = Path(run_dir).resolve()
    path = stored if stored.is_absolute() else run / stored
    if not path.resolve().is_relative_to(run):
        if not stored.is_absolute():
            raise DataError(
                f"{done}: best_checkpoint {stored} leads outside the run folder {run_dir}; a run only names its own files"
            )
        own = run / "stages" / stage / "checkpoints" / stored.name
        if not own.is_file():
            raise DataError(
                f"{done}: best_checkpoint {stored} is another run folder's file, and this run ({run_dir}) has no "
                f"{own.relative_to(run)}; the run was copied or moved without it: train the stage again "
                "(delete its done.json and resume)"
            )
        log.warning("%s: best_checkpoint %s lies outside this run folder (it was copied or moved); using %s", done, stored, own)
        path = own
    if not path.is_file():
        raise DataError(f"{done}: the best checkpoint {stored} is missing from the run folder {run_dir}")
    return path


class RunCheckpoint(ModelCheckpoint):
    """:class:`ModelCheckpoint` whose saved state, written where the run lay before it was copied or
    moved, is moved onto this run's checkpoint folder (Lightning would keep the old best path and
    forget the scores and the last checkpoint). Its state is saved under ``ModelCheckpoint``'s key, so
    runs written before it resume with their checkpoint state, and the other way round."""

    @property
    def state_key(self) -> str:
        return super().state_key.replace(type(self).__qualname__, ModelCheckpoint.__qualname__, 1)

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        saved = state_dict.get("dirpath")
        if saved is not None and self.dirpath is not None and saved != self.dirpath:

            def moved(path: str) -> str:
                return str(Path(self.dirpath) / Path(path).name) if path and Path(path).parent == Path(saved) else path

            log.info("checkpoints were written in %s; reading them from %s", saved, self.dirpath)
            state_dict = {
                **state_dict,
                "dirpath": self.dirpath,
                "best_k_models": {moved(path): score for path, score in state_dict.get("best_k_models", {}).items()},
                **{key: moved(state_dict[key]) for key in ("best_model_path", "kth_best_model_path", "last_model_path")
                   if key in state_dict},  # fmt: skip
            }
        super().load_state_dict(state_dict)
