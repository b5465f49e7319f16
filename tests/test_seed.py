"""The demo organisation generator: determinism and the shape later tests rely on."""

from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
import zipfile
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from seed import DemoOrg, generate_demo_org

SERVICES = (
    "payment-service",
    "order-service",
    "inventory-service",
    "user-service",
    "notification-service",
    "analytics-service",
)
ALEX_SERVICES = SERVICES[:4]
TS = re.compile(r"^\d{10}\.\d{6}$")


def git(repo: Path, *args: str) -> str:
    """Run git in a repo with no user or system config."""
    env = {
        "PATH": os.environ.get("PATH", os.defpath),
        "HOME": str(repo),
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_CONFIG_GLOBAL": os.devnull,
        "LC_ALL": "C",
    }
    done = subprocess.run(
        ["git", *args], cwd=repo, env=env, capture_output=True, text=True, check=True
    )
    return done.stdout


def tree_digest(root: Path) -> list[tuple[str, str]]:
    """(relative path, sha256) of every file outside .git directories, sorted."""
    found = []
    for path in root.rglob("*"):
        rel = path.relative_to(root)
        if ".git" in rel.parts or not path.is_file():
            continue
        found.append((rel.as_posix(), hashlib.sha256(path.read_bytes()).hexdigest()))
    return sorted(found)


@pytest.fixture(scope="module")
def org(tmp_path_factory: pytest.TempPathFactory) -> DemoOrg:
    return generate_demo_org(tmp_path_factory.mktemp("demo") / "org", seed=42)


@pytest.fixture(scope="module")
def authors(org: DemoOrg) -> dict[str, list[tuple[int, str]]]:
    """repo → [(author epoch, author email)] for every commit."""
    out = {}
    for name in org.manifest["repos"]:
        log = git(org.repo_path(name), "log", "--format=%at %ae")
        out[name] = [(int(t), e) for t, e in (line.split(" ", 1) for line in log.splitlines())]
    return out


# -- determinism -------------------------------------------------------------------------


def test_same_seed_gives_identical_output(org: DemoOrg, tmp_path: Path) -> None:
    again = generate_demo_org(tmp_path / "again", seed=42)
    for name in org.manifest["repos"]:
        assert git(again.repo_path(name), "rev-parse", "HEAD") == git(
            org.repo_path(name), "rev-parse", "HEAD"
        )
    assert tree_digest(again.root) == tree_digest(org.root)
    zipped = (org.root / "slack-export.zip").read_bytes()
    assert (again.root / "slack-export.zip").read_bytes() == zipped
    assert again.manifest == org.manifest


def test_other_seed_gives_other_history(org: DemoOrg, tmp_path: Path) -> None:
    other = generate_demo_org(tmp_path / "other", seed=7)
    for name, repo in org.manifest["repos"].items():
        assert other.manifest["repos"][name]["head"] != repo["head"], name


def test_refuses_non_empty_directory(tmp_path: Path) -> None:
    (tmp_path / "keep.txt").write_text("precious")
    with pytest.raises(FileExistsError, match="not empty"):
        generate_demo_org(tmp_path)
    assert (tmp_path / "keep.txt").read_text() == "precious"


# -- repositories --------------------------------------------------------------------------


def test_seven_repos_checked_out_at_main(org: DemoOrg) -> None:
    repos = sorted(p.name for p in (org.root / "repos").iterdir() if (p / ".git").is_dir())
    assert repos == sorted([*SERVICES, "platform"])
    for name, info in org.manifest["repos"].items():
        path = org.repo_path(name)
        assert git(path, "symbolic-ref", "--short", "HEAD").strip() == "main"
        assert git(path, "status", "--porcelain") == ""
        assert git(path, "rev-parse", "HEAD").strip() == info["head"]
        assert int(git(path, "rev-list", "--count", "HEAD")) == info["commit_count"]
    assert 1500 <= org.manifest["history"]["commits"] <= 2500


