"""Pseudo-gloss extraction throughput on the 7,096 PHOENIX14T training sentences.

Runs :func:`glossfree.text.pseudo_gloss.extract_pseudo_glosses` with the built-in HanTa German
tagger over the real training texts (``shared/data/phoenix14t/train.jsonl``, found beside the
checkout or under ``$GLOSSFREE_SHARED``) and prints sentences per second:

- the first pass in a fresh process (HanTa's per-word analysis cache empty), model load excluded;
- the median of ``--repeats`` further passes (cache warm, as when a dataset is re-annotated);
- the model load time. Wall time and process CPU time are both printed: on a shared machine the
  CPU time (HanTa is single-threaded) is the steadier figure.

    .venv/bin/python benchmarks/bench_pseudo_gloss.py [--repeats 3] [--limit N] [--json FILE]

Nothing is asserted: the machine is shared, figures are reported.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from pathlib import Path

from _util import machine, machine_line, write_json

from glossfree.text.pseudo_gloss import extract_pseudo_glosses
from glossfree.text.taggers import HanTaTagger


def default_phoenix() -> Path:
    shared = os.environ.get("GLOSSFREE_SHARED")
    root = Path(shared) if shared else Path(__file__).resolve().parents[2] / "shared"
    return root / "data" / "phoenix14t"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--phoenix", type=Path, default=default_phoenix(), help="folder with train.jsonl")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--limit", type=int, default=None, help="use only the first N sentences")
    parser.add_argument("--json", type=Path, default=None, help="also write the figures here")
    args = parser.parse_args()
    path = args.phoenix / "train.jsonl"
    if not path.is_file():
        parser.error(f"{path}: not found (pass --phoenix or set GLOSSFREE_SHARED)")
    texts = [json.loads(line)["text"] for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    texts = texts[: args.limit]

    start = time.perf_counter()
    tagger = HanTaTagger("de")
    load_s = time.perf_counter() - start

    start, cpu = time.perf_counter(), time.process_time()
    glosses = extract_pseudo_glosses(texts, tagger=tagger)
    first_s, first_cpu = time.perf_counter() - start, time.process_time() - cpu
    warm, warm_cpu = [], []
    for _ in range(args.repeats):
        start, cpu = time.perf_counter(), time.process_time()
        extract_pseudo_glosses(texts, tagger=tagger)
        warm.append(time.perf_counter() - start)
        warm_cpu.append(time.process_time() - cpu)

    info = machine()
    tokens = sum(len(g) for g in glosses)
    results = {
        "benchmark": "pseudo_gloss",
        "sentences": len(texts),
        "unique_sentences": len(set(texts)),
        "pseudo_gloss_tokens": tokens,
        "tagger": tagger.name,
        "model_load_s": load_s,
        "first_pass_s": first_s,
        "first_pass_sentences_per_s": len(texts) / first_s,
        "first_pass_cpu_s": first_cpu,
        "warm_median_s": statistics.median(warm) if warm else None,
        "warm_sentences_per_s": len(texts) / statistics.median(warm) if warm else None,
        "warm_median_cpu_s": statistics.median(warm_cpu) if warm_cpu else None,
        "machine": info,
    }
    print(machine_line(info))
    print(f"data: {path} ({len(texts)} sentences, {len(set(texts))} unique; {tokens} pseudo-glosses)")
    print(f"tagger: {tagger.name}; model load {load_s:.2f} s")
    print(
        f"first pass (fresh process):     {results['first_pass_sentences_per_s']:8.1f} sentences/s "
        f"(wall {first_s:.1f} s, process CPU {first_cpu:.1f} s)"
    )
    if warm:
        print(
            f"repeat passes (median of {len(warm)}): {results['warm_sentences_per_s']:8.1f} sentences/s "
            f"(wall {results['warm_median_s']:.1f} s, process CPU {results['warm_median_cpu_s']:.1f} s)"
        )
    if args.json:
        write_json(args.json, results)


if __name__ == "__main__":
    main()
