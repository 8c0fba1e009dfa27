"""Sign segmenters: a clip's poses or frames -> sign spans ``[first, stop)`` in its frames.

One interface (:class:`~glossfree.segmentation.base.Segmenter`: ``segment(clip) -> int64 [S, 2]``)
and three segmenters chosen by ``kind`` (:data:`~glossfree.segmentation.segmenters.SEGMENTERS`):

- ``pose_motion`` (:mod:`.motion`): boundaries at minima of the smoothed hand speed and where the
  hands rest, within a minimum and maximum segment length;
- ``file`` (:mod:`.from_file`): spans another segmenter wrote (JSON, JSON lines or TSV), so any
  external segmenter plugs in. Paper 002 (SAGE) segments with the Hands-On model of Moryossef et al.,
  whose trained weights are not released: its output, where one has it, enters through this kind;
- ``fixed_stride`` (:mod:`.fixed`): consecutive windows of a fixed length (the baseline).

:func:`~glossfree.segmentation.run.segment_dataset` writes a dataset's ``segments.jsonl`` (the format
``glossfree synth`` writes and the ``segments`` input reads); :mod:`.metrics` scores boundaries.
This is a data-layer package: it imports ``glossfree.data`` and below, never the models.
"""