def test_history_spans_three_years(authors: dict[str, list[tuple[int, str]]]) -> None:
    times = [t for commits in authors.values() for t, _ in commits]
    first = datetime.fromtimestamp(min(times), UTC).date()
    last = datetime.fromtimestamp(max(times), UTC).date()
    assert first == date(2023, 11, 6)
    assert date(2026, 10, 1) <= last <= date(2026, 10, 31)
    assert (last - first).days > 2.9 * 365


def test_people_and_identities(org: DemoOrg, authors: dict) -> None:
    emails = {e for commits in authors.values() for _, e in commits}
    assert len(emails) >= 8
    assert any("dependabot[bot]" in e for e in emails)
    priya = org.manifest["people"]["priya"]["emails"]
    assert len(priya) == 2 and set(priya) <= emails
    assert org.manifest["multi_email_person"] == "priya"
    mailmap = (org.repo_path("user-service") / ".mailmap").read_text()
    assert "priya.s.dev@gmail.com" in mailmap


def test_departed_people_stop_committing(org: DemoOrg, authors: dict) -> None:
    people = org.manifest["people"]
    assert sorted(org.manifest["departed"]) == ["ben", "chen", "jamie"]
    for key in org.manifest["departed"]:
        left = date.fromisoformat(people[key]["departed_on"])
        own = [t for commits in authors.values() for t, e in commits if e in people[key]["emails"]]
        assert own, key
        assert max(datetime.fromtimestamp(t, UTC).date() for t in own) <= left, key
    tom = [t for commits in authors.values() for t, e in commits if e.startswith("tom.")]
    assert datetime.fromtimestamp(min(tom), UTC).date() >= date(2026, 9, 1)


def test_alex_dominates_his_four_services(org: DemoOrg, authors: dict) -> None:
    alex = org.manifest["people"]["alex"]["emails"]
    for name in ALEX_SERVICES:
        mine = sum(1 for _, e in authors[name] if e in alex)
        assert mine > len(authors[name]) / 2, name
    for name in ("notification-service", "analytics-service"):
        counts: dict[str, int] = {}
        for _, e in authors[name]:
            counts[e] = counts.get(e, 0) + 1
        top = max((e for e in counts if "dependabot" not in e), key=counts.__getitem__)
        assert top == "maria.garcia@shopfast.io", name


def test_token_code_written_by_chen_maintained_by_alex(org: DemoOrg) -> None:
    repo = org.repo_path("user-service")
    log = git(repo, "log", "--reverse", "--format=%ae %as", "--", "src/users/tokens.py")
    lines = [line.split() for line in log.splitlines()]
    assert lines[0][0] == "chen.wei@shopfast.io"
    after = [e for e, day in lines if day > "2025-01-17"]
    assert after and set(after) == {"alex.morgan@shopfast.io"}


def test_adr_0003_supersedes_0002(org: DemoOrg) -> None:
    adr_dir = org.repo_path("order-service") / "docs" / "adr"
    new = (adr_dir / "0003-async-payment-via-events.md").read_text()
    old = (adr_dir / "0002-synchronous-payment-calls.md").read_text()
    assert "## Status\n\nAccepted" in new
    assert "Supersedes [ADR-0002](0002-synchronous-payment-calls.md)" in new
    assert "INC-2024-03" in new
    status = old.split("## Status", 1)[1].split("##", 1)[0]
    assert "Superseded by [ADR-0003](0003-async-payment-via-events.md)" in status
    adrs = {(a["repo"], a["number"], a["style"]): a for a in org.manifest["adrs"]}
    assert len(adrs) >= 6
    assert adrs[("order-service", 3, "nygard")]["supersedes"] == 2
    assert adrs[("order-service", 2, "nygard")]["status"] == "superseded"
    for adr in org.manifest["adrs"]:
        assert (org.repo_path(adr["repo"]) / adr["path"]).is_file(), adr["path"]


