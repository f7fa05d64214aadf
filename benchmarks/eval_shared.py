"""Evaluate the swap on the shared videos (eval/pairs_shared.csv) and print the README table.

    python benchmarks/eval_shared.py                      # classic, 8 frames per pair
    python benchmarks/eval_shared.py --frames 32 --method both --resume

The pair list uses only identities held out from training (eval/heldout_identities.txt). The
swapped videos (research data, watermark off) stay in --out, outside the repository. The
figures are deterministic for fixed inputs and seed, except the swap fps, which depends on the
machine's load: report them with the machine and whether it was shared.
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
    args = parser.parse_args()
    if not SHARED_FACES.is_dir():
        print(f"shared face data not found at {SHARED_FACES} (set OPENFSGAN_SHARED_FACES)",
              file=sys.stderr)
        return 2

    from openfsgan.cli.main import main as openfsgan
    from openfsgan.metrics.report import markdown_pairs_table, markdown_summary_table

    report_path = args.out / f"eval_shared_{args.method}_{args.frames}f.json"
    code = openfsgan(["-q", "eval", "--pairs", str(REPO / "eval" / "pairs_shared.csv"),
                      "--data-root", str(SHARED_FACES), "-o", str(report_path),
                      "--method", args.method, "--frames", str(args.frames),
                      "--seed", str(args.seed), "--overwrite",
                      *(["--resume"] if args.resume else [])])
    if not report_path.exists():
        return code or 1
    report = json.loads(report_path.read_text())
    ok = sum(p["status"] == "ok" for p in report["pairs"])
    print(f"\nopenfsgan eval on eval/pairs_shared.csv: {len(report['pairs'])} pair runs, {ok} "
          f"scored, {args.frames} frames each, seed {args.seed}, watermark off "
          f"({report['timing']['wall_s']:.0f} s wall)\n")
    print(markdown_summary_table(report["summary"]))
    if args.pairs_table:
        print()
        print(markdown_pairs_table(report["pairs"]))
    for note in report["notes"]:
        print(f"\n- {note}")
    print(f"\nreport: {report_path}")
    return code


if __name__ == "__main__":
    raise SystemExit(main())
