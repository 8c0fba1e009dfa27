"""Synthetic signer: a seeded generator of a parallel sign-language-like corpus (``glossfree synth``).

A small sign language whose sign order differs from the spoken order (:mod:`.grammar`), a lexicon
of procedurally generated signs (handshape, orientation, location, movement, one/two hands,
mouthing; :mod:`.lexicon`) performed by signers of different proportions, framing and speed
(:mod:`.body`) with co-articulated transitions, head sway, blinks, a question brow raise and a
negation headshake, written as MediaPipe-holistic ``.pose`` files with jitter and dropped hand
detections (:mod:`.render`), optional stick-figure videos (:mod:`.video`), and the documented
dataset layout with true sign boundaries (:mod:`.corpus`). It drives ``glossfree demo`` and the
segmenter tests. :mod:`.phoenix` makes it perform the PHOENIX-2014-T gloss sequences, texts and
clip lengths instead of the grammar's sentences (the synthetic benchmark,
``docs/synthetic_benchmark.md``). Nothing here imports mediapipe.
"""

from glossfree.data.synth.corpus import (
    SynthConfig,
    SynthSummary,
    build_lexicon,
    generate_corpus,
    make_signers,
    phoenix_signers,
    sample_sentences,
    synthesize_phoenix_sample,
    synthesize_sample,
)
from glossfree.data.synth.grammar import (
    Clause,
    Sentence,
    Vocabulary,
    clause_glosses,
    parse_glosses,
    realize,
    sample_clause,
    sample_sentence,
    translate_glosses,
    vocabulary,
)
from glossfree.data.synth.lexicon import Sign, generate_lexicon
from glossfree.data.synth.phoenix import (
    PhoenixSample,
    phoenix_glosses,
    phoenix_lexicon,
    read_phoenix,
    read_phoenix_split,
    target_frames,
)
from glossfree.data.synth.render import SamplePlan, plan_sample, render_plan, to_pose
from glossfree.data.synth.body import Signer, sample_signer
from glossfree.data.synth.video import render_video

__all__ = [
    "Clause",
    "PhoenixSample",
    "SamplePlan",
    "Sentence",
    "Sign",
    "Signer",
    "SynthConfig",
    "SynthSummary",
    "Vocabulary",
    "build_lexicon",
    "clause_glosses",
    "generate_corpus",
    "generate_lexicon",
    "make_signers",
    "parse_glosses",
    "phoenix_glosses",
    "phoenix_lexicon",
    "phoenix_signers",
    "plan_sample",
    "read_phoenix",
    "read_phoenix_split",
    "realize",
    "render_plan",
    "render_video",
    "sample_clause",
    "sample_sentence",
    "sample_sentences",
    "sample_signer",
    "synthesize_phoenix_sample",
    "synthesize_sample",
    "target_frames",
    "to_pose",
    "translate_glosses",
    "vocabulary",
]
