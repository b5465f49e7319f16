"""The repository suite: kb and the three baselines over every repository of one part.

    .venv/bin/python -m bench.suite --part tuning --repos-dir /tmp/evalrepos
    .venv/bin/python -m bench.suite --part heldout --repos-dir /tmp/evalrepos --json
    .venv/bin/python -m bench.suite --part tuning --repos-dir DIR --kb-env KB_SOME_RULE=off

bench/eval/suite.json lists the question sets and the part each belongs to: `tuning` (look at
it question by question while improving retrieval) or `heldout` (only ever reported as
aggregate and per-repository figures; `--show-heldout-questions` must be passed to see more).
The repositories are not cloned here: the user puts each one, checked out at the set's pinned
`head`, under --repos-dir; missing ones are listed with the exact commands that fetch them.

Per repository this builds (once) a kb home with the kb CLI, the baselines' corpus and chunk
embeddings (cached by content hash), and reports Recall@1, Recall@5, MRR@5 and MRR@10 of every
system, then asks kb itself (`KB.ask`) every question: key-fact coverage of its answer against
that of a question-focused extract of the gold source, and how often it says "I don't know".
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.baselines import Baselines, build_corpus
from bench.keyfacts import (
    ANSWER_CHARS,
    COVERAGE_THRESHOLD,
    EXTRACT_CHARS,
    Coverage,
    answer_head,
    gold_text,
)
from bench.retrieval import (
    BASELINE_ORDER,
    CATEGORIES,
    EVAL_DIR,
    KB_SYSTEM,
    EvalError,
    GoldResolver,
    Question,
    Report,
    _embedder,
    build_kb_home,
    evaluate,
    kb_system,
    load_questions,
    recall_at,
)

SUITE_FILE = EVAL_DIR / "suite.json"
PARTS = ("tuning", "heldout")
SYSTEMS = (*BASELINE_ORDER, KB_SYSTEM)
MRR_CUTOFFS = (5, 10)


# --- the suite file ------------------------------------------------------------------------------


@dataclass(frozen=True)
class SuiteSet:
    """One question set of the suite: its file, part and the repository it is pinned to."""

    file: Path
    part: str
    name: str
    repository: str
    url: str
    head: str
    language: str


def suite_errors(data: Any) -> list[str]:
    """Problems of a parsed suite.json: unknown parts, missing files, a set listed twice."""
    if not isinstance(data, dict) or not isinstance(data.get("sets"), list):
        return ["top level: expected an object with a 'sets' list"]
    errors: list[str] = []
    seen: set[str] = set()
    for n, entry in enumerate(data["sets"]):
        if not isinstance(entry, dict) or not isinstance(entry.get("file"), str):
            errors.append(f"set #{n}: expected an object with a 'file'")
            continue
        if entry["file"] in seen:
            errors.append(f"{entry['file']}: listed more than once")
        seen.add(entry["file"])
        if entry.get("part") not in PARTS:
            errors.append(f"{entry['file']}: part must be one of {', '.join(PARTS)}")
    return errors


def load_suite(path: Path = SUITE_FILE) -> list[SuiteSet]:
    """Every set of the suite with its repository metadata; raises EvalError when malformed."""
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise EvalError(f"cannot read suite file {path}: {exc}") from exc
    errors = suite_errors(data)
    if errors:
        raise EvalError(f"{path}: " + "; ".join(errors))
    sets = []
    for entry in data["sets"]:
        file = path.parent / entry["file"]
        try:
            meta = json.loads(file.read_text())
        except (OSError, ValueError) as exc:
            raise EvalError(f"cannot read question set {file}: {exc}") from exc
        missing = [k for k in ("repo", "repository", "url", "head") if not meta.get(k)]
        if missing:
            raise EvalError(f"{file}: missing {', '.join(missing)}")
        sets.append(
            SuiteSet(
                file=file,
                part=entry["part"],
                name=meta["repo"],
                repository=meta["repository"],
                url=meta["url"],
                head=meta["head"],
                language=meta.get("language", ""),
            )
        )
    return sets


def clone_commands(s: SuiteSet, repos_dir: Path) -> list[str]:
    """The commands that put a set's repository, at its pinned head, under repos_dir."""
    target = repos_dir / s.name
    return [f"git clone {s.url} {target}", f"git -C {target} checkout {s.head}"]


