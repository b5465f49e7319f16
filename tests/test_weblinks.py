"""Citations that open: web links from a repository's remote (or --web-url), per forge."""

from __future__ import annotations

from pathlib import Path

import pytest
from gitrepo import Repo

from kb.app import KB
from kb.contract.connector import SourceConfig
from kb.contract.weblinks import commit_url, file_url, forge_of, web_url_of_remote

SHA = "0123456789abcdef0123456789abcdef01234567"


@pytest.mark.parametrize(
    ("remote", "web"),
    [
        ("git@github.com:acme/shop.git", "https://github.com/acme/shop"),
        ("https://github.com/acme/shop.git", "https://github.com/acme/shop"),
        (
            "https://user:s3cret@gitlab.com/acme/platform/shop.git",
            "https://gitlab.com/acme/platform/shop",
        ),
        ("ssh://git@gitlab.example.com:2222/acme/shop.git", "https://gitlab.example.com/acme/shop"),
        ("git@bitbucket.org:acme/shop.git", "https://bitbucket.org/acme/shop"),
        ("https://codeberg.org/acme/shop", "https://codeberg.org/acme/shop"),
        ("http://gitea.lan/acme/shop.git", "http://gitea.lan/acme/shop"),
        ("/srv/git/shop.git", None),
        ("file:///srv/git/shop.git", None),
        ("../shop", None),
        (None, None),
    ],
)
def test_web_url_of_remote(remote: str | None, web: str | None) -> None:
    assert web_url_of_remote(remote) == web


def test_links_take_each_forges_form() -> None:
    cases = {
        "https://github.com/a/s": ("github", f"/blob/{SHA}/docs/adr/1.md#L7", f"/commit/{SHA}"),
        "https://gitlab.com/a/s": ("gitlab", f"/-/blob/{SHA}/docs/adr/1.md#L7", f"/-/commit/{SHA}"),
        "https://bitbucket.org/a/s": (
            "bitbucket", f"/src/{SHA}/docs/adr/1.md#lines-7", f"/commits/{SHA}",
        ),
        "https://codeberg.org/a/s": (
            "gitea", f"/src/commit/{SHA}/docs/adr/1.md#L7", f"/commit/{SHA}",
        ),
    }  # fmt: skip
    for web, (forge, file_tail, commit_tail) in cases.items():
        assert forge_of(web) == forge
        assert file_url(web, forge, SHA, "docs/adr/1.md", 7) == web + file_tail
        assert commit_url(web, forge, SHA) == web + commit_tail
    assert forge_of("https://git.example.com/a/s") == "github"
    assert forge_of("https://git.example.com/a/s", "gitlab") == "gitlab"
    assert file_url("https://github.com/a/s", "github", SHA, "my dir/a#b.md").endswith(
        "/my%20dir/a%23b.md"
    )


def _cited(app: KB, question: str) -> list[dict[str, object]]:
    return [c.to_json() for c in app.ask(question, record=False).citations]


def test_git_citations_link_to_the_file_at_its_commit_and_to_the_commit(
    kb_app: KB, tmp_path: Path, isolated_git: None
) -> None:
    repo = Repo(tmp_path / "billing")
    repo.commit(
        "Add the ledger decision",
        {"docs/adr/0001-ledger.md": "# 1. Double-entry ledger\n\n## Status\n\nAccepted\n\n"
         "## Decision\n\nEvery refund is booked as a reversing entry in the ledger, never as "
         "an update of the original charge, because auditors need the full trail.\n"},
    )  # fmt: skip
    repo.commit(
        "Keep refunds as reversing entries\n\nUpdating charges in place lost the audit trail "
        "during the 2024 reconciliation; reversing entries keep every step visible.",
        {"src/refunds.py": "def refund():\n    return 'reverse'\n"},
    )
    repo.git("remote", "add", "origin", "git@gitlab.com:acme/billing.git")
    report = kb_app.ingest(SourceConfig("git", "billing", str(repo.path), {}))
    assert report.ok, report.failures
    head = repo.git("rev-parse", "HEAD").strip()
    cited = _cited(kb_app, "why are refunds booked as reversing entries in the ledger?")
    adr = next(c for c in cited if c["kind"] == "adr")
    assert str(adr["url"]).startswith(
        f"https://gitlab.com/acme/billing/-/blob/{head}/docs/adr/0001-ledger.md"
    )
    hits = kb_app.retriever.search("why did we stop updating charges in place for refunds?", k=8)
    commits = [{"url": h.url} for h in hits if h.kind == "commit"]
    assert commits and str(commits[0]["url"]).startswith(
        "https://gitlab.com/acme/billing/-/commit/"
    )

    # --web-url wins over the remote (a mirror browsed elsewhere); a re-ingest updates links.
    again = kb_app.ingest(
        SourceConfig(
            "git", "billing", str(repo.path), {"web_url": "https://git.example.com/fin/billing"}
        )
    )
    assert again.ok
    adr = next(
        c
        for c in _cited(kb_app, "why are refunds booked as reversing entries?")
        if c["kind"] == "adr"
    )
    assert str(adr["url"]).startswith(f"https://git.example.com/fin/billing/blob/{head}/")


def test_a_repository_without_a_remote_has_no_web_links(
    kb_app: KB, tmp_path: Path, isolated_git: None
) -> None:
    repo = Repo(tmp_path / "local")
    repo.commit("Add docs", {"README.md": "# Local\n\nThe local tool exports invoices nightly.\n"})
    assert kb_app.ingest(SourceConfig("git", "local", str(repo.path), {})).ok
    cited = _cited(kb_app, "what does the local tool export nightly?")
    assert cited and all(c["url"] is None for c in cited if c["kind"] != "slack")
