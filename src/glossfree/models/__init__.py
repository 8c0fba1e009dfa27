"""glossfree.models: the parts of an SLT model and their composition.

- :mod:`~glossfree.models.frontends.pose_backbone`: articulator AGCN + SE encoders and Conformer
  (paper 004); :mod:`~glossfree.models.frontends.skeleton_graph`: the fixed skeleton graphs.
- :mod:`~glossfree.models.temporal`: Conformer, Sliding Perceiver, shared attention.
- :mod:`~glossfree.models.mappers`: ``linear`` / ``mlp`` / ``identity`` maps to the LM width.
- :mod:`~glossfree.models.language_model`: T5 / mBART wrapper (``inputs_embeds``, prompt, label
  smoothing, beam search, LoRA / DoRA).
- :mod:`~glossfree.models.slt`: :class:`SLTModel` = frontend -> compressor -> mapper -> lm.
"""
