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
import shutil
import warnings
import zipfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from lightning.fabric.utilities.rank_zero import rank_zero_only
from lightning.pytorch.callbacks import ModelCheckpoint

from glossfree.checkpoint import recipe_to_yaml
from glossfree.errors import ConfigError, DataError
from glossfree.io import check_output_dir

log = logging.getLogger(__name__)

__all__ = [
    "START_FILES", "RunCheckpoint", "best_checkpoint", "check_run_dir", "checkpoint_problem", "has_trained",
    "remove_unstarted_run", "resume_checkpoint", "run_relative",
]  # fmt: skip


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


# ---------------------------------------------------------------------------------------------
# the run folder's life: a new run, a failed start, a resume


# What a start writes before its first checkpoint (removed again when that start fails).
START_FILES = ("recipe.yaml", "tokenizer", "trimmed_vocab.json", "logs", "stages", "curves.png")


def has_trained(run_dir: Path) -> bool:
    """True once a stage of the run wrote a checkpoint or finished, or a model was exported."""
    stages = run_dir / "stages"
    return (
        any(stages.glob("*/checkpoints/*.ckpt"))
        or any(stages.glob("*/done.json"))
        or (run_dir / "model").exists()
    )


def remove_unstarted_run(run_dir: Path) -> None:
    """Remove what a start wrote before it failed (nothing had trained), and the folder if it is then empty."""
    for name in START_FILES:
        path = run_dir / name
        if path.is_dir():
            shutil.rmtree(path, ignore_errors=True)
        elif path.exists():
            path.unlink()
    if run_dir.is_dir() and not any(run_dir.iterdir()):
        run_dir.rmdir()


def check_run_dir(run_dir: Path, recipe: Any, resume: bool) -> None:
    check_output_dir(run_dir, what="--out run folder")
    saved = run_dir / "recipe.yaml"
    if resume:  # recipe.yaml predates this launch, so every rank can look
        if not saved.is_file():
            state = "does not exist" if not run_dir.exists() else "holds no glossfree run (no recipe.yaml)"
            raise ConfigError(
                f"{run_dir}: nothing to resume: the folder {state}; check --out, or drop --resume to "
                "start a new run"
            )
        if rank_zero_only.rank == 0 and saved.read_text(encoding="utf-8") != recipe_to_yaml(recipe):
            warnings.warn(
                f"{saved}: the recipe differs from the one this run started with; resuming with the new one",
                stacklevel=2,
            )
        return
    if not saved.exists() or rank_zero_only.rank != 0:  # rank 0 checks for all; the others see its file
        return
    if has_trained(run_dir):
        raise ConfigError(
            f"{run_dir}: a run already exists here; pass --resume to continue it or choose another --out"
        )
    # An earlier start stopped before its first checkpoint (killed, or failed before its cleanup).
    log.warning("%s: an earlier start of this run stopped before its first checkpoint; starting afresh", run_dir)
    remove_unstarted_run(run_dir)


def checkpoint_problem(path: Path) -> str | None:
    """Why ``path`` cannot be a Lightning checkpoint (a torch zip archive), or None if it looks whole.

    A file cut short by a killed copy or a full disk loses the zip's central directory at its end;
    ``testzip`` also checks every member's CRC.
    """
    try:
        if path.stat().st_size == 0:
            return "empty file (0 bytes)"
        with zipfile.ZipFile(path) as archive:
            bad = archive.testzip()
    except (zipfile.BadZipFile, OSError, EOFError) as error:
        return f"truncated or corrupt ({error})"
    return None if bad is None else f"corrupt (member {bad} fails its checksum)"


def resume_checkpoint(checkpoints: Path, stage: str) -> Path | None:
    """``last.ckpt``, or when it is damaged the newest whole checkpoint of the stage (None: none yet).

    Damaged files passed over are renamed ``<name>.damaged``: Lightning would otherwise write the
    next last checkpoint beside the damaged one as ``last-v1.ckpt``.
    """
    last = checkpoints / "last.ckpt"
    others = sorted(
        (p for p in checkpoints.glob("*.ckpt") if p.name != last.name), key=lambda p: p.stat().st_mtime, reverse=True
    )
    damaged: list[tuple[Path, str]] = []
    for path in [last, *others] if last.is_file() else others:
        problem = checkpoint_problem(path)
        if problem is None:
            for bad, reason in damaged:
                if rank_zero_only.rank == 0:  # every rank picks the same file; one renames
                    bad.rename(bad.with_name(f"{bad.name}.damaged"))
                    log.warning("%s: %s; renamed to %s.damaged", bad, reason, bad.name)
            if damaged:
                log.warning("resuming stage '%s' from %s", stage, path)
            return path
        damaged.append((path, problem))
    if damaged:
        listed = "; ".join(f"{path}: {reason}" for path, reason in damaged)
        raise DataError(
            f"{listed}; no whole checkpoint is left to resume stage '{stage}' from: delete the damaged "
            "file(s) to train the stage again from its start"
        )
    return None
