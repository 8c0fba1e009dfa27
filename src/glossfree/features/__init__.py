"""Frozen feature extractors and the feature cache behind ``glossfree extract``.

- :mod:`glossfree.features.config`: extractor configs (``kind: image | video_clips``) and signatures;
- :mod:`glossfree.features.extractors`: the :class:`~glossfree.features.extractors.Extractor`
  interface and its ``transformers``-based implementations (DINOv2, CLIP + S2, ResNet, VideoMAE);
- :mod:`glossfree.features.cache`: ``features/<extractor>/<id>.safetensors``, written atomically,
  checked on read;
- :mod:`glossfree.features.extract`: the sharded, resumable driver;
- :mod:`glossfree.features.dataset`: a dataset of cached streams with a masked collate.
"""
