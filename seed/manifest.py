"""Ground truth of the demo org: the DemoOrg record and its manifest.json form."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from seed import story
from seed.files import adrs, postmortems
from seed.history import RepoHistory
from seed.people import PEOPLE, SLACK_BOTS
from seed.schedule import SERVICE_REPOS
from seed.script import Leaks
from seed.slack import Channel, SlackExport
from seed.timeline import AS_OF, HISTORY_END, HISTORY_START, epoch, iso
from seed.truth import (
    ADRS,
    CAUSES,
    DANGER,
    DECLARED,
    INCIDENTS,
    OPEN_PAGE,
    RULES,
    SAME_ROOT_CAUSE,
    SERVICES,
)


def _field(key: str, doc: str) -> Any:
    return property(lambda self: self.manifest[key], doc=doc)


@dataclass(frozen=True)
class DemoOrg:
    """Ground truth of a generated demo organisation (treat the containers as read-only)."""

    root: Path
    seed: int
    as_of: datetime
    manifest: dict[str, Any]

    repos = _field("repos", "Repo name → path, is_service, default_branch, commit_count, head.")
    services = _field("services", "Service name → repo, owner, team.")
    people = _field("people", "Person key → names, emails, slack_id, status, last_activity.")
    senior = _field("senior", "Key of the person who knows most.")
    departed = _field("departed", "Keys of people who have left.")
    bots = _field("bots", "Keys of bots (git and Slack).")
    multi_email_person = _field("multi_email_person", "Key of the person with two emails.")
    incidents = _field("incidents", "Incidents with times, channel and postmortem.")
    adrs = _field("adrs", "Every ADR with style, status and supersession.")
    danger_zones = _field("danger_zones", "Danger comments with repo, path and line at HEAD.")
    secrets = _field("secrets", "Leaked credentials and where they are.")
    declared_dependencies = _field("declared_dependencies", "Declared service links.")
    undeclared_dependency = _field("undeclared_dependency", "The planted hidden coupling.")
    contract_violation = _field("contract_violation", "The planted call its spec lacks.")
    unwritten_rules = _field("unwritten_rules", "Rules only stated in Slack.")
    slack = _field("slack", "Slack export location and channels.")
    stories = _field("stories", "Questions with their expected answers and sources.")
    logs = _field("logs", "The incident's log files and what stitching them must find.")
    open_page = _field("open_page", "The page open when the history ends, and its cause.")

    @property
    def manifest_path(self) -> Path:
        """Where manifest.json was written."""
        return self.root / "manifest.json"

    @property
    def slack_export_dir(self) -> Path:
        """The unpacked Slack export."""
        return self.root / "slack-export"

    @property
    def slack_zip(self) -> Path:
        """The Slack export as a zip."""
        return self.root / "slack-export.zip"

    def repo_path(self, name: str) -> Path:
        """Absolute path of one generated repository."""
        return self.root / self.manifest["repos"][name]["path"]


def _danger_zones(histories: dict[str, RepoHistory]) -> list[dict]:
    zones = []
    for repo, path, needle, marker, severity in DANGER:
        text = histories[repo].tree[path]
        assert isinstance(text, str)
        lines = text.splitlines()
        line = next(i for i, line in enumerate(lines, start=1) if needle in line)
        end = line
        while end < len(lines) and lines[end].strip().startswith("#"):
            end += 1
        comment = " ".join(x.strip().lstrip("#").strip() for x in lines[line - 1 : end])
        zones.append(
            {
                "repo": repo,
                "path": path,
                "line": line,
                "end_line": end,
                "text": lines[line - 1].strip(),
                "comment": comment,
                "marker": marker,
                "severity": severity,
            }
        )
    return zones


def _sha(histories: dict[str, RepoHistory], repo: str, key: str) -> dict:
    record = histories[repo].by_key[key]
    return {"repo": repo, "sha": record.sha, "subject": record.subject, "date": iso(record.when)}


def _secrets(histories, leaks: Leaks, slack: SlackExport) -> list[dict]:
    def git(kind, value, repo, path, key, removed, at_head):
        return {
            "kind": kind,
            "value": value,
            "source": "git",
            "repo": repo,
            "path": path,
            "added_in": _sha(histories, repo, key),
            "removed_in": _sha(histories, repo, removed) if removed else None,
            "at_head": at_head,
        }

    def chat(kind, value, key):
        channel, ts = slack.message_ts[key]
        return {
            "kind": kind,
            "value": value,
            "source": "slack",
            "channel": channel,
            "ts": ts,
            "date": iso(int(float(ts)))[:10],
            "at_head": True,
        }

    url = f"postgres://orders:{leaks.orders_db_password}@orders-db:5432/orders"
    return [
        git(
            "aws_access_key_id",
            leaks.aws_access_key_id,
            "payment-service",
            "config/settings.yaml",
            "aws-keys",
            "aws-keys-removed",
            False,
        ),
        git(
            "aws_secret_access_key",
            leaks.aws_secret_access_key,
            "payment-service",
            "config/settings.yaml",
            "aws-keys",
            "aws-keys-removed",
            False,
        ),
        git(
            "stripe_live_key",
            leaks.stripe_live_key,
            "payment-service",
            ".env.example",
            "stripe-key",
            None,
            True,
        ),
        git(
            "postgres_url",
            url,
            "platform",
            "docker-compose.yml",
            "compose-password",
            "compose-password-removed",
            False,
        ),
        chat("slack_bot_token", leaks.slack_bot_token, "token-slack"),
        chat("github_token", leaks.github_token, "token-gh"),
    ]


def _last_activity(histories, channels: list[Channel]) -> dict[str, int]:
    last: dict[str, int] = {}
    for history in histories.values():
        for record in history.commits:
            last[record.author] = max(last.get(record.author, 0), record.when)
    for channel in channels:
        for msg in channel.messages:
            if msg.kind != "deleted":
                last[msg.who] = max(last.get(msg.who, 0), epoch(msg.at))
    return last


def build_manifest(
    seed: int,
    histories: dict[str, RepoHistory],
    leaks: Leaks,
    pairs: list[tuple[str, str]],
    slack: SlackExport,
    channels: list[Channel],
) -> dict[str, Any]:
    """The ground truth as a JSON-ready dict."""
    last = _last_activity(histories, channels)
    people = {}
    for p in PEOPLE + SLACK_BOTS:
        emails = (
            sorted(
                {r.email for h in histories.values() for r in h.commits if r.author == p.key}
                | {p.email}
            )
            if not p.is_bot
            else list(p.emails)
        )
        people[p.key] = {
            "name": p.name,
            "names": sorted({p.name, p.alt_name or p.name}),
            "emails": emails,
            "github": p.github or None,
            "slack_id": slack.user_ids.get(p.key),
            "status": "departed" if p.left else "active",
            "is_bot": p.is_bot,
            "joined": p.joined.isoformat(),
            "departed_on": p.left.isoformat() if p.left else None,
            "last_activity": iso(last[p.key]) if p.key in last else None,
            "title": p.title,
        }
    co_changes = []
    for inv_key, ana_key in pairs:
        a, b = (
            histories["inventory-service"].by_key[inv_key],
            histories["analytics-service"].by_key[ana_key],
        )
        co_changes.append(
            {
                "ticket": inv_key.rsplit("-", 1)[0],
                "author": a.author,
                "inventory_commit": a.sha,
                "analytics_commit": b.sha,
                "minutes_apart": (b.when - a.when) // 60,
            }
        )
    incidents = [
        {
            "id": i,
            "title": t,
            "start": iso(epoch(start)),
            "end": iso(epoch(end)),
            "severity": sev,
            "services": svcs,
            "slack_channel": ch,
            "commander": ic,
            "tickets": tickets,
            "root_cause": cause,
            "postmortem": {"repo": pm[0], "path": pm[1]} if pm else None,
            "causal_commit": _sha(histories, *CAUSES[i]),
            "same_root_cause_as": SAME_ROOT_CAUSE.get(i),
        }
        for i, t, start, end, sev, svcs, ch, pm, ic, tickets, cause in INCIDENTS
    ]
    return {
        "seed": seed,
        "as_of": AS_OF.isoformat(),
        "history": {
            "start": HISTORY_START.isoformat(),
            "end": HISTORY_END.isoformat(),
            "commits": sum(len(h.commits) for h in histories.values()),
        },
        "repos": {
            name: {
                "path": f"repos/{name}",
                "is_service": name in SERVICE_REPOS,
                "default_branch": "main",
                "commit_count": len(h.commits),
                "head": h.head,
            }
            for name, h in histories.items()
        },
        "services": {name: {"repo": name, **info} for name, info in SERVICES.items()},
        "people": people,
        "senior": "alex",
        "departed": sorted(k for k, p in people.items() if p["status"] == "departed"),
        "bots": sorted(k for k, p in people.items() if p["is_bot"]),
        "multi_email_person": "priya",
        "undeclared_dependency": {
            "services": ["inventory-service", "analytics-service"],
            "ticket_prefix": story.UNDECLARED_TICKET_PREFIX,
            "mechanism": "analytics-service reads inventory's stock_levels table through "
            "REPORTING_DB_URL; no contract, call, event or compose link",
            "paths": {
                "inventory-service": "migrations/",
                "analytics-service": "src/analytics/reports/stock_report.py",
            },
            "co_changes": co_changes,
        },
        "declared_dependencies": [
            {"from": a, "to": b, "kind": kind, "via": via, "evidence": {"repo": r, "path": p}}
            for a, b, kind, via, r, p in DECLARED
        ],
        "contract_violation": {
            "consumer": "notification-service",
            "provider": "user-service",
            "call": "GET /users/{customer_id}/preferences",
            "spec": {"repo": "user-service", "path": "openapi.yaml"},
            "evidence": {
                "repo": "notification-service",
                "path": "src/notifications/user_client.py",
            },
            "added_in": _sha(histories, "notification-service", "opt-out-call"),
        },
        "former_dependencies": [
            {
                "from": "order-service",
                "to": "payment-service",
                "kind": "sync_http",
                "via": "POST /payments",
                "until": _sha(histories, "order-service", "remove-sync-client")["date"],
                "evidence": {"repo": "order-service", "path": adrs.ORDER_0002_PATH},
            }
        ],
        "incidents": incidents,
        "open_page": {
            "service": OPEN_PAGE["service"],
            "symptom": OPEN_PAGE["symptom"],
            "paged_at": iso(epoch(OPEN_PAGE["paged_at"])),
            "causal_commit": _sha(histories, *OPEN_PAGE["cause"]),
        },
        "adrs": [
            {
                "repo": r,
                "path": p,
                "number": n,
                "title": t,
                "style": style,
                "status": status,
                "supersedes": sup,
                "superseded_by": by,
                "author": who,
            }
            for r, p, n, t, style, status, sup, by, who in ADRS
        ],
        "danger_zones": _danger_zones(histories),
        "secrets": _secrets(histories, leaks, slack),
        "unwritten_rules": [
            {
                "id": rid,
                "text": text,
                "by": "alex",
                "channel": ch,
                "ts": slack.message_ts[key][1],
                "services": svcs,
            }
            for rid, text, ch, key, svcs in RULES
        ],
        "stale_codeowners": [
            {
                "repo": "user-service",
                "path": ".github/CODEOWNERS",
                "pattern": "src/users/tokens.py",
                "names": "@chenwei-dev",
                "actual_owner": "alex",
            },
            {
                "repo": "analytics-service",
                "path": ".github/CODEOWNERS",
                "pattern": "*",
                "names": "@bokafor",
                "actual_owner": "maria",
            },
        ],
        "slack": {
            "export_dir": "slack-export",
            "zip": "slack-export.zip",
            "channels": [
                {
                    "name": c.name,
                    "id": slack.channel_ids[c.name],
                    "is_archived": c.archived,
                    "messages": len(c.messages),
                }
                for c in channels
            ],
        },
        "stories": _stories(histories),
    }


def _stories(histories: dict[str, RepoHistory]) -> dict[str, Any]:
    return {
        "async_payments": {
            "question": "Why is order→payment asynchronous?",
            "answer": "After INC-2024-03 (2024-03-14) a Stripe latency spike blocked every "
            "order-service worker on synchronous POST /payments calls: checkout was "
            "down 47 minutes and retries double-charged 38 customers. ADR-0003 "
            "replaced ADR-0002 with order.payment_requested → payment.completed / "
            "payment.failed events and idempotency keys (SHOP-412, SHOP-413).",
            "sources": [
                {"kind": "adr", "repo": "order-service", "path": adrs.ORDER_0003_PATH},
                {"kind": "adr", "repo": "order-service", "path": adrs.ORDER_0002_PATH},
                {
                    "kind": "postmortem",
                    "repo": "payment-service",
                    "path": postmortems.CHECKOUT_PATH,
                },
                {"kind": "slack", "channel": "inc-2024-03-14-checkout-outage"},
                {"kind": "commit", **_sha(histories, "order-service", "shop-412-order")},
                {"kind": "commit", **_sha(histories, "payment-service", "shop-412-payment")},
            ],
        },
        "token_code_owner": {
            "question": "Who knows the user-service token code now?",
            "answer": "alex",
            "paths": ["src/users/tokens.py", "src/users/keys.py"],
            "original_author": "chen",
            "sources": [
                {"kind": "commit", **_sha(histories, "user-service", "chen-handover")},
                {"kind": "commit", **_sha(histories, "user-service", "token-reuse")},
            ],
        },
        "inventory_danger": {
            "question": "What must I never touch in inventory-service?",
            "paths": ["src/inventory/reservations.py", "src/inventory/legacy/stock_sync.py"],
            "sources": [
                {"kind": "commit", **_sha(histories, "inventory-service", "lock-order-note")},
                {"kind": "commit", **_sha(histories, "inventory-service", "legacy-warning")},
                {"kind": "test", "ref": story.inventory_test_reference()},
            ],
        },
        "bus_factor": {
            "question": "What becomes unknowable if Alex leaves?",
            "person": "alex",
            "orphaned_services": [
                "payment-service",
                "order-service",
                "inventory-service",
                "user-service",
            ],
            "share": round(4 / 6, 2),
        },
        "undeclared_dependency": {
            "question": "Which services change together without a declared dependency?",
            "answer": ["inventory-service", "analytics-service"],
        },
    }


def write_manifest(root: Path, manifest: dict[str, Any]) -> None:
    """manifest.json with sorted keys, indent 2."""
    text = json.dumps(manifest, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
    (root / "manifest.json").write_text(text, encoding="utf-8")
