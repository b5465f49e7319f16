"""Check a question set against the repository it is about, checked out at its pinned head.

    .venv/bin/python -m bench.eval_check REPO_PATH bench/eval/SET.json

Reports (and exits 1 on) any of: a schema problem; a repository whose HEAD is not the set's
`head`; a gold source that does not resolve at HEAD (a missing path, a commit subject prefix
matching no commit or several); an answerable question without 2-4 key facts; a question or a
key fact sharing a run of six words (case-insensitive, [a-z0-9]+ tokens) with one of its gold
sources. Prints a one-line summary per category when all is well.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bench.keyfacts import COPY_RUN, gold_text, shared_runs
from bench.retrieval import EvalError, GoldResolver, Question, load_questions

MIN_KEY_FACTS = 2
MAX_KEY_FACTS = 4


def key_fact_errors(q: dict[str, Any]) -> list[str]:
    """Problems of a question's key facts: 2-4 for answerable questions, none otherwise."""
    facts = q.get("key_facts")
    if not q.get("gold"):
        return [] if not facts else [f"{q['id']}: an unanswerable question has no key facts"]
    if not isinstance(facts, list) or not MIN_KEY_FACTS <= len(facts) <= MAX_KEY_FACTS:
        return [f"{q['id']}: needs {MIN_KEY_FACTS}-{MAX_KEY_FACTS} key facts"]
    return []


def copy_errors(q: dict[str, Any], sources: Sequence[str], n: int = COPY_RUN) -> list[str]:
    """Runs of n words the question or a key fact shares with any of its gold source texts."""
    errors: list[str] = []
    texts = [("question", q["question"])]
    texts += [(f"key fact {i + 1}", f) for i, f in enumerate(q.get("key_facts") or [])]
    for label, text in texts:
        for source in sources:
            for run in shared_runs(text, source, n):
                errors.append(f"{q['id']}: {label} copies {run!r}")
    return errors


def head_of(repo: Path) -> str:
    """The commit checked out in a repository."""
    return subprocess.run(
        ["git", "-C", str(repo), "rev-parse", "HEAD"], check=True, capture_output=True, text=True
    ).stdout.strip()


def check(repo: Path, questions_file: Path) -> tuple[list[str], list[Question]]:
    """Every problem of a question set against its repository, and its questions."""
    try:
        meta, questions = load_questions(questions_file)
    except EvalError as exc:
        return [str(exc)], []
    raw = {q["id"]: q for q in json.loads(questions_file.read_text())["questions"]}
    errors: list[str] = []
    head = head_of(repo)
    if meta.get("head") and head != meta["head"]:
        errors.append(f"{repo} is at {head}, the set is pinned to {meta['head']}")
    name = meta.get("repo") or repo.name
    resolver = GoldResolver({name: repo})
    for q in questions:
        errors += key_fact_errors(raw[q.id])
        sources: list[str] = []
        for item in q.gold:
            try:
                gold = resolver.resolve(item)
            except EvalError as exc:
                errors.append(f"{q.id}: {exc}")
                continue
            sources.append(gold_text(repo, item, gold.commit))
        errors += copy_errors(raw[q.id], sources)
    return errors, questions


def main(argv: Sequence[str] | None = None) -> int:
    """Command line entry: print the problems of a question set, exit 1 when there are any."""
    parser = argparse.ArgumentParser(prog="python -m bench.eval_check", description=__doc__)
    parser.add_argument("repo", type=Path, help="the repository, checked out at the set's head")
    parser.add_argument("questions", type=Path, help="the question set (JSON)")
    args = parser.parse_args(argv)
    errors, questions = check(args.repo.resolve(), args.questions)
    for error in errors:
        print(error)
    if errors:
        print(f"{len(errors)} problem(s) in {args.questions}", file=sys.stderr)
        return 1
    by_category = Counter(q.category for q in questions)
    summary = ", ".join(f"{c} {n}" for c, n in sorted(by_category.items()))
    answerable = sum(1 for q in questions if q.answerable)
    print(f"{args.questions}: OK, {len(questions)} questions ({answerable} with gold): {summary}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