def test_sync_payment_client_removed_in_shop_412(org: DemoOrg) -> None:
    repo = org.repo_path("order-service")
    assert not (repo / "src/orders/payment_client.py").exists()
    log = git(repo, "log", "--format=%s", "--diff-filter=D", "--", "src/orders/payment_client.py")
    assert log.startswith("SHOP-412")
    merges = git(repo, "log", "--merges", "--format=%s")
    assert "feature/SHOP-412-async-payments" in merges
    checkout = (repo / "src/orders/checkout.py").read_text()
    assert 'publish(\n        "order.payment_requested"' in checkout


def test_reverts_reference_real_commits(org: DemoOrg) -> None:
    reverts = 0
    for name in org.manifest["repos"]:
        repo = org.repo_path(name)
        for body in git(repo, "log", "--grep=^Revert", "--format=%B%x00").split("\x00"):
            match = re.search(r"This reverts commit ([0-9a-f]{40})\.", body)
            if not match:
                continue
            reverts += 1
            subject = git(repo, "log", "-1", "--format=%s", match.group(1)).strip()
            assert body.strip().startswith(f'Revert "{subject}"')
    assert reverts >= 2


def test_danger_zones_are_where_the_manifest_says(org: DemoOrg) -> None:
    zones = org.manifest["danger_zones"]
    paths = {(z["repo"], z["path"]) for z in zones}
    assert ("inventory-service", "src/inventory/reservations.py") in paths
    assert ("inventory-service", "src/inventory/legacy/stock_sync.py") in paths
    for zone in zones:
        lines = (org.repo_path(zone["repo"]) / zone["path"]).read_text().splitlines()
        assert lines[zone["line"] - 1].strip() == zone["text"], zone


def test_secrets_are_in_history_and_slack(org: DemoOrg) -> None:
    history = {
        name: git(org.repo_path(name), "log", "-p", "--all") for name in org.manifest["repos"]
    }
    export = "".join(p.read_text() for p in (org.root / "slack-export").rglob("*.json"))
    kinds = set()
    for secret in org.manifest["secrets"]:
        kinds.add(secret["kind"])
        if secret["source"] == "git":
            assert secret["value"] in history[secret["repo"]], secret["kind"]
            at_head = (
                secret["value"] in (org.repo_path(secret["repo"]) / secret["path"]).read_text()
            )
            assert at_head == secret["at_head"], secret["kind"]
        else:
            assert secret["value"] in export, secret["kind"]
    assert {
        "aws_access_key_id",
        "stripe_live_key",
        "postgres_url",
        "slack_bot_token",
        "github_token",
    } <= kinds
    aws = next(s["value"] for s in org.manifest["secrets"] if s["kind"] == "aws_access_key_id")
    assert re.fullmatch(r"AKIA[A-Z0-9]{16}", aws)


def test_undeclared_pair_changes_together(org: DemoOrg) -> None:
    ticket = re.compile(r"\bDATA-\d+\b")

    def data_commits(name: str) -> list[tuple[int, str, str]]:
        log = git(org.repo_path(name), "log", "--format=%at|%ae|%s")
        out = []
        for line in log.splitlines():
            when, email, subject = line.split("|", 2)
            found = ticket.search(subject)
            if found:
                out.append((int(when), email, found.group(0)))
        return out

    inventory, analytics = data_commits("inventory-service"), data_commits("analytics-service")
    together = {
        a[2]
        for a in inventory
        for b in analytics
        if a[2] == b[2] and a[1] == b[1] and abs(a[0] - b[0]) < 3600
    }
    assert len(together) >= 12
    assert org.manifest["undeclared_dependency"]["services"] == [
        "inventory-service",
        "analytics-service",
    ]
    # Nothing declares the link: no URL, topic or compose dependency between the two.
    analytics_src = "".join(
        p.read_text() for p in (org.repo_path("analytics-service") / "src").rglob("*.py")
    )
    assert "inventory" not in analytics_src.lower()
    compose = (org.repo_path("platform") / "docker-compose.yml").read_text()
    analytics_block = compose.split("  analytics-service:", 1)[1].split("\n\n", 1)[0]
    assert "inventory" not in analytics_block
    pairs = {(d["from"], d["to"]) for d in org.manifest["declared_dependencies"]}
    assert ("analytics-service", "inventory-service") not in pairs


