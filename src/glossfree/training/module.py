"""The Lightning module of one training stage.

Training optimises the stage's weighted objectives. Validation reports the dev loss of those
objectives (``dev/loss`` and ``dev/<objective>``) and, when the stage's monitor needs it (the
default ``dev/bleu4``), generates dev translations with beam search and scores them with the
recipe's evaluation preset: a translating stage picks its best checkpoint by generated BLEU-4,
never by a teacher-forced metric. A stage that does not translate (contrastive pre-training)
monitors a loss or an accuracy and skips decoding. Hypotheses from all workers are gathered, de-duplicated by sample id (the distributed sampler
pads ranks with repeats) and scored once, so the corpus BLEU equals a single-process evaluation.
"""

from __future__ import annotations

import random
import warnings
from typing import Any

import lightning as L
import numpy as np
import torch

from glossfree.checkpoint import restore_pretrained_base, strip_pretrained_base
from glossfree.evaluation import score
from glossfree.training.optim import build_optimizer, build_scheduler
from glossfree.training.recipe import EvaluationConfig, StageConfig


class SLTLightningModule(L.LightningModule):
    """Wraps an :class:`~glossfree.models.slt.SLTModel` for one stage of a recipe."""

    def __init__(self, model: torch.nn.Module, stage: StageConfig, evaluation: EvaluationConfig) -> None:
        super().__init__()
        self.model = model
        self.stage = stage
        self.evaluation = evaluation
        self._dev_outputs: list[tuple[str, str, str, str]] = []  # (id, hypothesis, reference, task)

    # ---------------------------------------------------------------- training
    def training_step(self, batch, batch_idx: int) -> torch.Tensor:
        output = self.model(batch, objectives=self.stage.objective_weights)
        size = len(batch)
        self.log("train/loss", output.loss, prog_bar=True, batch_size=size)
        for name, value in {**output.losses, **output.metrics}.items():
            self.log(f"train/{name}", value, batch_size=size)
        return output.loss

    # -------------------------------------------------------------- validation
    def on_validation_epoch_start(self) -> None:
        self._dev_outputs = []

    def validation_step(self, batch, batch_idx: int) -> None:
        output = self.model(batch, objectives=self.stage.objective_weights)
        size = len(batch)
        self.log("dev/loss", output.loss, batch_size=size, sync_dist=True)
        logged = set()
        # Input reliance: the LM loss with each sample's visual tokens swapped for another sample's.
        # A model that ignores its input (it learned the sentence prior) scores the same on both.
        if size > 1 and any(objective.kind == "lm_ce" for objective in self.stage.objectives):
            losses = self.model.swapped_input_losses(batch, output=output)
            gap = losses["lm_ce_swapped"] - losses["lm_ce"]
            self.log("dev/lm_ce", losses["lm_ce"], batch_size=size, sync_dist=True)
            self.log("dev/lm_ce_swapped", losses["lm_ce_swapped"], batch_size=size, sync_dist=True)
            self.log("dev/input_reliance", gap, batch_size=size, sync_dist=True)
            logged.add("lm_ce")
        for name, value in {**output.losses, **output.metrics}.items():
            if name not in logged:
                self.log(f"dev/{name}", value, batch_size=size, sync_dist=True)
        if self.stage.generates:
            tasks = batch.tasks or ["slt"] * size
            hypotheses = self.generate_dev(batch, tasks)
            self._dev_outputs.extend(zip(batch.ids, hypotheses, batch.texts, tasks))

    def generate_dev(self, batch, tasks: list[str]) -> list[str]:
        """Dev hypotheses with the decoding settings of ``model.lm.generation`` and the batch's prompts;
        SSA samples are decoded in the answer format, as ``glossfree align`` decodes them by default."""
        if "ssa" not in tasks:
            return self.model.generate(batch)
        from glossfree.objectives.ssa_soft_digits import answer_format_constraint

        hypotheses = [""] * len(tasks)
        for task in ("slt", "ssa"):
            rows = [i for i, t in enumerate(tasks) if t == task]
            if not rows:
                continue
            part = batch.select(rows)
            constraint = answer_format_constraint(self.model.lm) if task == "ssa" else None
            for row, text in zip(rows, self.model.generate(part, prefix_allowed_tokens_fn=constraint)):
                hypotheses[row] = text
        return hypotheses

    def on_validation_epoch_end(self) -> None:
        if not self.stage.generates:
            return
        outputs = self._dev_outputs
        if self.trainer.world_size > 1:
            gathered: list[Any] = [None] * self.trainer.world_size
            torch.distributed.all_gather_object(gathered, outputs)
            outputs = [item for part in gathered for item in part]
        ssa = dict(sorted({sid: (hyp, ref) for sid, hyp, ref, task in outputs if task == "ssa"}.items()))
        if ssa:  # multitask data: SSA answers are scored apart from the translations
            for name, value in ssa_answer_scores(list(ssa.values())).items():
                self.log(f"dev/{name}", value)
        unique = dict(sorted({sid: (hyp, ref) for sid, hyp, ref, task in outputs if task != "ssa"}.items()))
        if not unique:
            return
        hyps = [hyp for hyp, _ in unique.values()]
        refs = [ref for _, ref in unique.values()]
        scores = self.score_dev(hyps, refs)
        # Every rank computed the same numbers from the same gathered list: no further sync needed.
        self.log("dev/bleu4", scores.bleu4, prog_bar=True)
        self.log("dev/bleu1", scores.bleu1)
        self.log("dev/rouge_l", scores.rouge_l)
        self.log("dev/chrf", scores.chrf)

    def score_dev(self, hyps: list[str], refs: list[str]):
        """Scores of the generated dev translations (the recipe's evaluation preset)."""
        return score(hyps, refs, preset=self.evaluation.preset, append_period=self.evaluation.append_period)

    # ------------------------------------------------------------- optimisers
    def configure_optimizers(self):
        optimizer = build_optimizer(self.model.named_parameters(), self.stage.optimizer)
        total_steps = int(self.trainer.estimated_stepping_batches)
        scheduler = build_scheduler(optimizer, total_steps, self.stage.schedule)
        trainable = sum(p.numel() for p in self.model.parameters() if p.requires_grad)
        total = sum(p.numel() for p in self.model.parameters())
        self.print(
            f"stage '{self.stage.name}': {trainable:,} trainable / {total:,} parameters, "
            f"{total_steps} optimiser steps"
        )
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": scheduler, "interval": "step"}}

    # ------------------------------------------- exact resume: RNG in the checkpoint
    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        checkpoint["glossfree_stage"] = self.stage.name
        checkpoint["glossfree_rng"] = rng_state()
        strip_pretrained_base(checkpoint, self.model)  # a frozen pretrained LM base is referenced, not copied

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        saved_stage = checkpoint.get("glossfree_stage")
        if saved_stage is not None and saved_stage != self.stage.name:
            raise ValueError(f"checkpoint belongs to stage '{saved_stage}', not '{self.stage.name}'")
        restore_pretrained_base(checkpoint, self.model)
        if "glossfree_rng" in checkpoint:
            set_rng_state(checkpoint["glossfree_rng"])


