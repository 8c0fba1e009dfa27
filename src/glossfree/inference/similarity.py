"""The visual-token x pseudo-gloss similarity matrix of one sample (paper 002, Fig. 4).

SAGE shows, for a test video, the similarity between its segment tokens (after the mapper: what the
language model reads and what the Cross-Embedding loss aligns) and the candidate pseudo-glosses of its
sentence, from the dot products of their embeddings; a trained model shows a clear diagonal-like
pattern. Here:

- rows: the sample's visual tokens (``tokens`` point: mapper output), labelled with their segment's
  frames when the model pools segments;
- columns: the sample's pseudo-glosses from ``<data>/pseudo_glosses.json`` when the dataset was
  annotated (``glossfree pseudo-glosses``), else the words of its sentence; each column's vector is
  the mean of the LM input embeddings of that word's tokens (as ``LanguageModel.embed_texts`` embeds
  it, the tokenizer's special tokens included, alike for every column);
- values: cosine similarity (dot products of unit vectors, so that rows and columns compare on one
  scale; the paper's figure uses raw dot products).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from glossfree.data.datasets import collate_pose
from glossfree.errors import DataError
from glossfree.io import atomic_path
from glossfree.segmentation.run import dataset_records
from glossfree.text.pseudo_gloss import GLOSSES_FILE, load_pseudo_glosses


@dataclass(frozen=True)
class SimilarityMap:
    """``matrix`` ``[S, G]`` cosine similarities of ``S`` visual tokens and ``G`` glosses."""

    sample_id: str
    text: str
    matrix: np.ndarray
    glosses: list[str]
    token_labels: list[str]
    gloss_source: str  # "pseudo-glosses" or "words"


def sample_glosses(root: Path, record) -> tuple[list[str], str]:
    """The sample's pseudo-glosses (annotated dataset) or its sentence's words, and which it is."""
    if (root / GLOSSES_FILE).is_file():
        glosses = load_pseudo_glosses(root / GLOSSES_FILE).get(record.id)
        if glosses:
            return list(glosses), "pseudo-glosses"
    words = [word.strip(".,?!;:") for word in record.text.lower().split()]
    return [word for word in words if word], "words"


@torch.no_grad()
def token_similarity(trained, root: str | Path, sample_id: str) -> SimilarityMap:
    """The similarity map of record ``sample_id`` of the dataset at ``root`` under ``trained`` (a
    :class:`~glossfree.inference.loading.TrainedModel` of a translation recipe)."""
    from glossfree.training.datamodule import build_dataset

    root = Path(root)
    record = next((r for r in dataset_records(root) if r.id == sample_id), None)
    if record is None:
        raise DataError(f"{root}: no record with id '{sample_id}'")
    model = trained.model.eval()
    dataset = build_dataset(trained.recipe.data, trained.recipe.model, [record], root, train=False)
    batch = collate_pose([dataset[0]])
    tokens = model.visual_points(batch)["tokens"]
    visual = tokens.features[0][tokens.mask[0]].float()  # [S, D]
    glosses, source = sample_glosses(root, record)
    if not glosses:
        raise DataError(f"record '{sample_id}' has an empty sentence: nothing to compare its tokens with")
    embeds, mask = model.lm.embed_texts(glosses)  # [G, L, D], [G, L]
    text = (embeds.float() * mask[..., None]).sum(dim=1) / mask.sum(dim=1, keepdim=True).clamp(min=1)
    matrix = torch.nn.functional.normalize(visual, dim=-1) @ torch.nn.functional.normalize(text, dim=-1).T
    if batch.segments is not None and getattr(model.compressor, "reads_segments", False):
        spans = batch.segments[0][batch.segment_mask[0]].tolist()
        labels = [f"{a}-{b}" for a, b in spans] if len(spans) == len(visual) else [str(i) for i in range(len(visual))]
    else:
        labels = [str(i) for i in range(len(visual))]
    return SimilarityMap(sample_id, record.text, matrix.cpu().numpy(), glosses, labels, source)


def draw_similarity(similarity: SimilarityMap, out: str | Path) -> Path:
    """Write the map as a PNG heat map (rows: visual tokens, columns: glosses); returns ``out``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows, cols = similarity.matrix.shape
    figure, ax = plt.subplots(figsize=(max(4.0, 0.5 * cols + 2.5), max(3.0, 0.35 * rows + 2.0)))
    image = ax.imshow(similarity.matrix, cmap="Blues", aspect="auto", vmin=-1.0, vmax=1.0)
    ax.set_xticks(range(cols), similarity.glosses, rotation=60, ha="right", fontsize=8)
    ax.set_yticks(range(rows), similarity.token_labels, fontsize=7)
    ax.set_xlabel(similarity.gloss_source)
    ax.set_ylabel("visual tokens (segment frames)" if "-" in "".join(similarity.token_labels) else "visual tokens")
    ax.set_title(f"{similarity.sample_id}: {similarity.text}"[:90], fontsize=9)
    figure.colorbar(image, ax=ax, label="cosine similarity")
    figure.tight_layout()
    out = Path(out)
    with atomic_path(out) as tmp:
        figure.savefig(tmp, dpi=120, format="png")
    plt.close(figure)
    return out
