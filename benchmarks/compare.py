"""Two commits of our engine against each other, interleaved, huey as the yardstick.

    python -m benchmarks.compare OLD_TREE NEW_TREE [--rounds 3] [--only W1,W2]

OLD_TREE and NEW_TREE are work trees (``git worktree add ../old <commit>``), each with
its own ``.venv`` holding the ``bench`` extra (``bash benchmarks/run.sh --smoke`` in the
tree sets one up). Each round runs the suite once in each tree (``--repeats 1``, ours and
huey), the tree that goes first alternating, so the two runs of a round share the
machine's load. For every metric it prints, per tree, the median over rounds of the
per-round ratio ours/huey (or our figure alone with --no-huey), and the median of new/old
of those: a change that costs nothing shows ~1.00 whatever the load did to both.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

HIGHER_IS_BETTER = ("W1", "W1b", "W2t", "W2p", "W5")


def run_suite(
    tree: Path, only: str, out: Path, engines: str, n: int | None
) -> dict[str, dict[str, list[float]]]:
    python = tree / ".venv" / "bin" / "python"
    cmd = [str(python), "-m", "benchmarks.suite", "--repeats", "1", "--only", only]
    cmd += ["--engines", engines, "--json", str(out)] + (["-n", str(n)] if n else [])
    subprocess.run(cmd, cwd=tree, check=True, stdout=subprocess.DEVNULL)
    data: dict[str, dict[str, list[float]]] = json.loads(out.read_text())["data"]
    return data


def ratio(data: dict[str, dict[str, list[float]]], metric: str) -> float:
    """ours/huey of one run, or ours alone when huey did not run (--no-huey)."""
    ours = data[metric]["ours"][0]
    huey = data[metric].get("huey", [0.0])[0]
    return ours / huey if huey else ours


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        prog="python -m benchmarks.compare",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("old", type=Path)
    p.add_argument("new", type=Path)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--only", default="W2")
    p.add_argument("-n", type=int, help="tasks per workload (the suite's -n)")
    p.add_argument(
        "--no-huey",
        action="store_true",
        help="compare our figures directly (no huey runs: faster, more rounds)",
    )
    args = p.parse_args(argv)
    trees = {"old": args.old.resolve(), "new": args.new.resolve()}
    ratios: dict[str, dict[str, list[float]]] = {"old": {}, "new": {}}
    with tempfile.TemporaryDirectory() as tmp:
        for rnd in range(args.rounds):
            order = ("old", "new") if rnd % 2 == 0 else ("new", "old")
            for which in order:
                engines = "ours" if args.no_huey else "ours,huey"
                out = Path(tmp) / f"{which}{rnd}.json"
                data = run_suite(trees[which], args.only, out, engines, args.n)
                for metric in data:
                    if "ours" in data[metric]:
                        ratios[which].setdefault(metric, []).append(ratio(data, metric))
                print(
                    f"round {rnd + 1} {which}: "
                    + ", ".join(f"{m} {ratios[which][m][-1]:,.2f}" for m in sorted(ratios[which])),
                    file=sys.stderr,
                    flush=True,
                )
    unit = "ours" if args.no_huey else "ours/huey"
    print(f"| metric | old {unit} | new {unit} | new/old (median of rounds) |")
    print("|---|---|---|---|")
    for metric in sorted(ratios["new"]):
        old, new = ratios["old"].get(metric, []), ratios["new"][metric]
        pairs = [
            n / o if metric in HIGHER_IS_BETTER else o / n for o, n in zip(old, new, strict=False)
        ]
        print(
            f"| {metric} | {statistics.median(old):.2f} ({min(old):.2f}–{max(old):.2f}) "
            f"| {statistics.median(new):.2f} ({min(new):.2f}–{max(new):.2f}) "
            f"| {statistics.median(pairs):.3f} ({min(pairs):.3f}–{max(pairs):.3f}) |"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
