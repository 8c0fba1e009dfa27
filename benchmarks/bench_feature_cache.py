"""Feature cache read speed vs the training step that consumes it (issue 15.3; goal: read >= 20x faster).

Writes a PHOENIX-like cache (PHOENIX14T averages 116 frames; CLIP ViT-L/14 width 1024) with the
real writer (:func:`glossfree.features.cache.write_entry`), then, side by side in one process:

- **read**: one batch through the real training-time path: :class:`FeatureDataset` reads and
  checks each ``<id>.safetensors`` (signature, width), :func:`collate_features` pads and masks;
- **step**: one optimiser step of a small model consuming that batch: the ``features`` frontend
  (linear 1024 -> 256 + LayerNorm) feeding a T5 built from config (d_model 256, 3 encoder + 3
  decoder layers, 4 heads, d_ff 1024, the T5 vocabulary of 32128) through ``inputs_embeds``,
  with 20-token labels; forward, backward, AdamW.

Both use the same torch thread count (``--threads``, default 1: the machine is shared). With
``--device cuda`` the step runs on the GPU and the read includes the copy of the batch to it.
The files were just written, so by default they are read from the OS page cache; ``--cold``
first evicts each batch's files from it (``posix_fadvise(DONTNEED)``, no root needed) so the
read includes the disk. The figure printed is ``step time / read time``; it is
a report, not an assertion.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/bench_feature_cache.py [--batch 32] [--frames 116]
        [--dim 1024] [--dtype float32] [--repeats 7] [--threads 1] [--cold] [--device cpu] [--json out.json]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _util import CpuMeter, cpu_line, goal, machine, machine_line, median, write_json  # noqa: E402

from glossfree.data.manifest import Record  # noqa: E402
from glossfree.features.cache import FeatureCache, write_entry  # noqa: E402
from glossfree.features.dataset import FeatureDataset, collate_features  # noqa: E402
from glossfree.models.frontends.features import FeatureStreamConfig, FeatureStreamFrontend  # noqa: E402

GOAL = 20.0
SIGNATURE = "b" * 64


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--frames", type=int, default=116, help="frames per sample (PHOENIX14T mean: 116)")
    parser.add_argument("--dim", type=int, default=1024, help="feature width (CLIP ViT-L/14: 1024)")
    parser.add_argument("--dtype", choices=("float32", "float16", "bfloat16"), default="float32")
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--cold", action="store_true",
                        help="evict each batch's files from the OS page cache before reading it (posix_fadvise)")
    parser.add_argument("--device", default="cpu", help="where the training step runs (cpu, cuda)")
    parser.add_argument("--json", type=Path, default=None)
    return parser.parse_args()


def build_cache(root: Path, args: argparse.Namespace) -> list[Record]:
    """``repeats`` batches of distinct files (each read once: no file is read twice in a row)."""
    generator = torch.Generator().manual_seed(0)
    records = []
    for index in range(args.batch * args.repeats):
        frames = args.frames + int(torch.randint(-20, 21, (1,), generator=generator))  # varied lengths
        features = torch.randn(frames, args.dim, generator=generator).to(getattr(torch, args.dtype))
        record = Record(id=f"s{index:05d}", split="train", text="und nun die wettervorhersage", language="de",
                        video=f"videos/s{index:05d}.mp4")  # fmt: skip
        write_entry(FeatureCache(root, "clip").path(record.id), features,
                    {"signature": SIGNATURE, "fps": 25.0, "num_frames": frames})  # fmt: skip
        records.append(record)
    return records


def evict(paths: list[Path]) -> None:
    """Drop the files' pages from the OS page cache (a cold read follows)."""
    for path in paths:
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fdatasync(fd)
            os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
        finally:
            os.close(fd)


