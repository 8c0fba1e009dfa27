"""Sign segmentation (issue 25, item 1): boundary F1 against the synthetic signer's true boundaries,
and tokens per frame (segments per frame: SAGE's LM input length) on synthetic and real poses.

- ``--data``: synthetic corpora (``glossfree synth``), each scored with every segmenter against its
  ``segments.jsonl`` (boundary F1 within ``--tolerance`` frames);
- ``--poses``: folders of real ``.pose`` files (e.g. ``../shared/data/samples``), segmented with the
  pose-motion segmenter (no true boundaries: tokens per frame only). Files other than MediaPipe
  holistic (OpenPose) are listed as skipped.

    python benchmarks/bench_segmentation.py --data DATA [DATA ...] --poses ../shared/data/samples [--json FILE]
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from _util import machine, machine_line, write_json
from glossfree.data.pose_io import read_pose
from glossfree.errors import GlossfreeError
from glossfree.segmentation.base import Clip
from glossfree.segmentation.fixed import FixedStrideConfig, FixedStrideSegmenter
from glossfree.segmentation.motion import PoseMotionConfig, PoseMotionSegmenter
from glossfree.segmentation.run import segment_dataset

SEGMENTERS = {
    "pose_motion": lambda: PoseMotionSegmenter(PoseMotionConfig()),
    "fixed_stride x4": lambda: FixedStrideSegmenter(FixedStrideConfig(length=4)),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, nargs="*", default=[])
    parser.add_argument("--poses", type=Path, nargs="*", default=[])
    parser.add_argument("--tolerance", type=int, default=2)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    info = machine()
    print(machine_line(info))
    results: dict = {"synthetic": [], "real": []}
    for root in args.data:
        for name, make in SEGMENTERS.items():
            with tempfile.TemporaryDirectory() as tmp:
                summary = segment_dataset(root, make(), name=name, out=Path(tmp) / "s.jsonl",
                                          truth=root / "segments.jsonl", tolerance=args.tolerance, progress=False)  # fmt: skip
            score = summary.score
            results["synthetic"].append({"data": str(root), "segmenter": name, "clips": summary.clips, "f1": score.f1,
                                         "precision": score.precision, "recall": score.recall,
                                         "tokens_per_frame": summary.tokens_per_frame})  # fmt: skip
            print(f"{root} ({summary.clips} clips) {name:<16} boundary F1 (±{args.tolerance}) {score.f1:.3f} "
                  f"(P {score.precision:.3f}, R {score.recall:.3f}), {summary.tokens_per_frame:.3f} tokens per frame")
    segmenter = PoseMotionSegmenter(PoseMotionConfig())
    for folder in args.poses:
        frames = segments = 0
        for path in sorted(folder.rglob("*.pose")):
            try:
                pose = read_pose(path)
                spans = segmenter.segment(Clip(path.stem, pose.body.data.shape[0], float(pose.body.fps), pose))
            except GlossfreeError as error:
                print(f"  skipped {path.relative_to(folder)}: {str(error).split(': ', 1)[-1][:80]}")
                continue
            count = int(pose.body.data.shape[0])
            frames, segments = frames + count, segments + len(spans)
            results["real"].append({"file": str(path.relative_to(folder)), "frames": count, "fps": float(pose.body.fps),
                                    "segments": len(spans)})  # fmt: skip
            print(f"  {path.relative_to(folder)}: {count} frames at {pose.body.fps:g} fps, {len(spans)} segments "
                  f"({len(spans) / count:.3f} per frame)")
        print(f"{folder}: {segments} segments / {frames} frames = {segments / max(frames, 1):.3f} tokens per frame (pose_motion)")
    if args.json:
        write_json(args.json, {"machine": info, **results})


if __name__ == "__main__":
    main()
