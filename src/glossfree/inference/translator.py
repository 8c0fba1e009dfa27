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

from glossfree.inference.loading import TrainedModel, load_trained
from glossfree.data.datasets import collate_pose
from glossfree.data.layouts import get_layout
from glossfree.data.pose_io import Keypoints, extract_keypoints, missing_points, read_pose
from glossfree.data.transforms import resample_fps
from glossfree.errors import ConfigError, DataError, GlossfreeError
from glossfree.inference.device import InferenceDevice

VIDEO_SUFFIXES = (".mp4", ".mov", ".avi", ".mkv", ".webm", ".m4v")


@dataclass
class TranslationResult:
    input: str
    text: str
    num_frames: int
    fps: float
    duration_s: float
    timings_s: dict[str, float] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)  # the input is usable but poor (too short, points missing)

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
        device: InferenceDevice | None = None,
    ) -> None:
        check_decoding(num_beams=num_beams, max_new_tokens=max_new_tokens)
        self.trained = trained
        # The model stays where it is unless a device is given (load_trained put it there).
        self.device = device or InferenceDevice(next(trained.model.parameters()).device)
        trained.model.to(self.device.device)
        self.num_beams = num_beams  # None: the model's own generation settings
        self.max_new_tokens = max_new_tokens

    @classmethod
    def from_path(
        cls,
        path: str | Path,
        *,
        num_beams: int | None = None,
        max_new_tokens: int | None = None,
        device: InferenceDevice | None = None,
    ) -> Translator:
        check_decoding(num_beams=num_beams, max_new_tokens=max_new_tokens)  # before the model loads
        trained = load_trained(path, device=device.device if device else "cpu")
        return cls(trained, num_beams=num_beams, max_new_tokens=max_new_tokens, device=device)

    @property
    def min_frames(self) -> int:
        """Frames the model reads at once (its Sliding Perceiver window; 1 without a compressor)."""
        return int(getattr(self.trained.recipe.model.compressor, "window", 1))

    @property
    def fps(self) -> float | None:
        """The model's training frame rate: every input is resampled to it."""
        return self.trained.fps

    def _prepare(self, keypoints: Keypoints, source: str) -> Keypoints:
        """Resample to the model's frame rate (a file whose header says 0 fps cannot be)."""
        fps = self.fps
        if fps is None:  # exported before glossfree recorded it; see translate()'s warning
            return keypoints
        if not keypoints.fps > 0:
            raise DataError(
                f"{source}: the pose header gives a frame rate of {keypoints.fps:g} fps, so it cannot be "
                f"resampled to the model's {fps:g} fps; re-estimate the poses or fix the header's fps"
            )
        return resample_fps(keypoints, fps)

    @property
    def inputs(self) -> set[str]:
        """What the model reads (``keypoints``, ``frames``, ``features:<stream>``)."""
        from glossfree.models.slt import required_inputs

        return required_inputs(self.trained.recipe.model)

    def translate_keypoints(self, keypoints: Keypoints, *, sample_id: str = "input") -> str:
        keypoints = self._prepare(keypoints, sample_id)
        return self._generate(keypoints, sample_id)

    def _rgb_inputs(self, path: Path, folder_fps: float | None, pose=None) -> dict:
        """The frames, lip crops and feature streams the model reads, computed from a video or frame
        folder: frames decoded at the model's rate and preprocessed as in training; lip crops cut
        from those frames where ``pose`` (the pose of the same frames; estimated here when None)
        puts the mouth; each feature stream extracted with the extractor config recorded at
        training (``feature_extractors`` in the export's metadata)."""
        from glossfree.data.inputs import clip_tensor, feature_streams, load_clip
        from glossfree.models.slt import frame_preprocess

        inputs, out = self.inputs, {}
        streams = feature_streams(inputs)
        if "frames" not in inputs and "lips" not in inputs and not streams:
            return out
        if not (path.is_dir() or path.suffix.lower() in VIDEO_SUFFIXES):
            raise DataError(
                f"{path}: this model reads {', '.join(sorted(inputs - {'keypoints'}))}; give a video "
                f"({', '.join(VIDEO_SUFFIXES)}) or a folder of frames"
            )
        folder = folder_fps or 25.0
        if "frames" in inputs:
            raw = load_clip(path, fps=self.fps, folder_fps=folder)
            out["frames"] = clip_tensor(raw, frame_preprocess(self.trained.recipe.model))
        if "lips" in inputs:
            from glossfree.data.lips import lip_crops
            from glossfree.models.slt import lip_crop_config

            if pose is None:
                pose, _ = estimate_poses(path, fps=self.fps, folder_fps=folder_fps)
            raw = load_clip(path, fps=self.fps, folder_fps=folder)  # the frames MediaPipe saw
            crops = lip_crops(raw, pose, lip_crop_config(self.trained.recipe.model), fps=float(pose.body.fps),
                              source=str(path))  # fmt: skip
            out["lips"], out["lip_mask"] = torch.from_numpy(crops.crops), torch.from_numpy(crops.detected)
        if streams:
            from glossfree.features.config import parse_extractor_config
            from glossfree.features.extractors import build_extractor

            recorded = self.trained.metadata.get("feature_extractors") or {}
            missing = [stream for stream in streams if stream not in recorded]
            if missing:
                raise ConfigError(
                    f"the model reads cached feature stream(s) {', '.join(missing)} but its export does not record "
                    "their extractor configs, so they cannot be computed from a video; evaluate it on the extracted "
                    "features with `glossfree evaluate` instead"
                )
            out["features"] = {}
            for stream in streams:
                config = parse_extractor_config(recorded[stream]["config"], source=f"feature_extractors.{stream}")
                if config.kind == "pose":
                    raise ConfigError(f"feature stream '{stream}' encodes poses (kind: pose), not video frames; extract it "
                                      "with `glossfree extract` from the records' .pose files and evaluate with "
                                      "`glossfree evaluate` instead")  # fmt: skip
                if config.kind == "lip_reader":
                    raise ConfigError(f"feature stream '{stream}' is a lip reader's: it needs the pose of the video at the "
                                      "rate it was extracted; extract it with `glossfree extract` and evaluate with "
                                      "`glossfree evaluate` instead")  # fmt: skip
                extractor = build_extractor(config, device=str(self.device.device))
                frames = load_clip(path, fps=config.fps, folder_fps=folder)
                out["features"][stream] = extractor.extract(iter(frames)).float().cpu()
        return out

    def _segments(self, pose, num_frames: int) -> dict:
        """A segment-pooling model's ``segments`` (SAGE): the pose-motion segmenter (default settings)
        on ``pose``, counted in the model's ``num_frames`` steps; ``{}`` for other models."""
        if "segments" not in self.inputs:
            return {}
        from glossfree.data.inputs import segment_frames
        from glossfree.segmentation.base import Clip
        from glossfree.segmentation.motion import PoseMotionConfig, PoseMotionSegmenter

        rate = float(pose.body.fps)
        spans = PoseMotionSegmenter(PoseMotionConfig()).segment(Clip("input", int(pose.body.data.shape[0]), rate, pose))
        steps = segment_frames(spans / rate, offset=0.0, fps=self.fps or rate, num_frames=num_frames)
        return {"segments": torch.from_numpy(steps)}

    def _generate(self, keypoints: Keypoints | None, sample_id: str, extra: dict | None = None) -> str:
        item = {"id": sample_id, "text": "", "language": "", **(extra or {})}
        prompts = self.trained.metadata.get("prompts") or {}
        if self.trained.recipe.data.prompt is not None and prompts:
            # the evaluation prompt of the training language (one language: SpaMo's datasets)
            item["prompt"] = prompts[sorted(prompts)[0]]
        if keypoints is not None:
            item["keypoints"] = torch.from_numpy(keypoints.points)
            item["keypoint_mask"] = torch.from_numpy(keypoints.mask)
        batch = collate_pose([item]).to(self.device.device)
        with torch.inference_mode(), self.device.autocast():
            return self.trained.model.generate(
                batch, num_beams=self.num_beams, max_new_tokens=self.max_new_tokens
            )[0]

    def translate(self, path: str | Path, *, fps: float | None = None) -> TranslationResult:
        """Translate one input. ``fps`` is the frame rate of a frame folder (required for one: a
        folder of images says nothing about time); videos and ``.pose`` files carry their own."""
        path = Path(path)
        timings: dict[str, float] = {}
        start = time.perf_counter()
        if fps is not None and not fps > 0:
            raise ConfigError(f"--fps must be positive, got {fps:g}")
        if path.is_dir():
            from glossfree.data.video import frame_folder_images

            frame_folder_images(path)  # a folder without images fails first, not on its missing --fps
        if path.is_dir() and fps is None:
            raise DataError(
                f"{path}: a folder of frames has no frame rate; pass it with --fps (e.g. --fps 25 for "
                "PHOENIX-2014-T) so that it can be resampled to the model's"
                + (f" {self.fps:g} fps" if self.fps else " rate")
            )
        if "keypoints" not in self.inputs:
            return self._translate_rgb(path, fps)
        if path.is_dir() or path.suffix.lower() in VIDEO_SUFFIXES:
            # MediaPipe runs only on the frames the model will see (its training frame rate).
            pose, decode_s = estimate_poses(path, fps=self.fps, folder_fps=fps)
            timings["decode"] = decode_s
            timings["poses"] = time.perf_counter() - start - decode_s
        elif path.suffix.lower() == ".pose":
            if "lips" in self.inputs:
                raise DataError(f"{path}: this model reads lip crops, which are cut from the video; give the video "
                                "(its pose is estimated from it)")  # fmt: skip
            pose = read_pose(path)
            timings["decode"] = time.perf_counter() - start
        else:
            raise DataError(
                f"{path}: cannot translate this input; give a .pose file, a video "
                f"({', '.join(VIDEO_SUFFIXES)}) or a folder of frames"
            )
        start = time.perf_counter()
        data = self.trained.recipe.data
        layout = get_layout(self.trained.recipe.model.layout)
        keypoints = extract_keypoints(pose, layout, normalize=data.normalize, source=str(path), allow_missing=True)
        model_input = self._prepare(keypoints, str(path))
        warnings = [*_coverage_warnings(pose, keypoints, layout, str(path))]
        if self.fps is None:
            warnings.append(
                f"{path}: the model does not record the frame rate it was trained at (exported by an "
                f"older glossfree); the input is used at its own {keypoints.fps:g} fps"
            )
        if model_input.num_frames < self.min_frames:
            warnings.append(
                f"{path}: only {model_input.num_frames} frame(s) at the model's "
                f"{model_input.fps:g} fps, fewer than the {self.min_frames} frames the model reads at "
                "once; the translation rests on too little signing"
            )
        extra = self._rgb_inputs(path, fps, pose)  # a model fusing poses with frames, lips or features
        extra.update(self._segments(pose, model_input.num_frames))
        text = self._generate(model_input, path.stem, extra) if extra else self._generate(model_input, path.stem)
        timings["model"] = time.perf_counter() - start
        return TranslationResult(
            input=str(path),
            text=text,
            num_frames=keypoints.num_frames,
            fps=keypoints.fps,
            duration_s=keypoints.num_frames / keypoints.fps if keypoints.fps else 0.0,
            timings_s=timings,
            warnings=warnings,
        )


    def _translate_rgb(self, path: Path, folder_fps: float | None) -> TranslationResult:
        """A model without a pose frontend: frames and/or features straight from the video."""
        start = time.perf_counter()
        extra = self._rgb_inputs(path, folder_fps)
        decoded = time.perf_counter() - start
        first = extra["frames"] if "frames" in extra else extra["lips"] if "lips" in extra else next(iter(extra["features"].values()))
        if path.is_dir():
            source_fps = float(folder_fps or 25.0)
        else:
            from glossfree.data.video import probe_video

            source_fps = probe_video(path).fps
        rate = self.fps or source_fps
        steps = int(first.shape[0])
        warnings = []
        if steps < self.min_frames:
            warnings.append(f"{path}: only {steps} step(s), fewer than the {self.min_frames} the model reads at once")
        if "segments" in self.inputs:  # segments come from the signer's hands: estimate the pose
            try:
                extra.update(self._segments(estimate_poses(path, fps=self.fps, folder_fps=folder_fps)[0], steps))
            except GlossfreeError as error:
                warnings.append(f"{path}: no sign segments ({error}); the model reads the clip as one segment")
        start = time.perf_counter()
        text = self._generate(None, path.stem, extra)
        # frames at the model's rate, or feature rows: the duration comes from the frames when there are any
        duration = steps / rate if "frames" in extra or "lips" in extra else 0.0
        if not duration:
            from glossfree.data.video import probe_video

            duration = len(list(path.iterdir())) / source_fps if path.is_dir() else probe_video(path).duration
        return TranslationResult(
            input=str(path), text=text, num_frames=steps, fps=rate, duration_s=duration,
            timings_s={"decode": decoded, "model": time.perf_counter() - start}, warnings=warnings,
        )  # fmt: skip