def repo_problem(s: SuiteSet, repos_dir: Path) -> str | None:
    """Why the repository of a set is not usable as it is (None when it is)."""
    target = repos_dir / s.name
    if not (target / ".git").exists():
        return f"{target} is not a git checkout"
    done = subprocess.run(
        ["git", "-C", str(target), "rev-parse", "HEAD"], capture_output=True, text=True
    )
    head = done.stdout.strip()
    if done.returncode != 0 or head != s.head:
        return f"{target} is at {head or '?'}, the set is pinned to {s.head}"
    return None


def parse_env(pairs: Sequence[str]) -> dict[str, str]:
    """--kb-env VAR=VALUE pairs as a dict; raises EvalError on a malformed pair."""
    out: dict[str, str] = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name or not name.replace("_", "").isalnum():
            raise EvalError(f"--kb-env expects VAR=VALUE, got {pair!r}")
        out[name] = value
    return out


# --- scoring ----------------------------------------------------------------------------------


def mrr_at(ranks: Sequence[int | None], cutoff: int) -> float:
    """Mean reciprocal rank counting only first hits at rank <= cutoff (0 otherwise)."""
    if not ranks:
        return 0.0
    return sum(1.0 / r for r in ranks if r is not None and r <= cutoff) / len(ranks)


def retrieval_scores(ranks: Sequence[int | None]) -> dict[str, float]:
    """Recall@1, Recall@5, MRR@5, MRR@10 and n of a list of first-hit ranks."""
    out: dict[str, float] = {"recall@1": recall_at(ranks, 1), "recall@5": recall_at(ranks, 5)}
    out.update({f"mrr@{k}": mrr_at(ranks, k) for k in MRR_CUTOFFS})
    out["n"] = len(ranks)
    return out


@dataclass
class AnswerOutcome:
    """What kb's answer to one question was worth."""

    answered: bool
    coverage: float | None  # share of key facts conveyed by the answer's head
    reference: float | None  # the same for the best question-focused extract of a gold source
    seconds: float = 0.0


def answer_scores(
    questions: Sequence[Question], outcomes: dict[str, AnswerOutcome]
) -> dict[str, float | int | None]:
    """Key-fact coverage (mean per question) and "I don't know" honesty of kb's answers."""
    scored = [
        outcomes[q.id] for q in questions if q.answerable and q.key_facts and q.id in outcomes
    ]
    unanswerable = [outcomes[q.id] for q in questions if not q.answerable and q.id in outcomes]
    answerable = [outcomes[q.id] for q in questions if q.answerable and q.id in outcomes]

    def mean(values: Sequence[float | None]) -> float | None:
        kept = [v for v in values if v is not None]
        return sum(kept) / len(kept) if kept else None

    def share_idk(runs: Sequence[AnswerOutcome]) -> float | None:
        return sum(1 for o in runs if not o.answered) / len(runs) if runs else None

    return {
        "coverage": mean([o.coverage for o in scored]),
        "reference_coverage": mean([o.reference for o in scored]),
        "n_key_facts": len(scored),
        "idk_unanswerable": share_idk(unanswerable),
        "n_unanswerable": len(unanswerable),
        "idk_answerable": share_idk(answerable),
        "n_answerable": len(answerable),
    }


@dataclass
class RepoResult:
    """Everything measured on one repository."""

    suite_set: SuiteSet
    report: Report
    answers: dict[str, AnswerOutcome] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)

    def ranks(self, system: str) -> list[int | None]:
        """First-hit ranks of a system over the answerable questions."""
        return [self.report.outcomes[system][q.id].rank for q in self.report.answerable()]

    def scores(self, system: str) -> dict[str, float]:
        """Retrieval scores of one system on this repository."""
        return retrieval_scores(self.ranks(system))

    def answer_summary(self) -> dict[str, float | int | None]:
        """Answer coverage and honesty on this repository."""
        return answer_scores(self.report.questions, self.answers)


