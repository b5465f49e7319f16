"""python -m seed OUT_DIR [--seed N]: write the demo organisation and print a summary."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from seed import generate_demo_org


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(prog="python -m seed", description=__doc__)
    parser.add_argument("out_dir", type=Path, help="new or empty directory to write into")
    parser.add_argument("--seed", type=int, default=42, help="RNG seed (default 42)")
    args = parser.parse_args(argv)
    try:
        org = generate_demo_org(args.out_dir, seed=args.seed)
    except FileExistsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    for name, repo in org.repos.items():
        print(f"{name:22} {repo['commit_count']:5d} commits  head {repo['head'][:12]}")
    print(f"slack export: {org.slack_export_dir}  manifest: {org.manifest_path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
