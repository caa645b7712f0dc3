"""Plot learning curves from run folders: mean and min–max band across seeds, one line per core.

    python -m train.plot runs/MemoryCatch-v0_*_seed* --out curves.png
    python -m train.plot runs/* --out curves.png --metric return --group-by env_id
    python -m train.plot runs/* --out curves.png --reference oracle:1.0 memoryless:0.435

Reads each run's eval/evaluations.npz (written during training by the periodic evaluation).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from fw_agents.config import parse_key_values
from fw_agents.errors import UsageError
from fw_agents.plotting import load_curve, plot_curves
from train._cli import run_cli


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m train.plot", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
    p.add_argument("runs", nargs="+", type=Path, help="run folders")
    p.add_argument("--out", type=Path, required=True, help="PNG file")
    p.add_argument("--metric", choices=["success", "return"], default="success")
    p.add_argument("--group-by", default="core", help="config.yml key that labels the lines (default: core)")
    p.add_argument("--title")
    p.add_argument("--reference", nargs="*", default=[], metavar="LABEL:VALUE", help="horizontal reference lines")
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    references = parse_key_values(args.reference, "--reference")
    if any(not isinstance(v, (int, float)) for v in references.values()):
        raise UsageError("--reference values must be numbers, e.g. oracle:1.0")
    curves = [load_curve(run, args.metric, args.group_by) for run in args.runs]
    out = plot_curves(curves, args.out, args.metric, args.title, references)
    print(f"wrote {out} ({len(curves)} runs, groups: {', '.join(sorted({c.group for c in curves}))})")
    return 0


if __name__ == "__main__":
    sys.exit(run_cli(main))