# --- running one repository -----------------------------------------------------------------------


def _log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def answer_all(
    ask: Callable[[str], tuple[str, bool]],
    questions: Sequence[Question],
    gold_texts: dict[str, list[str]],
    coverage: Coverage,
) -> dict[str, AnswerOutcome]:
    """Ask kb every question; score the answer's key facts against the gold extract's."""
    out: dict[str, AnswerOutcome] = {}
    for n, q in enumerate(questions, start=1):
        start = time.perf_counter()
        text, answered = ask(q.question)
        took = time.perf_counter() - start
        got = ref = None
        if q.answerable and q.key_facts:
            got = coverage.of_text(q.key_facts, answer_head(text, ANSWER_CHARS))
            ref = max(
                coverage.of_text(q.key_facts, coverage.extract(q.question, t, EXTRACT_CHARS))
                for t in gold_texts[q.id]
            )
        out[q.id] = AnswerOutcome(answered, got, ref, took)
        if n % 25 == 0:
            _log(f"    asked {n}/{len(questions)}")
    return out


BUILD_ENV = ".bench-kb-env.json"


def note_build_env(home: Path, env: dict[str, str]) -> None:
    """Remember the --kb-env a home was built with; warn when a reused home differs."""
    path = home / BUILD_ENV
    if not path.exists():
        path.write_text(json.dumps(env, sort_keys=True) + "\n")
        return
    built = json.loads(path.read_text())
    if built != env:
        _log(
            f"warning: {home} was built with --kb-env {built or '{}'}, this run uses "
            f"{env or '{}'}; switches read at ingest time need a fresh --homes-dir"
        )


def run_repo(
    s: SuiteSet, args: argparse.Namespace, embedder: Any, env: dict[str, str]
) -> RepoResult:
    """Resolve gold, build the corpora and kb home of one repository, run every system."""
    repo = (Path(args.repos_dir) / s.name).resolve()
    _, questions = load_questions(s.file)
    repos = {s.name: repo}
    resolver = GoldResolver(repos)
    gold = resolver.resolve_all(questions)
    wanted = [x for x in args.systems if x in SYSTEMS]
    seconds: dict[str, float] = {}

    start = time.perf_counter()
    _log(f"[{s.name}] reading the raw sources")
    docs = build_corpus(repos)
    baseline_names = [b for b in BASELINE_ORDER if b in wanted]
    vectors = any(b != "BM25 only" for b in baseline_names)
    baselines = Baselines(
        docs, embedder if vectors else None, Path(args.cache) if args.cache else None, progress=True
    )
    seconds["baselines"] = time.perf_counter() - start
    corpus: dict[str, int] = {}
    for d in docs:
        corpus[f"{d.source.kind} documents"] = corpus.get(f"{d.source.kind} documents", 0) + 1
    corpus["chunks"] = len(baselines.chunks)

    report = Report(f"{s.repository} ({s.part})", questions, gold, corpus, wanted)
    systems = {n: f for n, f in baselines.systems().items() if n in baseline_names}
    result = RepoResult(s, report, seconds=seconds)
    app = None
    if KB_SYSTEM in wanted:
        from kb.app import KB
        from kb.settings import Settings

        home = (Path(args.homes_dir) / s.name).resolve()
        start = time.perf_counter()
        build_kb_home(home, repos, None, [])
        seconds["kb build"] = time.perf_counter() - start
        note_build_env(home, env)
        app = KB(Settings(home=home))
        systems[KB_SYSTEM] = kb_system(home, [], app=app)
    start = time.perf_counter()
    evaluate(report, systems, k=args.k)
    seconds["retrieval"] = time.perf_counter() - start

    if app is not None and not args.skip_answers:
        _log(f"[{s.name}] asking kb for answers")
        texts = {
            q.id: [
                gold_text(repo, item, g.commit) for item, g in zip(q.gold, gold[q.id], strict=True)
            ]
            for q in questions
            if q.answerable
        }

        def ask(question: str) -> tuple[str, bool]:
            # The text and the `answered` flag of `kb ask --json`, read off the Answer itself.
            answer = app.ask(question, record=False)
            return str(answer.answer), bool(answer.answered)

        start = time.perf_counter()
        result.answers = answer_all(ask, questions, texts, Coverage(embedder.embed))
        seconds["answers"] = time.perf_counter() - start
    return result


