"""What each re-ranking rule of kb's retriever is worth: the suite's figures with it off.

    .venv/bin/python -m bench.ablate --part heldout --repos-dir /tmp/evalrepos
    .venv/bin/python -m bench.ablate --part tuning --repos-dir DIR --rules superseded,path

For each repository of the part this opens the kb home `bench.suite` built (under
--homes-dir; it must exist), resolves the gold sources once, and ranks every answerable
question with all rules on, then once per rule with only that rule off
(`kb.retrieval.hybrid.RULES`, the names `KB_RERANK_OFF` takes). It prints Recall@1,
Recall@5, MRR@5 and MRR@10 pooled over the part's repositories, and the change each rule
makes: a rule whose removal does not lower the held-out figures does not pay. Only pooled
figures are printed, so the held-out part can be ablated without looking at its questions.
Retrieval only (no answers): a run over a built home takes minutes.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

from bench.retrieval import EvalError, GoldResolver, first_relevant_rank, kb_system, load_questions
from bench.suite import PARTS, load_suite, repo_problem, retrieval_scores

ALL_ON = "(all rules on)"


def ablate(
    part: str, repos_dir: Path, homes_dir: Path, rules: Sequence[str], names: set[str] | None
) -> dict[str, list[int | None]]:
    """First-hit ranks of every answerable question of the part, per configuration."""
    from kb.app import KB
    from kb.settings import Settings

    ranks: dict[str, list[int | None]] = {ALL_ON: [], **{r: [] for r in rules}}
    for s in load_suite():
        if s.part != part or (names and s.name not in names):
            continue
        problem = repo_problem(s, repos_dir)
        home = homes_dir / s.name
        if problem or not home.exists():
            raise EvalError(problem or f"{home} does not exist: build it with bench.suite first")
        _, questions = load_questions(s.file)
        questions = [q for q in questions if q.answerable]
        gold = GoldResolver({s.name: (repos_dir / s.name).resolve()}).resolve_all(questions)
        app = KB(Settings(home=home))
        search = kb_system(home, [], app=app)
        retriever = app.retriever
        for config in ranks:
            retriever.off = frozenset() if config == ALL_ON else frozenset([config])
            for q in questions:
                ranks[config].append(first_relevant_rank(search(q.question, 10), gold[q.id]))
        print(f"[{s.name}] {len(questions)} questions", file=sys.stderr, flush=True)
    return ranks


def table(ranks: dict[str, list[int | None]]) -> str:
    """Markdown: the figures of every configuration and their change against all rules on."""
    base = retrieval_scores(ranks[ALL_ON])
    lines = [
        "| rule off | R@1 | R@5 | MRR@5 | MRR@10 | ΔR@1 | ΔR@5 | ΔMRR@10 | n |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for config, got in ranks.items():
        s = retrieval_scores(got)
        delta = (
            ""
            if config == ALL_ON
            else " | ".join(f"{s[m] - base[m]:+.3f}" for m in ("recall@1", "recall@5", "mrr@10"))
        )
        lines.append(
            f"| {config} | {s['recall@1']:.3f} | {s['recall@5']:.3f} | {s['mrr@5']:.3f} "
            f"| {s['mrr@10']:.3f} | {delta or ' |  | '} | {int(s['n'])} |"
        )
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    """Command line entry: print the ablation table of one part."""
    from kb.retrieval.hybrid import RULES

    parser = argparse.ArgumentParser(prog="python -m bench.ablate", description=__doc__)
    parser.add_argument("--part", choices=PARTS, required=True)
    parser.add_argument("--repos-dir", required=True)
    parser.add_argument("--repos", help="comma-separated subset of the part's repositories")
    parser.add_argument("--homes-dir", default=str(Path(tempfile.gettempdir()) / "kb-suite-homes"))
    parser.add_argument("--rules", default=",".join(RULES), help="rules to switch off in turn")
    args = parser.parse_args(argv)
    rules = [r.strip() for r in args.rules.split(",") if r.strip()]
    unknown = [r for r in rules if r not in RULES]
    if unknown:
        print(f"error: unknown rules {unknown}; known: {', '.join(RULES)}", file=sys.stderr)
        return 1
    names = {x.strip() for x in args.repos.split(",")} if args.repos else None
    try:
        ranks = ablate(args.part, Path(args.repos_dir), Path(args.homes_dir), rules, names)
    except EvalError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(table(ranks))
    return 0


if __name__ == "__main__":
    sys.exit(main())