# -- Slack export --------------------------------------------------------------------------


def test_slack_export_layout(org: DemoOrg) -> None:
    root = org.root / "slack-export"
    users = json.loads((root / "users.json").read_text())
    by_name = {u["name"]: u for u in users}
    assert by_name["ben.okafor"]["deleted"] is True
    assert by_name["alex.morgan"]["deleted"] is False
    user_ids = {u["id"] for u in users}
    channels = json.loads((root / "channels.json").read_text())
    names = {c["name"] for c in channels}
    assert {"general", "incidents", "eng-backend", "inc-2024-03-14-checkout-outage"} <= names
    subtypes = set()
    for channel in channels:
        days = sorted((root / channel["name"]).glob("*.json"))
        assert days, channel["name"]
        messages = []
        for day in days:
            assert re.fullmatch(r"\d{4}-\d{2}-\d{2}\.json", day.name)
            batch = json.loads(day.read_text())
            assert isinstance(batch, list) and batch
            for msg in batch:
                stamp = datetime.fromtimestamp(float(msg["ts"]), UTC)
                assert stamp.strftime("%Y-%m-%d") + ".json" == day.name
            messages += batch
        by_ts = {m["ts"]: m for m in messages}
        for msg in messages:
            assert msg["type"] == "message" and TS.match(msg["ts"])
            subtypes.add(msg.get("subtype"))
            if "user" in msg and msg["user"] != "USLACKBOT":
                assert msg["user"] in user_ids
            if msg.get("thread_ts") and msg["thread_ts"] != msg["ts"]:
                parent = by_ts[msg["thread_ts"]]
                assert {"user": msg["user"], "ts": msg["ts"]} in parent["replies"]
            if "reply_count" in msg:
                assert msg["reply_count"] == len(msg["replies"])
                assert msg["latest_reply"] == msg["replies"][-1]["ts"]
    assert {"channel_join", "bot_message", "thread_broadcast", "tombstone"} <= subtypes


def test_incident_story_agrees_across_sources(org: DemoOrg) -> None:
    incident = next(i for i in org.manifest["incidents"] if i["id"] == "INC-2024-03")
    channel = org.root / "slack-export" / incident["slack_channel"]
    text = " ".join(m["text"] for p in channel.glob("*.json") for m in json.loads(p.read_text()))
    assert "root cause:" in text and "resolved:" in text
    assert "grafana.example.internal" in text
    postmortem = org.repo_path(incident["postmortem"]["repo"]) / incident["postmortem"]["path"]
    body = postmortem.read_text()
    for section in ("## Summary", "## Impact", "## Timeline", "## Root cause", "## Action items"):
        assert section in body
    assert "47 minutes" in body and "38 customers" in body and "SHOP-412" in body
    for repo in ("order-service", "payment-service"):
        subjects = git(org.repo_path(repo), "log", "--format=%s%n%b")
        assert "SHOP-412: make order→payment asynchronous via events" in subjects
        assert "INC-2024-03" in subjects


def test_zip_matches_export_directory(org: DemoOrg) -> None:
    root = org.root / "slack-export"
    files = {p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*.json")}
    with zipfile.ZipFile(org.root / "slack-export.zip") as zf:
        assert zf.testzip() is None
        names = zf.namelist()
        assert names == sorted(names)
        assert {n: zf.read(n) for n in names} == files
        assert {info.date_time for info in zf.infolist()} == {(2026, 11, 1, 0, 0, 0)}


def test_manifest_file_matches_returned_org(org: DemoOrg) -> None:
    text = org.manifest_path.read_text()
    assert json.loads(text) == org.manifest
    assert text == json.dumps(org.manifest, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
    assert org.manifest["as_of"] == "2026-11-01T00:00:00+00:00"
    assert org.manifest["senior"] == "alex"
    for incident in org.manifest["incidents"]:
        assert datetime.fromisoformat(incident["start"]).tzinfo is not None