# --- reporting --------------------------------------------------------------------------------


def _fmt(value: float | int | None, digits: int = 2) -> str:
    if value is None:
        return "-"
    if isinstance(value, int):
        return str(value)
    return f"{value:.{digits}f}"


def pooled(results: Sequence[RepoResult], system: str) -> dict[str, float]:
    """Retrieval scores of a system over the questions of every repository, pooled."""
    ranks: list[int | None] = []
    for r in results:
        if system in r.report.outcomes:
            ranks += r.ranks(system)
    return retrieval_scores(ranks)


def pooled_answers(results: Sequence[RepoResult]) -> dict[str, float | int | None]:
    """Answer coverage and honesty over the questions of every repository, pooled."""
    # Question ids are unique within a set only, so they are prefixed with the repository.
    outcomes = {f"{r.suite_set.name}/{k}": v for r in results for k, v in r.answers.items()}
    renamed = [
        Question(f"{r.suite_set.name}/{q.id}", q.question, q.category, q.gold, q.key_facts)
        for r in results
        for q in r.report.questions
    ]
    return answer_scores(renamed, outcomes)


def markdown(
    part: str, results: Sequence[RepoResult], env: dict[str, str], show_questions: bool
) -> str:
    """The tables of a run: retrieval per repository and overall, then kb's answers."""
    lines = [f"## Repository suite, {part} part ({datetime.now(UTC).date().isoformat()})", ""]
    if env:
        lines += ["kb environment: " + ", ".join(f"{k}={v}" for k, v in env.items()), ""]
    lines += [
        "Retrieval (first gold source in the top 10; MRR@5 counts ranks 1-5 only, MRR@10 all;"
        " overall = every answerable question pooled):",
        "",
        "| repository | system | R@1 | R@5 | MRR@5 | MRR@10 | n |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    systems = [x for x in SYSTEMS if any(x in r.report.outcomes for r in results)]
    for label, rows in [(r.suite_set.name, [r]) for r in results] + [("overall", list(results))]:
        for system in systems:
            s = pooled(rows, system)
            lines.append(
                f"| {label} | {system} | {s['recall@1']:.2f} | {s['recall@5']:.2f} "
                f"| {s['mrr@5']:.2f} | {s['mrr@10']:.2f} | {s['n']} |"
            )
    if any(r.answers for r in results):
        lines += [
            "",
            f"kb's answers (`KB.ask`): key facts conveyed by the first {ANSWER_CHARS} characters"
            f" (a sentence at cosine >= {COVERAGE_THRESHOLD}), against a {EXTRACT_CHARS}-character"
            ' question-focused extract of the gold source; "I don\'t know" rates:',
            "",
            "| repository | coverage | extract coverage | n | IDK on unanswerable | n "
            "| IDK on answerable | n |",
            "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
        ]
        rows_a = [(r.suite_set.name, r.answer_summary()) for r in results if r.answers]
        rows_a.append(("overall", pooled_answers([r for r in results if r.answers])))
        for label, a in rows_a:
            lines.append(
                f"| {label} | {_fmt(a['coverage'])} | {_fmt(a['reference_coverage'])} "
                f"| {a['n_key_facts']} | {_fmt(a['idk_unanswerable'])} | {a['n_unanswerable']} "
                f"| {_fmt(a['idk_answerable'])} | {a['n_answerable']} |"
            )
    lines += [
        "",
        "Time spent (seconds): "
        + "; ".join(
            f"{r.suite_set.name} " + ", ".join(f"{k} {v:.0f}" for k, v in r.seconds.items())
            for r in results
        ),
    ]
    if show_questions:
        lines += ["", *category_table(results, systems), *miss_lines(results)]
    return "\n".join(lines)


def category_table(results: Sequence[RepoResult], systems: Sequence[str]) -> list[str]:
    """Recall@1 / Recall@5 by category, pooled over the repositories."""
    lines = [
        "Recall@1 / Recall@5 by category (pooled):",
        "",
        "| category | n | " + " | ".join(systems) + " |",
        "| --- | ---: | " + " | ".join("---:" for _ in systems) + " |",
    ]
    for category in CATEGORIES:
        cells = []
        n = 0
        for system in systems:
            ranks = [
                r.report.outcomes[system][q.id].rank
                for r in results
                for q in r.report.answerable(category)
                if system in r.report.outcomes
            ]
            n = len(ranks)
            cells.append(f"{recall_at(ranks, 1):.2f} / {recall_at(ranks, 5):.2f}")
        if n:
            lines.append(f"| {category} | {n} | " + " | ".join(cells) + " |")
    return lines


def miss_lines(results: Sequence[RepoResult]) -> list[str]:
    """kb's rank-1 misses and weak answers, question by question."""
    lines: list[str] = []
    for r in results:
        if KB_SYSTEM in r.report.outcomes:
            misses = r.report.misses(KB_SYSTEM)
            lines += ["", f"{r.suite_set.name}: kb misses at rank 1 ({len(misses)})", ""]
            lines += [
                f"- {m['id']} ({m['category']}): first gold at {m['rank'] or '-'}, "
                f"top-1 {m['top1']}, gold {'; '.join(m['gold'])}"
                for m in misses
            ]
        weak = [
            (q, r.answers[q.id])
            for q in r.report.questions
            if q.id in r.answers
            and (
                (q.answerable and (r.answers[q.id].coverage or 0) < 0.5)
                or (not q.answerable and r.answers[q.id].answered)
            )
        ]
        if weak:
            lines += ["", f"{r.suite_set.name}: weak answers ({len(weak)})", ""]
            for q, o in weak:
                what = (
                    f"coverage {_fmt(o.coverage)} (extract {_fmt(o.reference)})"
                    if q.answerable
                    else "answered an unanswerable question"
                )
                lines.append(f"- {q.id} ({q.category}): {what}")
    return lines


def to_json(
    part: str, results: Sequence[RepoResult], env: dict[str, str], show_questions: bool, k: int
) -> dict[str, Any]:
    """The run as one JSON object; per-question details only when they may be shown."""
    systems = [x for x in SYSTEMS if any(x in r.report.outcomes for r in results)]
    repos: dict[str, Any] = {}
    for r in results:
        entry: dict[str, Any] = {
            "repository": r.suite_set.repository,
            "language": r.suite_set.language,
            "head": r.suite_set.head,
            "questions": len(r.report.questions),
            "answerable": len(r.report.answerable()),
            "corpus": r.report.corpus,
            "systems": {x: r.scores(x) for x in systems if x in r.report.outcomes},
            "answers": r.answer_summary() if r.answers else None,
            "seconds": {k2: round(v, 1) for k2, v in r.seconds.items()},
        }
        if show_questions:
            entry["per_question"] = [
                {
                    "id": q.id,
                    "category": q.category,
                    "ranks": {x: r.report.outcomes[x][q.id].rank for x in entry["systems"]},
                    "top": {
                        x: [t.label() for t in r.report.outcomes[x][q.id].top[:5]]
                        for x in entry["systems"]
                    },
                    "answered": r.answers[q.id].answered if q.id in r.answers else None,
                    "coverage": r.answers[q.id].coverage if q.id in r.answers else None,
                    "reference_coverage": r.answers[q.id].reference if q.id in r.answers else None,
                }
                for q in r.report.questions
            ]
        repos[r.suite_set.name] = entry
    answered = [r for r in results if r.answers]
    return {
        "part": part,
        "date": datetime.now(UTC).date().isoformat(),
        "k": k,
        "kb_env": env,
        "mrr": "mrr@5 counts first hits at ranks 1-5, mrr@10 at ranks 1-10",
        "repos": repos,
        "overall": {
            "systems": {x: pooled(results, x) for x in systems},
            "answers": pooled_answers(answered) if answered else None,
        },
    }


# --- command line -----------------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> int:
    """Command line entry: run one part of the suite and print its tables (or JSON)."""
    parser = argparse.ArgumentParser(
        prog="python -m bench.suite",
        description="kb and three baselines over every repository of one part of the suite.",
    )
    parser.add_argument("--part", choices=PARTS, required=True, help="which part to run")
    parser.add_argument(
        "--repos-dir", required=True, help="directory holding each repository, at its pinned head"
    )
    parser.add_argument("--repos", help="comma-separated subset of the part's repositories")
    parser.add_argument(
        "--homes-dir",
        default=str(Path(tempfile.gettempdir()) / "kb-suite-homes"),
        help="where a kb home per repository is built and reused (default $TMPDIR/kb-suite-homes)",
    )
    parser.add_argument(
        "--cache",
        default=str(Path(tempfile.gettempdir()) / "kb-bench-cache"),
        help="baseline chunk embeddings by content hash, shared with bench.retrieval ('' = off)",
    )
    parser.add_argument(
        "--systems",
        default=",".join(SYSTEMS),
        help="comma-separated systems to run (default: all four)",
    )
    parser.add_argument(
        "--kb-env",
        action="append",
        default=[],
        metavar="VAR=VALUE",
        help="set an environment variable for kb (its CLI builds and its in-process queries); "
        "repeatable, e.g. to switch one re-ranking rule off",
    )
    parser.add_argument("--k", type=int, default=10, help="sources retrieved per question")
    parser.add_argument(
        "--skip-answers", action="store_true", help="retrieval only: do not call KB.ask"
    )
    parser.add_argument(
        "--show-heldout-questions",
        action="store_true",
        help="also print per-question results for the held-out part (never while tuning)",
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object instead")
    args = parser.parse_args(argv)
    args.systems = [x.strip() for x in args.systems.split(",") if x.strip()]
    try:
        env = parse_env(args.kb_env)
        unknown = [x for x in args.systems if x not in SYSTEMS]
        if unknown:
            raise EvalError(f"unknown systems {unknown}; known: {', '.join(SYSTEMS)}")
        sets = [s for s in load_suite() if s.part == args.part]
        if args.repos:
            names = {x.strip() for x in args.repos.split(",") if x.strip()}
            sets = [s for s in sets if s.name in names]
            if {s.name for s in sets} != names:
                raise EvalError(f"not in the {args.part} part: {names - {s.name for s in sets}}")
        repos_dir = Path(args.repos_dir)
        problems = [(s, p) for s in sets if (p := repo_problem(s, repos_dir))]
        if problems:
            print("Bring these repositories first (each at its pinned commit):", file=sys.stderr)
            for s, problem in problems:
                print(f"# {problem}", file=sys.stderr)
                for command in clone_commands(s, repos_dir):
                    print(command, file=sys.stderr)
            return 2
        # Before kb is imported anywhere: Settings reads KB_* at construction, and the kb CLI
        # subprocesses that build the homes inherit this environment.
        os.environ.update(env)
        embedder = _embedder()
        results = [run_repo(s, args, embedder, env) for s in sets]
    except EvalError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    show = args.part == "tuning" or args.show_heldout_questions
    if args.part == "heldout" and show:
        _log("warning: held-out questions shown one by one; do not tune on what follows")
    if args.json:
        print(json.dumps(to_json(args.part, results, env, show, args.k), indent=2))
    else:
        print(markdown(args.part, results, env, show))
    return 0


if __name__ == "__main__":
    sys.exit(main())
