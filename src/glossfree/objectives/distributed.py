"""All-gather with gradients, for contrastive losses whose negatives come from every rank.

Each rank computes the loss over the gathered batch (all ranks the same loss ``L``).
``torch.distributed.nn.functional.all_gather`` sums, in its backward, the gradients that every
rank's loss sends to each shard, and hands each rank the sum for its own shard: ``W * dL/dx_local``.
DDP then averages parameter gradients over the ``W`` ranks, so each parameter receives ``dL/dθ``,
exactly the gradient of a single process holding the whole batch (tested in
``tests/objectives/test_gather.py``).
"""

from __future__ import annotations

import torch
import torch.distributed as dist


def distributed_world() -> int:
    """Number of processes in the default group (1 when torch.distributed is not initialised)."""
    if dist.is_available() and dist.is_initialized():
        return dist.get_world_size()
    return 1


def gather_with_grad(tensor: torch.Tensor) -> torch.Tensor:
    """Concatenate ``tensor [B_r, ...]`` of every rank along dim 0 (rank order); gradients flow back
    to each rank's own shard. Ranks may hold different batch sizes (the last batch of a split).
    Without a process group (or with one process) the tensor is returned as is.
    """
    world = distributed_world()
    if world == 1:
        return tensor
    from torch.distributed.nn.functional import all_gather

    size = torch.tensor([tensor.shape[0]], device=tensor.device)
    sizes = [torch.zeros_like(size) for _ in range(world)]
    dist.all_gather(sizes, size)
    counts = [int(s.item()) for s in sizes]
    longest = max(counts)
    if tensor.shape[0] < longest:  # all_gather needs one shape on every rank: pad, gather, trim
        pad = tensor.new_zeros((longest - tensor.shape[0], *tensor.shape[1:]))
        tensor = torch.cat([tensor, pad], dim=0)
    parts = all_gather(tensor)
    return torch.cat([part[:count] for part, count in zip(parts, counts)], dim=0)


def gather_tokens_with_grad(tokens: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """:func:`gather_with_grad` for token sequences whose length differs between ranks: ``tokens
    [B_r, L_r, D]`` and ``mask [B_r, L_r]`` (True = real token) are padded to the longest ``L`` of
    any rank (padding masked out), then gathered to ``[N, L, D]`` and ``[N, L]``."""
    if distributed_world() == 1:
        return tokens, mask
    longest = torch.tensor([tokens.shape[1]], device=tokens.device)
    dist.all_reduce(longest, op=dist.ReduceOp.MAX)
    missing = int(longest.item()) - tokens.shape[1]
    if missing:
        tokens = torch.cat([tokens, tokens.new_zeros((tokens.shape[0], missing, *tokens.shape[2:]))], dim=1)
        mask = torch.cat([mask, mask.new_zeros((mask.shape[0], missing))], dim=1)
    return gather_with_grad(tokens), gather_with_grad(mask.float()) > 0.5
