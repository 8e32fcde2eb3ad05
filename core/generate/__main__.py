"""`python -m core.generate [--seed N] [--assets DIR]` regenerates the bundled assets."""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from core.generate import DEFAULT_SEED, build_all


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m core.generate", description=__doc__)
    ap.add_argument("--seed", type=int, default=DEFAULT_SEED)
    ap.add_argument("--assets", type=Path, default=Path(__file__).resolve().parents[2] / "assets")
    args = ap.parse_args(argv)
    t0 = time.perf_counter()
    manifest = build_all(args.assets, seed=args.seed)
    for rel, info in manifest["files"].items():
        print(f"{info['count']:>6}  {rel}")
    print(f"seed {args.seed}, {time.perf_counter() - t0:.1f}s -> {args.assets}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
