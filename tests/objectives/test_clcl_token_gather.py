"""clcl_token's negatives from every rank on a real 2-process gloo group (forked, CPU): ranks with
different batch sizes and token lengths give the single-process loss and gradients."""

from __future__ import annotations

import os

import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from glossfree.objectives import clcl_token_loss

WORLD, SIZES, LENGTHS = 2, (3, 2), (4, 6)  # rank 1's tokens are longer: padded before the gather


def _inputs():
    generator = torch.Generator().manual_seed(3)
    parts = []
    for size, length in zip(SIZES, LENGTHS):
        visual, text = torch.randn(size, length, 4, generator=generator), torch.randn(size, 5, 4, generator=generator)
        visual_mask = torch.arange(length)[None] < torch.randint(1, length + 1, (size, 1), generator=generator)
        text_mask = torch.arange(5)[None] < torch.randint(1, 6, (size, 1), generator=generator)
        parts.append((visual, visual_mask, text, text_mask))
    return parts


def _worker(rank: int, store: str, out: str) -> None:
    torch.set_num_threads(1)  # a forked child must not enter the parent's OpenMP pool
    dist.init_process_group("gloo", init_method=f"file://{store}", rank=rank, world_size=WORLD)
    try:
        visual, visual_mask, text, text_mask = _inputs()[rank]
        visual.requires_grad_(True)
        loss, _ = clcl_token_loss(visual, visual_mask, text, text_mask, torch.tensor(3.0), alpha=0.3, gather=True)
        loss.backward()
        torch.save({"loss": loss.detach(), "grad": visual.grad}, os.path.join(out, f"rank{rank}.pt"))
    finally:
        dist.destroy_process_group()


def test_gathered_clcl_token_matches_one_process(tmp_path):
    mp.start_processes(_worker, args=(str(tmp_path / "store"), str(tmp_path)), nprocs=WORLD, start_method="fork")
    parts, longest = _inputs(), max(LENGTHS)
    padded = [torch.nn.functional.pad(p[0], (0, 0, 0, longest - p[0].shape[1])) for p in parts]
    visual = torch.cat(padded).requires_grad_(True)
    visual_mask = torch.cat([torch.nn.functional.pad(p[1], (0, longest - p[1].shape[1])) for p in parts])
    loss, _ = clcl_token_loss(visual, visual_mask, torch.cat([p[2] for p in parts]), torch.cat([p[3] for p in parts]),
                              torch.tensor(3.0), alpha=0.3)  # fmt: skip
    loss.backward()
    for rank, start in enumerate((0, SIZES[0])):
        result = torch.load(tmp_path / f"rank{rank}.pt")
        torch.testing.assert_close(result["loss"], loss.detach())
        expected = visual.grad[start : start + SIZES[rank], : LENGTHS[rank]]
        torch.testing.assert_close(result["grad"] / WORLD, expected)  # DDP averages the W x dL/dx
