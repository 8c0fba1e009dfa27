"""Shared settings of the tiny end-to-end tests (importable: tests/ is on pytest's pythonpath)."""

# The tiny recipe, smaller still: two epochs of a few steps, greedy decoding.
FAST_RECIPE = [
    "stages.0.max_epochs=2",
    "stages.0.batch_size=8",
    "stages.0.val_every_n_epochs=1",
    "model.lm.generation.num_beams=1",
    "model.lm.generation.max_new_tokens=12",
    "tokenizer.vocab_size=120",
    "evaluation.batch_size=8",
]
