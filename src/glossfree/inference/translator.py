"""Translate one input — a ``.pose`` file, a video, or a folder of frames — with a trained model.

Whatever the input, it becomes the modality the checkpoint was trained on (poses are estimated on
the fly with MediaPipe for videos and frame folders), then beam search produces the sentence. The
result carries a timing breakdown (decode, pose estimation, model) and the real-time factor.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch

from glossfree.checkpoint import TrainedModel, load_trained
from glossfree.data.datasets import collate_pose
from glossfree.data.pose_io import Keypoints, extract_keypoints, read_pose
from glossfree.data.transforms import resample_fps
from glossfree.errors import DataError

VIDEO_SUFFIXES = (".mp4", ".mov", ".avi", ".mkv", ".webm", ".m4v")


@dataclass
class TranslationResult:
    input: str
    text: str
    num_frames: int
    fps: float
    duration_s: float
    timings_s: dict[str, float] = field(default_factory=dict)

    @property
    def real_time_factor(self) -> float:
        """Processing time divided by the duration of the signing (< 1 is faster than real time)."""
        return sum(self.timings_s.values()) / self.duration_s if self.duration_s > 0 else float("inf")

    def as_dict(self) -> dict:
        return {**asdict(self), "real_time_factor": self.real_time_factor}


class Translator:
    """Holds a trained model; ``translate(path)`` for files, ``translate_keypoints`` for arrays."""

    def __init__(
        self,
        trained: TrainedModel,
        *,
        num_beams: int | None = None,
        max_new_tokens: int | None = None,
    ) -> None:
        self.trained = trained
        self.num_beams = num_beams  # None: the model's own generation settings
        self.max_new_tokens = max_new_tokens

    @classmethod
    def from_path(cls, path: str | Path, **kwargs) -> Translator:
        return cls(load_trained(path), **kwargs)

    def translate_keypoints(self, keypoints: Keypoints, *, sample_id: str = "input") -> str:
        data = self.trained.recipe.data
        if data.fps is not None:
            keypoints = resample_fps(keypoints, data.fps)
        item = {
            "id": sample_id,
            "keypoints": torch.from_numpy(keypoints.points),
            "keypoint_mask": torch.from_numpy(keypoints.mask),
            "text": "",
            "language": "",
        }
        batch = collate_pose([item]).to(next(self.trained.model.parameters()).device)
        with torch.inference_mode():
            return self.trained.model.generate(
                batch, num_beams=self.num_beams, max_new_tokens=self.max_new_tokens
            )[0]

    def translate(self, path: str | Path) -> TranslationResult:
        path = Path(path)
        timings: dict[str, float] = {}
        start = time.perf_counter()
        if path.is_dir() or path.suffix.lower() in VIDEO_SUFFIXES:
            # MediaPipe runs only on the frames the model will see (its training frame rate).
            pose, decode_s = _estimate_poses(path, fps=self.trained.recipe.data.fps)
            timings["decode"] = decode_s
            timings["poses"] = time.perf_counter() - start - decode_s
        elif path.suffix.lower() == ".pose":
            pose = read_pose(path)
            timings["decode"] = time.perf_counter() - start
        else:
            raise DataError(
                f"{path}: cannot translate this input; give a .pose file, a video "
                f"({', '.join(VIDEO_SUFFIXES)}) or a folder of frames"
            )
        start = time.perf_counter()
        data = self.trained.recipe.data
        keypoints = extract_keypoints(pose, self.trained.recipe.model.layout, normalize=data.normalize, source=str(path), allow_missing=True)
        text = self.translate_keypoints(keypoints, sample_id=path.stem)
        timings["model"] = time.perf_counter() - start
        return TranslationResult(
            input=str(path),
            text=text,
            num_frames=keypoints.num_frames,
            fps=keypoints.fps,
            duration_s=keypoints.num_frames / keypoints.fps if keypoints.fps else 0.0,
            timings_s=timings,
        )


def _estimate_poses(path: Path, *, fps: float | None):
    """Decode a video or frame folder at ``fps`` and run MediaPipe holistic; returns (pose, decode seconds)."""
    from glossfree.data.pose_estimation import frames_to_pose_timed

    return frames_to_pose_timed(path, fps=fps)
