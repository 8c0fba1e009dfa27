"""``glossfree demo`` end to end: wall time per phase and test quality next to the two baselines.

Runs :func:`glossfree.demo.run_demo` (the code behind ``glossfree demo``) from scratch in a
temporary folder (or ``--out``), then prints

- wall time of each phase (synthesise, train, evaluate, translate), the import time and the total,
  against the goal of at most 5 minutes after install;
- test-split BLEU-4 / ROUGE-L / chrF of the tiny pose recipe next to the two baselines measured on
  the same split in the same run (most frequent training sentence; same model fed another
  sample's poses), with the margins, against the goal BLEU-4 >= 30.

    .venv/bin/python benchmarks/bench_demo.py [--out DIR] [--seed 0] [--show-demo] [--json FILE]

Nothing is asserted: the machine is shared, figures are reported.
"""

from __future__ import annotations

import time

_T0 = time.perf_counter()

import argparse  # noqa: E402
import tempfile  # noqa: E402
from pathlib import Path  # noqa: E402

from _util import CpuMeter, cpu_line, goal, machine, machine_line, write_json  # noqa: E402

GOAL_TOTAL_S = 300.0
GOAL_BLEU4 = 30.0


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=None,
                        help="demo folder (kept; default: a temporary folder, deleted afterwards)")  # fmt: skip
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--show-demo", action="store_true", help="print the demo's own output")
    parser.add_argument("--json", type=Path, default=None, help="also write the results here")
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default torch's; 1 on a shared machine)")
    return parser.parse_args()


def run(out: Path, *, seed: int, show: bool) -> dict:
    from rich.console import Console

    from glossfree.demo import run_demo

    import_s = time.perf_counter() - _T0  # interpreter start-up excluded, imports included
    with CpuMeter() as meter:
        result = run_demo(out, seed=seed, fresh=True, progress=False, console=Console(quiet=not show))
    demo_s = meter.wall_s
    systems = {
        "tiny pose recipe": result.scores,
        "baseline: most frequent sentence": result.most_frequent,
        "baseline: shuffled inputs": result.shuffled,
    }
    return {
        "phases_s": dict(result.timings_s),
        "import_s": import_s,
        "demo_s": demo_s,
        "cpu": meter.result(),
        "total_s": import_s + demo_s,
        "scores": {name: s.as_dict() for name, s in systems.items()},
        "translation": result.translation,
    }


def report(res: dict) -> None:
    print(machine_line(res["machine"]))
    print("\nwall time per phase")
    for name, seconds in res["phases_s"].items():
        print(f"  {name:<10} {seconds:8.1f} s  ({seconds / res['demo_s']:6.1%} of the demo)")
    print(f"  {'import':<10} {res['import_s']:8.1f} s")
    print(f"  {'total':<10} {res['total_s']:8.1f} s  goal <= {GOAL_TOTAL_S:.0f} s: "
          f"{goal(res['total_s'], GOAL_TOTAL_S, at_most=True)}")  # fmt: skip
    print(f"  {cpu_line(res['cpu'])}")

    scores = res["scores"]
    print(f"\ntest split ({next(iter(scores.values()))['num_sentences']} sentences, "
          f"preset {next(iter(scores.values()))['preset']}, beam search)")  # fmt: skip
    print(f"  {'system':<34} {'BLEU-4':>7} {'ROUGE-L':>8} {'chrF':>7}")
    for name, s in scores.items():
        print(f"  {name:<34} {s['bleu4']:7.2f} {s['rouge_l']:8.2f} {s['chrf']:7.2f}")
    model = scores["tiny pose recipe"]
    for name, s in list(scores.items())[1:]:
        print(f"  margin over {name[len('baseline: '):]:<22} BLEU-4 {model['bleu4'] - s['bleu4']:+7.2f}, "
              f"ROUGE-L {model['rouge_l'] - s['rouge_l']:+7.2f}")  # fmt: skip
    print(f"  BLEU-4 goal >= {GOAL_BLEU4:.0f}: {goal(model['bleu4'], GOAL_BLEU4, at_most=False)}")
    print(f"\nsample translation: {res['translation']!r}")


def main() -> None:
    args = parse_args()
    from glossfree.threads import set_threads

    set_threads(args.threads)
    if args.out is not None:
        res = run(args.out, seed=args.seed, show=args.show_demo)
    else:
        with tempfile.TemporaryDirectory(prefix="glossfree-bench-demo-") as tmp:
            res = run(Path(tmp) / "demo_run", seed=args.seed, show=args.show_demo)
    res = {"benchmark": "demo", "machine": machine(), "seed": args.seed,
           "goals": {"total_s_at_most": GOAL_TOTAL_S, "bleu4_at_least": GOAL_BLEU4}, **res}  # fmt: skip
    report(res)
    if args.json is not None:
        write_json(args.json, res)


if __name__ == "__main__":
    main()