def ssa_answer_scores(pairs: list[tuple[str, str]]) -> dict[str, float]:
    """Dev scores of generated SSA answers against the targets (``"sss-eee"`` frames in the window).

    SSA answers are decoded in the ``sss-eee`` format (:func:`glossfree.inference.aligner.answer_format_constraint`).
    ``ssa_exact``: answer equals the target; ``ssa_parsed``: answer is usable (``ddd-ddd``, start
    <= end); ``ssa_iou50``: temporal IoU with the target span >= 0.5 (an unusable answer misses);
    ``ssa_frame_l1``: mean of the start and end errors in frames over the usable answers (1000,
    more than any window holds, when none is). Whole-stream Acc / CB-Acc / F1 need every subtitle of a stream
    and the DTW: ``glossfree align`` and ``docs/alignment.md``.
    """
    from glossfree.errors import DataError
    from glossfree.text.prompts import parse_ssa_target

    exact = parsed = hits = 0
    errors: list[float] = []
    for hyp, ref in pairs:
        exact += hyp.strip() == ref.strip()
        true_start, true_end = parse_ssa_target(ref)
        try:
            start, end = parse_ssa_target(hyp)
        except DataError:
            continue
        if start > end:
            continue
        parsed += 1
        errors.append((abs(start - true_start) + abs(end - true_end)) / 2)
        overlap = max(0, min(end, true_end) - max(start, true_start) + 1)
        union = max(end, true_end) - min(start, true_start) + 1
        hits += overlap / union >= 0.5
    count = max(len(pairs), 1)
    return {
        "ssa_exact": exact / count,
        "ssa_parsed": parsed / count,
        "ssa_iou50": hits / count,
        "ssa_frame_l1": sum(errors) / len(errors) if errors else 1000.0,
    }


def rng_state() -> dict[str, Any]:
    """torch (CPU and, once initialised, every CUDA device), numpy and Python RNG states as tensors
    and plain numbers (loadable with weights_only)."""
    kind, keys, pos, has_gauss, cached = np.random.get_state()
    version, internal, gauss = random.getstate()
    return {
        "torch": torch.get_rng_state(),
        "numpy": [kind, torch.from_numpy(keys.astype(np.int64)), pos, has_gauss, cached],
        "python": [version, torch.tensor(internal, dtype=torch.int64), gauss],
        # Only when CUDA is in use: get_rng_state_all would initialise CUDA on a CPU-only run.
        "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_initialized() else [],
    }


def set_rng_state(state: dict[str, Any]) -> None:
    torch.set_rng_state(state["torch"])
    kind, keys, pos, has_gauss, cached = state["numpy"]
    np.random.set_state((kind, keys.numpy().astype(np.uint32), pos, has_gauss, cached))
    version, internal, gauss = state["python"]
    random.setstate((version, tuple(int(v) for v in internal.tolist()), gauss))
    cuda = state.get("cuda") or []  # absent in checkpoints written before it was saved
    if cuda and torch.cuda.is_available():
        count = torch.cuda.device_count()
        if len(cuda) != count:
            warnings.warn(
                f"the checkpoint holds CUDA RNG states of {len(cuda)} GPU(s), this process sees {count}: "
                "the resume is not exact on the GPUs that differ",
                stacklevel=2,
            )
        for index, device_state in enumerate(cuda[:count]):
            torch.cuda.set_rng_state(device_state, index)