def sync(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def to_device(batch: dict, device: str) -> dict:
    features = {k: v.to(device, non_blocking=False) for k, v in batch["features"].items()}
    masks = {k: v.to(device) for k, v in batch["masks"].items()}
    return {**batch, "features": features, "masks": masks}


def build_model(dim: int, device: str) -> tuple[torch.nn.Module, torch.nn.Module, torch.optim.Optimizer]:
    from transformers import T5Config, T5ForConditionalGeneration

    torch.manual_seed(0)
    frontend = FeatureStreamFrontend(FeatureStreamConfig(stream="clip", input_dim=dim, dim=256))
    t5 = T5ForConditionalGeneration(T5Config(d_model=256, d_kv=64, d_ff=1024, num_layers=3, num_decoder_layers=3,
                                             num_heads=4, vocab_size=32128, decoder_start_token_id=0, pad_token_id=0))  # fmt: skip
    frontend, t5 = frontend.to(device), t5.to(device)
    optimizer = torch.optim.AdamW([*frontend.parameters(), *t5.parameters()], lr=1e-4)
    return frontend, t5, optimizer


def train_step(frontend, t5, optimizer, batch, labels) -> None:
    embeds = frontend(batch["features"]["clip"], batch["masks"]["clip"])  # [B, T, 256]
    loss = t5(inputs_embeds=embeds, attention_mask=batch["masks"]["clip"].long(), labels=labels).loss
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()


def main() -> None:
    args = parse_args()
    torch.set_num_threads(args.threads)
    with tempfile.TemporaryDirectory() as tmp, CpuMeter() as meter:
        root = Path(tmp)
        records = build_cache(root, args)
        dataset = FeatureDataset(root, "train", ["clip"], signatures={"clip": SIGNATURE}, records=records)
        frontend, t5, optimizer = build_model(args.dim, args.device)
        labels = torch.randint(0, 32128, (args.batch, 20), generator=torch.Generator().manual_seed(1)).to(args.device)
        read_s, step_s = [], []
        warm = to_device(collate_features([dataset[i] for i in range(args.batch)]), args.device)
        for _ in range(2):  # warm-up (allocator, kernels)
            train_step(frontend, t5, optimizer, warm, labels)
        sync(args.device)
        for repeat in range(args.repeats):  # interleaved: both see the same machine load
            indices = range(repeat * args.batch, (repeat + 1) * args.batch)
            if args.cold:
                evict([dataset.caches["clip"].path(records[i].id) for i in indices])
            start = time.perf_counter()
            items = [dataset[i] for i in indices]
            batch = to_device(collate_features(items), args.device)
            sync(args.device)
            read_s.append(time.perf_counter() - start)
            start = time.perf_counter()
            train_step(frontend, t5, optimizer, batch, labels)
            sync(args.device)
            step_s.append(time.perf_counter() - start)
        file_mb = sum(p.stat().st_size for p in (root / "features" / "clip").glob("*.safetensors")) / len(records) / 1e6
    read, step = median(read_s), median(step_s)
    ratio = step / read
    info = machine()
    print(machine_line(info))
    print(cpu_line(meter.result()))
    print(f"batch {args.batch} x ~{args.frames} frames x {args.dim}-d {args.dtype} ({file_mb:.2f} MB per file), "
          f"{args.threads} torch thread(s), step on {args.device}, {'cold' if args.cold else 'warm'} page cache, "
          f"median of {args.repeats}")  # fmt: skip
    print(f"read + check + collate per batch: {read * 1000:8.1f} ms")
    print(f"training step (linear + 3+3-layer d256 T5, fwd+bwd+AdamW): {step * 1000:8.1f} ms")
    print(f"step / read = {ratio:.1f}x  (goal >= {GOAL:.0f}x: {goal(ratio, GOAL, at_most=False)})")
    if args.json:
        write_json(args.json, {"machine": info, "cpu": meter.result(), "args": {k: str(v) for k, v in vars(args).items()},
                               "read_ms": read * 1000, "step_ms": step * 1000, "ratio": ratio, "goal": GOAL})  # fmt: skip


if __name__ == "__main__":
    main()
