"""What is ingested: every source, its last run and what that run could not read, and counts."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from kb.contract.markdown import table
from kb.store.history import SourceRow

# The counts a reader cares about, in the order they are shown (`kb status` has them all).
HEADLINE_COUNTS = (
    "repos", "commits", "people", "services", "service_dependencies", "documents", "chunks",
    "vectors", "wisdom_entries", "incidents", "questions",
)  # fmt: skip


def _iso(value: Any) -> str | None:
    return value.isoformat() if value is not None else None


@dataclass
class SourcesOverview:
    """Every source with its last sync and failures, and the rows per table."""

    sources: list[SourceRow]
    counts: dict[str, int]

    @property
    def failures(self) -> list[dict[str, str]]:
        """The items the last run of each source could not read, with the source named."""
        out = []
        for src in self.sources:
            for f in (src.last_report or {}).get("failures", []):
                out.append({"source": f"{src.kind}:{src.name}", **f})
        return out

    def to_json(self) -> dict[str, Any]:
        """Sources (with `last_run`: when, ok, its `--json` summary) and the counts."""
        return {
            "sources": [
                {
                    "kind": s.kind,
                    "name": s.name,
                    "location": s.location,
                    "created_at": _iso(s.created_at),
                    "last_synced_at": _iso(s.last_synced_at),
                    "runs": s.runs,
                    "last_run": None
                    if s.last_report is None
                    else {
                        "started_at": _iso(s.last_started_at),
                        "finished_at": _iso(s.last_finished_at),
                        "ok": s.last_ok,
                        "summary": s.last_report,
                    },
                }
                for s in self.sources
            ],
            "counts": self.counts,
        }

    def to_markdown(self) -> str:
        """Sources as a table, then the failures of their last runs."""
        if not self.sources:
            return "Nothing ingested yet: run `kb ingest git PATH` (or `kb ingest slack-export`)."
        rows = []
        for s in self.sources:
            rep = s.last_report or {}
            when = s.last_finished_at or s.last_synced_at
            rows.append(
                [
                    s.kind,
                    s.name,
                    when.strftime("%Y-%m-%d %H:%M") if when else "—",
                    "—" if s.last_ok is None else "ok" if s.last_ok else "with failures",
                    str(rep.get("commits_written", "—")),
                    str(rep.get("documents_written", "—")),
                    str(rep.get("failures_total", len(rep.get("failures", [])))),
                ]
            )
        lines = ["# Sources", ""]
        lines += table(
            ["kind", "name", "last sync", "last run", "commits", "documents", "failures"], rows
        )
        if self.failures:
            lines += ["", "## Failures of the last runs", ""]
            lines += [f"- {f['source']} `{f['where']}`: {f['message']}" for f in self.failures]
        return "\n".join(lines) + "\n"
