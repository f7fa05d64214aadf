"""Evaluate the swap on the shared videos (eval/pairs_shared.csv) and print the README table.

    python benchmarks/eval_shared.py                      # classic, 8 frames per pair
    python benchmarks/eval_shared.py --frames 24 --method both --resume
    python benchmarks/eval_shared.py --method neural --finetune 200  # G_r tuned on each source

The pair list uses only identities held out from training (eval/heldout_identities.txt): 12
identity swaps, 5 swaps onto the same person, 4 reenactments driven by another person and 3
self-reenactments. ID retrieval is also scored with distractors: up to --max-distractors
photos of the 300-W set in the shared data, each its own identity. The swapped videos
(research data, watermark off) stay in --out, outside the repository. The figures are
deterministic for fixed inputs and seed, except the swap fps, which depends on the machine's
load: report them with the machine and whether it was shared. With --method both the script
also prints the README's side-by-side tables (classic / neural in each cell). With --finetune
N the neural rows fine-tune G_r on each source first (each source once, cached by its content
under $OPENFSGAN_CACHE_DIR/finetune); the script prints each source's fine-tuning time.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SHARED_FACES = Path(os.environ.get("OPENFSGAN_SHARED_FACES",
                                   REPO.parent / "shared" / "data" / "faces"))


# The README's columns: identity as a margin and against distractors, the two expression
# errors side by side, absolute pose and pose change, and self-reenactment fidelity.
SIDE_BY_SIDE = ("id_gain", "id_retrieval", "id_retrieval_distractors", "pose_error_deg",
                "pose_change_error_deg", "expression_error_pct", "expression_invariant_pct",
                "l1", "psnr", "keypoint_error_pct")


PAIR_KINDS = ("cross", "self", "reenact-cross", "reenact-self")
"""The values of :attr:`~openfsgan.evaluation.pairs.EvalPair.kind` that ``--kind`` selects."""


def pairs_of_kinds(path: Path, kinds: set[str]) -> str:
    """The pair list's header and its pairs of those kinds, as CSV text; comments are left
    out."""
    import csv
    import io

    from openfsgan.evaluation.pairs import load_pairs

    chosen = {pair.pair_id for pair in load_pairs(path, SHARED_FACES) if pair.kind in kinds}
    rows = [line for line in path.read_text(encoding="utf-8").splitlines()
            if line and not line.startswith("#")]
    reader = csv.DictReader(io.StringIO("\n".join(rows)))
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=reader.fieldnames or [], lineterminator="\n")
    writer.writeheader()
    writer.writerows(row for row in reader if row["pair_id"] in chosen)
    return out.getvalue()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--frames", type=int, default=8, help="target frames per pair")
    parser.add_argument("--method", choices=("classic", "neural", "both"), default="classic")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path,
                        default=Path(tempfile.gettempdir()) / "openfsgan-eval-shared",
                        help="folder of the report and the work files (outside the repo)")
    parser.add_argument("--resume", action="store_true", help="reuse finished pairs")
    parser.add_argument("--pairs-table", action="store_true", help="also print per-pair rows")
    parser.add_argument("--identity-strength", type=float,
                        help="the swaps' share of the source's face shape, 0..1 (default: "
                             "the configuration's)")
    parser.add_argument("--finetune", type=int, metavar="N",
                        help="fine-tune G_r on each source for N steps first (neural rows)")
    parser.add_argument("--config", type=Path, metavar="YAML",
                        help="swap configuration for every method (as `openfsgan eval "
                             "--config`), e.g. a file with `appearance: {relight_sigma: 0}`")
    parser.add_argument("--kind", default="all",
                        help="all, or comma-separated pair kinds among "
                             f"{', '.join(PAIR_KINDS)} (cross: only the 12 identity swaps, a "
                             "quicker sweep of settings)")
    parser.add_argument("--max-distractors", type=int, default=300,
                        help="distractor photos from 300W-Spinkoo (default 300)")
    args = parser.parse_args()
    kinds = set(PAIR_KINDS) if args.kind == "all" else set(args.kind.split(","))
    if not kinds <= set(PAIR_KINDS):
        parser.error(f"--kind: unknown {sorted(kinds - set(PAIR_KINDS))}; valid: all, "
                     f"{', '.join(PAIR_KINDS)}")
    if not SHARED_FACES.is_dir():
        print(f"shared face data not found at {SHARED_FACES} (set OPENFSGAN_SHARED_FACES)",
              file=sys.stderr)
        return 2

    from openfsgan.cli.main import main as openfsgan
    from openfsgan.metrics.report import (
        markdown_finetune_table,
        markdown_pairs_table,
        markdown_side_by_side,
        markdown_summary_table,
    )

    strength = "" if args.identity_strength is None else f"_s{args.identity_strength:g}"
    tuned = "" if args.finetune is None else f"_ft{args.finetune}"
    configured = "" if args.config is None else f"_{args.config.stem}"
    kind = "" if kinds == set(PAIR_KINDS) else "_" + "+".join(sorted(kinds))
    report_path = (args.out / f"eval_shared_{args.method}_{args.frames}f{strength}{configured}"
                   f"{tuned}{kind}.json")
    pairs = REPO / "eval" / "pairs_shared.csv"
    if kind:
        pairs = args.out / f"pairs_shared{kind}.csv"
        args.out.mkdir(parents=True, exist_ok=True)
        pairs.write_text(pairs_of_kinds(REPO / "eval" / "pairs_shared.csv", kinds),
                         encoding="utf-8")
    code = openfsgan(["-q", "eval", "--pairs", str(pairs),
                      "--data-root", str(SHARED_FACES), "-o", str(report_path),
                      "--method", args.method, "--frames", str(args.frames),
                      "--seed", str(args.seed), "--overwrite",
                      "--distractors", str(SHARED_FACES / "300W-Spinkoo"),
                      "--max-distractors", str(args.max_distractors),
                      *([] if args.identity_strength is None
                        else ["--identity-strength", str(args.identity_strength)]),
                      *([] if args.config is None else ["--config", str(args.config)]),
                      *([] if args.finetune is None else ["--finetune", str(args.finetune)]),
                      *(["--resume"] if args.resume else [])])
    if not report_path.exists():
        return code or 1
    report = json.loads(report_path.read_text())
    ok = sum(p["status"] == "ok" for p in report["pairs"])
    print(f"\nopenfsgan eval on eval/pairs_shared.csv: {len(report['pairs'])} pair runs, {ok} "
          f"scored, {args.frames} frames each, seed {args.seed}, watermark off "
          f"({report['timing']['wall_s']:.0f} s wall)\n")
    print(markdown_summary_table(report["summary"]))
    methods = report["protocol"]["methods"]
    print(f"\n## Identity, motion and expression ({' / '.join(methods)})\n")
    print(markdown_side_by_side(report["summary"], report["pairs"], SIDE_BY_SIDE, methods))
    if report.get("finetune"):
        finetune = report["finetune"]
        print(f"\n## G_r fine-tuned on each source ({', '.join(map(str, finetune['steps']))} "
              "steps)\n")
        print(markdown_finetune_table(finetune))
    if args.pairs_table:
        print()
        print(markdown_pairs_table(report["pairs"]))
    for note in report["notes"]:
        print(f"\n- {note}")
    print(f"\nreport: {report_path}")
    return code


if __name__ == "__main__":
    raise SystemExit(main())
