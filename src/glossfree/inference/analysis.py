"""What the language model makes of the visual tokens: SpaMo's visual-token analysis (paper 003,
Sec. 4.5 "Visual Token Analysis", Tables 5 and 7, Fig. 5, appendix A "Evaluating Process with KDEs").

- **Visual tokens as words** (Table 7): each visual token ``Z_sm`` (what the LM reads: the Sign
  Adapter's output, ``visual: tokens``) is mapped to the LM vocabulary entry whose input embedding
  is nearest in Euclidean distance (``dist(Z_sm, E_llm)``); a sample becomes a word sequence, with
  repeats of the same word in a row removed ("repetitive words were removed"). Special tokens
  (padding, end of sentence, unknown) are never chosen.
- **t-SNE** (Fig. 5): the tokens in 2-D, coloured by their nearest word (the most frequent words get
  a colour each, the others are grey), written as a PNG.
- **KDE entropy** (Table 5, Eq. 3-4): the tokens projected by PCA, a Gaussian KDE ``f`` (Scott's
  bandwidth) evaluated at the points themselves, ``H = -sum_i f(z_i) log f(z_i)`` as the paper writes
  it. Eq. 4 sums over the points, so it depends on their number: compare it at equal ``n`` (the
  summary records ``n``); the summary also gives ``-mean_i log f(z_i)``, the resubstitution entropy
  estimate, which does not.

The PCA, t-SNE and KDE need scikit-learn (the ``analysis`` extra: ``pip install glossfree[analysis]``).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from glossfree.errors import ConfigError, DataError
from glossfree.io import atomic_path, atomic_write_json, atomic_write_text

TOP_WORDS = 10
"""Words with a colour of their own in the t-SNE plot."""


def _sklearn():
    try:
        import sklearn  # noqa: F401
    except ImportError:
        raise ConfigError("the PCA, t-SNE and KDE of the token analysis need scikit-learn: "
                          "pip install 'glossfree[analysis]' (or pip install scikit-learn)") from None  # fmt: skip


def nearest_vocabulary(tokens: torch.Tensor, embeddings: torch.Tensor, *, exclude: Sequence[int] = ()) -> torch.Tensor:
    """Row index of the nearest ``embeddings`` row (Euclidean) for each token: ``[L, d]``, ``[V, d]`` -> ``[L]``.

    Rows in ``exclude`` (special tokens) are never chosen."""
    if tokens.ndim != 2 or embeddings.ndim != 2 or tokens.shape[1] != embeddings.shape[1]:
        raise ValueError(f"tokens {list(tokens.shape)} and embeddings {list(embeddings.shape)} must be [L, d] and [V, d]")
    distances = torch.cdist(tokens.float()[None], embeddings.float()[None])[0]  # [L, V]
    if exclude:
        distances[:, list(exclude)] = float("inf")
    return distances.argmin(dim=1)


def collapse_repeats(words: Sequence[str]) -> list[str]:
    """``a a b a`` -> ``a b a``: the repeats of one word in a row removed (paper 003, Table 7)."""
    return [word for index, word in enumerate(words) if index == 0 or word != words[index - 1]]


def kde_entropy(points: np.ndarray, *, components: int = 2) -> dict[str, float]:
    """Paper 003's KDE entropy (Eq. 3-4) of ``points`` ``[n, d]`` after PCA to ``components`` dims.

    Returns ``{"kde_entropy": -sum f log f (Eq. 4), "kde_entropy_mean_log": -mean log f, "n", "components"}``.
    """
    _sklearn()
    from sklearn.decomposition import PCA
    from sklearn.neighbors import KernelDensity

    points = np.asarray(points, dtype=np.float64)
    n = points.shape[0]
    if points.ndim != 2 or n < 3:
        raise DataError(f"the KDE needs at least 3 points [n, d], got {list(points.shape)}")
    components = min(components, points.shape[1], n - 1)
    projected = PCA(n_components=components, random_state=0).fit_transform(points)
    log_density = KernelDensity(kernel="gaussian", bandwidth="scott").fit(projected).score_samples(projected)
    density = np.exp(log_density)
    return {
        "kde_entropy": float(-(density * log_density).sum()),
        "kde_entropy_mean_log": float(-log_density.mean()),
        "n": int(n),
        "components": int(components),
    }


def plot_tsne(points: np.ndarray, words: Sequence[str], path: Path, *, seed: int = 0, title: str = "") -> Path:
    """t-SNE of ``points`` ``[n, d]`` coloured by ``words`` (the :data:`TOP_WORDS` most frequent get a
    colour each, the others grey), written to ``path`` (PNG)."""
    _sklearn()
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from sklearn.manifold import TSNE

    n = len(points)
    if n < 4:
        raise DataError(f"t-SNE needs at least 4 tokens, got {n}")
    xy = TSNE(n_components=2, perplexity=min(30.0, (n - 1) / 3), init="pca", random_state=seed).fit_transform(
        np.asarray(points, dtype=np.float32)
    )
    top = [word for word, _ in Counter(words).most_common(TOP_WORDS)]
    figure, axes = plt.subplots(figsize=(7, 6))
    others = np.array([w not in top for w in words])
    axes.scatter(xy[others, 0], xy[others, 1], s=6, c="lightgrey", label="other")
    colours = plt.get_cmap("tab10")
    for index, word in enumerate(top):
        chosen = np.array([w == word for w in words])
        axes.scatter(xy[chosen, 0], xy[chosen, 1], s=8, color=colours(index % 10), label=word)
    axes.set_xticks([])
    axes.set_yticks([])
    axes.set_title(title or "visual tokens (t-SNE), coloured by their nearest LM word")
    axes.legend(fontsize=7, markerscale=2, loc="best")
    figure.tight_layout()
    with atomic_path(path) as tmp:
        figure.savefig(tmp, format="png", dpi=120)
    plt.close(figure)
    return path


@dataclass
class TokenAnalysis:
    """Outcome of :func:`analyze_tokens`.

    Attributes:
        samples: per sample ``{"id", "reference", "tokens": [nearest entry per visual token],
            "visual_tokens": the same with repeats removed, joined by spaces}``.
        summary: counts, the KDE entropy and the files written.
    """

    samples: list[dict[str, Any]]
    summary: dict[str, Any]


def _piece_text(piece: str) -> str:
    """A sentencepiece entry as a word: the word-start mark ``▁`` dropped."""
    return piece.replace("\u2581", "").strip() or piece


def analyze_tokens(
    run: str | Path,
    data_root: str | Path,
    *,
    split: str = "test",
    out_dir: str | Path,
    max_samples: int | None = None,
    max_points: int = 2000,
    components: int = 2,
    tsne: bool = True,
    seed: int = 0,
    batch_size: int = 16,
) -> TokenAnalysis:
    """Visual-token analysis of a trained run on ``split`` (see the module docstring).

    Writes ``out_dir/visual_tokens.jsonl`` (one line per sample), ``out_dir/tsne.png`` (with ``tsne``)
    and ``out_dir/token_analysis.json`` (the summary). ``max_points`` tokens at most (drawn with
    ``seed``) enter the t-SNE and the KDE.
    """
    from torch.utils.data import DataLoader

    from glossfree.data.datasets import LengthBucketBatchSampler, collate_pose
    from glossfree.data.manifest import load_split
    from glossfree.inference.loading import load_trained
    from glossfree.training.datamodule import build_dataset

    trained = load_trained(run)
    model, lm, recipe = trained.model.eval(), trained.model.lm, trained.recipe
    records = load_split(data_root, split)[:max_samples]
    if not records:
        raise DataError(f"{data_root}: split '{split}' has no records")
    dataset = build_dataset(recipe.data, recipe.model, records, Path(data_root), train=False, skip_bad=False, seed=recipe.seed)
    sampler = LengthBucketBatchSampler(dataset.lengths, batch_size=batch_size, shuffle=False)
    embeddings = lm.model.get_input_embeddings().weight.detach().float()  # [V, d] in model ids
    exclude = sorted(i for i in _special_model_ids(lm) if 0 <= i < embeddings.shape[0])
    samples: list[dict[str, Any]] = []
    points: list[np.ndarray] = []
    point_words: list[str] = []
    with torch.inference_mode():
        for batch in DataLoader(dataset, batch_sampler=sampler, collate_fn=collate_pose):
            tokens = model.visual_points(batch)["tokens"]
            for row, sample_id in enumerate(batch.ids):
                real = tokens.features[row][tokens.mask[row]].float()  # [L, d]
                nearest = nearest_vocabulary(real, embeddings, exclude=exclude).tolist()
                pieces = lm.tokenizer.convert_ids_to_tokens([lm.full_id(i) for i in nearest])
                words = [_piece_text(p) for p in pieces]
                samples.append({"id": sample_id, "reference": batch.texts[row], "tokens": words,
                                "visual_tokens": " ".join(collapse_repeats(words))})  # fmt: skip
                points.append(real.numpy())
                point_words.extend(words)
    order = {record.id: index for index, record in enumerate(records)}
    samples.sort(key=lambda s: order[s["id"]])
    out = Path(out_dir)
    atomic_write_text(out / "visual_tokens.jsonl", "".join(_json_line(s) for s in samples))
    stacked = np.concatenate(points)
    rng = np.random.default_rng(seed)
    chosen = np.sort(rng.choice(len(stacked), size=min(max_points, len(stacked)), replace=False))
    summary: dict[str, Any] = {
        "run": str(run), "split": split, "samples": len(samples), "tokens": len(stacked),
        "distinct_words": len(set(point_words)), "most_common_words": Counter(point_words).most_common(TOP_WORDS),
        **kde_entropy(stacked[chosen], components=components),
        "files": {"tokens": str(out / "visual_tokens.jsonl")},
    }  # fmt: skip
    if tsne:
        path = plot_tsne(stacked[chosen], [point_words[i] for i in chosen], out / "tsne.png", seed=seed)
        summary["files"]["tsne"] = str(path)
    atomic_write_json(out / "token_analysis.json", summary)
    return TokenAnalysis(samples=samples, summary=summary)


def _special_model_ids(lm: Any) -> set[int]:
    """Model ids of the tokenizer's special tokens (those a trimmed vocabulary kept)."""
    from glossfree.errors import GlossfreeError

    ids = set()
    for full in lm.tokenizer.all_special_ids:
        try:
            ids.add(lm.model_id(full))
        except (GlossfreeError, KeyError, ValueError):
            continue
    return ids


def _json_line(record: dict[str, Any]) -> str:
    import json

    return json.dumps(record, ensure_ascii=False) + "\n"
