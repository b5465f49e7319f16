"""The bus-factor report as markdown: what a manager reads, with the numbers to act on."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from kb.contract.markdown import pct as _pct
from kb.contract.markdown import table as _table

if TYPE_CHECKING:
    from kb.analysis.busfactor import BusFactorReport

_TOP_PEOPLE = 12
_TOP_DIRECTORIES = 15


def busfactor_markdown(
    report: BusFactorReport, data: dict[str, Any] | None = None, leavers: int = 3
) -> str:
    """Truck factors, single points of failure, orphaned knowledge and leaver simulations.

    Simulates the departure of each of the `leavers` people who alone know the most;
    `data` is `report.to_json()` when the caller has it already.
    """
    data = data if data is not None else report.to_json()
    lines = ["# Knowledge risk: bus factor", ""]
    when = f" as of {data['as_of'][:10]}" if data["as_of"] else ""
    mode = (
        "the published algorithm (Avelino et al. 2016), as its reference tool runs it"
        if report.algorithm == "avelino2016"
        else "kb's default: bots, vendored, generated, lock and binary files left out; "
        f"co-authors credited; people inactive for {data['departed_after_days']} days "
        "counted as gone"
    )
    lines += [f"Computed from commit history{when} with {mode}.", ""]
    lines += [
        "The **truck factor** is how many people would have to leave before more than half "
        "of the files have no one left who knows them (degree of authorship > 0.75 of the "
        "best author). A truck factor of 1 is a single point of failure.",
        "",
    ]

    scopes = data["services"] or data["repos"]
    label = "service" if data["services"] else "repository"
    single = [s for s in scopes if s["truck_factor"] <= 1]
    people = data["people"]
    here = [p for p in people if not p["departed"]]
    lines += ["## Summary", ""]
    if single:
        who: dict[str, list[str]] = {}
        for s in single:
            key = ", ".join(s["truck_factor_authors"]) or "no one (already orphaned)"
            who.setdefault(key, []).append(s["name"])
        for person, names in sorted(who.items(), key=lambda kv: -len(kv[1])):
            lines.append(
                f"- **{person}**: single point of failure for {len(names)} of {len(scopes)} "
                f"{label}s ({', '.join(names)})."
            )
    else:
        lines.append(f"- No {label} depends on a single person.")
    orphaned = sum(r["orphaned_files"] for r in data["repos"])
    total = sum(r["files_analyzed"] for r in data["repos"])
    if total:
        gone = [p["name"] for p in people if p["departed"]]
        lines.append(
            f"- {orphaned} of {total} files ({_pct(orphaned / total)}) are already orphaned: "
            "every author has left" + (f" ({', '.join(gone)})." if gone else ".")
        )
    lines.append("")

    lines += [f"## Truck factor per {label}", ""]
    lines += _table(
        [label, "truck factor", "who", "files", "orphaned", "known after top 1 / 2 / 3 leave"],
        [
            [
                s["name"],
                str(s["truck_factor"]),
                ", ".join(s["truck_factor_authors"]) or "—",
                str(s["files_analyzed"]),
                str(s["orphaned_files"]),
                " / ".join(_pct(c) for c in s["coverage"][1:4]) or "—",
            ]
            for s in scopes
        ],
    )
    lines.append("")
    if data["services"]:
        lines += ["## Truck factor per repository", ""]
        lines += _table(
            ["repository", "truck factor", "who", "files", "orphaned"],
            [
                [
                    r["name"],
                    str(r["truck_factor"]),
                    ", ".join(r["truck_factor_authors"]) or "—",
                    str(r["files_analyzed"]),
                    str(r["orphaned_files"]),
                ]
                for r in data["repos"]
            ],
        )
        lines.append("")

    lines += ["## People", ""]
    lines += _table(
        ["person", "status", "files authored", "only they know", "left orphaned", "critical to"],
        [
            [
                p["name"],
                f"left (last seen {p['last_activity']})" if p["departed"] else "here",
                str(p["files_authored"]),
                str(p["sole_author_files"]) if not p["departed"] else "—",
                str(p["orphaned_files"]) if p["departed"] else "—",
                ", ".join(dict.fromkeys(x.split(":", 1)[1] for x in p["truck_factor_of"])) or "—",
            ]
            for p in people[:_TOP_PEOPLE]
        ],
    )
    lines.append("")

    heat = data["heatmap"]
    if heat["columns"]:
        cols = [
            f"{name} (left)" if gone else name
            for name, gone in zip(heat["columns"][:8], heat["departed"][:8], strict=True)
        ]
        lines += [f"## Knowledge map ({label} × person: share of files they author)", ""]
        lines += _table(
            [label, *cols],
            [
                [row, *(_pct(v) if v else "·" for v in values[: len(cols)])]
                for row, values in zip(heat["rows"], heat["values"], strict=True)
            ],
        )
        lines.append("")

    lines += _leavers(report, here, leavers)

    risky_dirs = sorted(
        (d for r in data["repos"] for d in r["directories"] if d["files_analyzed"] >= 3),
        key=lambda d: (d["truck_factor"], -d["orphaned_files"], -d["files_analyzed"]),
    )[:_TOP_DIRECTORIES]
    if risky_dirs:
        lines += ["## Riskiest directories", ""]
        lines += _table(
            ["directory", "truck factor", "who", "files", "orphaned"],
            [
                [
                    f"{d['repo']}/{d['name']}",
                    str(d["truck_factor"]),
                    ", ".join(d["truck_factor_authors"]) or "—",
                    str(d["files_analyzed"]),
                    str(d["orphaned_files"]),
                ]
                for d in risky_dirs
            ],
        )
        lines.append("")
    lines += [
        "Reproduce: `kb bus-factor --json` (add `--without NAME` for a leaver simulation, "
        "`--algorithm avelino2016` for the published algorithm).",
        "",
    ]
    return "\n".join(lines)


def _leavers(report: BusFactorReport, here: list[dict[str, Any]], n: int) -> list[str]:
    ranked = sorted(here, key=lambda p: -p["sole_author_files"])[:n]
    if not ranked:
        return []
    by_name = {d.name: k for k, d in report.developers.items() if not d.departed}
    lines = ["## What if they left?", ""]
    rows = []
    for p in ranked:
        key = by_name.get(p["name"])
        if key is None:
            continue
        sim = report.simulate([key])
        svc = sim["services_unknowable"]
        rows.append(
            [
                p["name"],
                f"{sim['files_lost']} ({_pct(sim['share_files_lost'])})",
                f"{len(svc)} of {sim['services_known_now']} "
                f"({_pct(sim['share_services_unknowable'])})"
                + (f": {', '.join(svc)}" if svc else ""),
                f"{len(sim['directories_unknowable'])} of {sim['directories_known_now']}",
            ]
        )
    lines += _table(
        ["if this person left", "files no one knows", "services unknowable", "directories"],
        rows,
    )
    lines += [
        "",
        "A service or directory is unknowable when more than half of its files would have no "
        "author left.",
        "",
    ]
    return lines
