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

# A from-scratch mBART layout small enough for unit tests (one layer each side, no dropout).
TINY_MBART_ARCHITECTURE = {
    "d_model": 32, "encoder_layers": 1, "decoder_layers": 1, "encoder_attention_heads": 4,
    "decoder_attention_heads": 4, "encoder_ffn_dim": 64, "decoder_ffn_dim": 64, "dropout": 0.0,
    "max_position_embeddings": 64, "scale_embedding": True,
}  # fmt: skip


def invoke(*args):
    """Run the glossfree CLI in-process on ``args`` (each turned into a string); errors propagate."""
    from typer.testing import CliRunner

    from glossfree.cli.main import app

    return CliRunner().invoke(app, [str(a) for a in args], catch_exceptions=False)


def render_video_corpus(root, *, seed: int, num_train: int = 8, num_dev: int = 2, num_test: int = 2, size: int = 64):
    """A tiny synthetic corpus at ``root`` with stick-figure videos (``size`` x ``size``, 12.5 fps,
    contour faces), as the video recipes' end-to-end tests read it; returns ``root``."""
    from glossfree.data.synth import SynthConfig, generate_corpus

    config = SynthConfig(seed=seed, num_train=num_train, num_dev=num_dev, num_test=num_test, fps=12.5,
                         width=size, height=size, render_video=True, face_points="contours")  # fmt: skip
    generate_corpus(root, config, progress=False)
    return root