def check_decoding(*, num_beams: int | None, max_new_tokens: int | None) -> None:
    """Raise :class:`ConfigError` for a beam size or a length below 1 (None: the model's own)."""
    if num_beams is not None and num_beams < 1:
        raise ConfigError(f"num_beams must be at least 1, got {num_beams}")
    if max_new_tokens is not None and max_new_tokens < 1:
        raise ConfigError(f"max_new_tokens must be at least 1, got {max_new_tokens}")


def _coverage_warnings(pose, keypoints: Keypoints, layout, source: str) -> list[str]:
    """A warning when the file lacks some of the layout's points (they are fed to the model masked)."""
    absent = missing_points(pose.header, layout)
    if not absent:
        return []
    never = ~keypoints.mask.any(axis=0)  # [N]: points masked in every frame (absent or undetected)
    undetected: dict[str, int] = {}
    for (component, _), masked in zip(layout.points, never):
        if masked:
            undetected[component] = undetected.get(component, 0) + 1
    for component, (count, _) in absent.items():
        undetected[component] -= count
    parts = ", ".join(f"{name} {count} of {needed}" for name, (count, needed) in absent.items())
    message = (
        f"{source}: {sum(c for c, _ in absent.values())} of the {layout.num_points} points the model "
        f"expects ('{layout.name}') are missing from the file ({parts})"
    )
    extra = {name: count for name, count in undetected.items() if count}
    if extra:
        listed = ", ".join(f"{name} {count}" for name, count in extra.items())
        message += f" and {sum(extra.values())} more are never detected ({listed})"
    total = int(never.sum())
    return [f"{message}: {total} of {layout.num_points} points are masked in every frame"]


def estimate_poses(path: Path, *, fps: float | None, folder_fps: float | None = None):
    """Decode a video or frame folder (recorded at ``folder_fps``) at ``fps`` and run MediaPipe
    holistic; returns (pose, decode seconds)."""
    from glossfree.data.pose_estimation import frames_to_pose_timed

    if folder_fps is None:
        return frames_to_pose_timed(path, fps=fps)
    return frames_to_pose_timed(path, fps=fps, folder_fps=folder_fps)
