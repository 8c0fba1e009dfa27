"""The DDP all-gather of contrastive objectives on a real 2-process gloo group (forked, CPU)."""

from __future__ import annotations

import os

import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from glossfree.objectives import clip_loss
from glossfree.objectives.distributed import gather_with_grad
from glossfree.objectives.islr import weighted_contrastive_loss

WORLD = 2
SIZES = (3, 2)  # uneven shards: the last batch of a split can be short on one rank
DIM = 4
# ISLR labels with duplicates across the two ranks' shards (rank 0: rows 0-2, rank 1: rows 3-4)
LABELS = torch.tensor([0, 1, 2, 1, 0])


def _features() -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(7)
    total = sum(SIZES)
    return torch.randn(total, DIM, generator=generator), torch.randn(total, DIM, generator=generator)


def _worker(rank: int, store: str, out: str) -> None:
    # A forked child must not enter the OpenMP pool the parent already used (libgomp is not fork-safe:
    # the child can hang); one thread, as DataLoader workers do.
    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=f"file://{store}", rank=rank, world_size=WORLD)
    try:
        visual, text = _features()
        start = sum(SIZES[:rank])
        local_visual = visual[start : start + SIZES[rank]].clone().requires_grad_(True)
        local_text = text[start : start + SIZES[rank]].clone().requires_grad_(True)
        gathered = gather_with_grad(local_visual)
        loss, accuracy = clip_loss(local_visual, local_text, torch.tensor(1 / 0.07), gather=True)
        loss.backward()
        grads = {"grad_visual": local_visual.grad.clone(), "grad_text": local_text.grad.clone()}
        local_visual.grad, local_text.grad = None, None
        labels = LABELS[start : start + SIZES[rank]]
        islr = weighted_contrastive_loss(local_visual, local_text, labels, 0.1, gather=True)
        islr.backward()
        torch.save(
            {"gathered": gathered.detach(), "loss": loss.detach(), "accuracy": accuracy, **grads,
             "islr_loss": islr.detach(), "islr_grad_visual": local_visual.grad},
            os.path.join(out, f"rank{rank}.pt"),
        )  # fmt: skip
    finally:
        dist.destroy_process_group()


def test_gather_on_two_gloo_ranks_matches_one_process(tmp_path):
    mp.start_processes(_worker, args=(str(tmp_path / "store"), str(tmp_path)), nprocs=WORLD, start_method="fork")
    visual, text = _features()
    visual.requires_grad_(True)
    text.requires_grad_(True)
    loss, accuracy = clip_loss(visual, text, torch.tensor(1 / 0.07))  # one process, the whole batch
    loss.backward()
    clip_grad, clip_text_grad = visual.grad.clone(), text.grad.clone()
    visual.grad, text.grad = None, None
    islr = weighted_contrastive_loss(visual, text, LABELS, 0.1)  # duplicates of label 0 and 1 span the ranks
    islr.backward()
    offsets = [0, SIZES[0]]
    for rank in range(WORLD):
        result = torch.load(tmp_path / f"rank{rank}.pt")
        torch.testing.assert_close(result["gathered"], visual.detach())  # every row, in rank order
        torch.testing.assert_close(result["loss"], loss.detach())
        torch.testing.assert_close(result["accuracy"], accuracy)
        rows = slice(offsets[rank], offsets[rank] + SIZES[rank])
        # Each rank receives every rank's gradient for its own rows (W x dL/dx); DDP's average over
        # the W ranks then gives the single-process gradient.
        torch.testing.assert_close(result["grad_visual"] / WORLD, clip_grad[rows])
        torch.testing.assert_close(result["grad_text"] / WORLD, clip_text_grad[rows])
        assert result["grad_visual"].abs().sum() > 0
        # ISLR's weighted contrastive loss: the label weights of the gathered batch, as in one process
        torch.testing.assert_close(result["islr_loss"], islr.detach())
        torch.testing.assert_close(result["islr_grad_visual"] / WORLD, visual.grad[rows])


def test_without_a_process_group_gather_is_the_identity():
    tensor = torch.randn(3, 2)
    assert gather_with_grad(tensor) is tensor
