"""Web links to a repository's files and commits, so every git citation opens in a browser.

A repository's web address comes from its remote (GitHub, GitLab, Bitbucket or Gitea; ssh or
https), or from the source's `--web-url`. The forge decides the link forms:

| forge | file at a commit | commit |
| --- | --- | --- |
| github | `/blob/SHA/PATH#L10` | `/commit/SHA` |
| gitlab | `/-/blob/SHA/PATH#L10` | `/-/commit/SHA` |
| bitbucket | `/src/SHA/PATH#lines-10` | `/commits/SHA` |
| gitea | `/src/commit/SHA/PATH#L10` | `/commit/SHA` |
"""

from __future__ import annotations

import re
from urllib.parse import quote, urlsplit

FORGES = ("github", "gitlab", "bitbucket", "gitea")

# git@host:owner/repo.git, or user@host:path (scp-like ssh syntax)
_SCP_LIKE = re.compile(r"^(?:[\w.-]+@)?(?P<host>[\w.-]+):(?!//)(?P<path>.+)$")


def web_url_of_remote(remote: str | None) -> str | None:
    """The https address a remote's repository is browsed at, or None for a local remote.

    `git@github.com:acme/shop.git`, `ssh://git@gitlab.example.com:2222/acme/shop.git` and
    `https://user:token@bitbucket.org/acme/shop.git` all give https://HOST/OWNER/REPO
    (credentials and ports dropped).
    """
    if not remote:
        return None
    remote = remote.strip()
    if "://" in remote:
        parts = urlsplit(remote)
        if parts.scheme not in ("http", "https", "ssh", "git", "git+ssh", "ssh+git"):
            return None  # file:// and the like have no web page
        host, path = parts.hostname, parts.path
    else:
        m = _SCP_LIKE.match(remote)
        if m is None:
            return None  # a local path
        host, path = m.group("host"), m.group("path")
    path = path.strip("/").removesuffix(".git").strip("/")
    if not host or not path:
        return None
    scheme = "http" if remote.startswith("http://") else "https"
    return f"{scheme}://{host}/{path}"


def forge_of(web_url: str, forge: str | None = None) -> str:
    """The forge whose link forms a web address takes: given, else guessed from its host.

    A host that names none of them (a GitHub Enterprise at git.example.com) is taken for
    GitHub, the most common; `--forge` says otherwise.
    """
    if forge:
        return forge
    host = (urlsplit(web_url).hostname or "").lower()
    for name, hints in (
        ("gitlab", ("gitlab",)),
        ("bitbucket", ("bitbucket",)),
        ("gitea", ("gitea", "codeberg", "forgejo")),
    ):
        if any(h in host for h in hints):
            return name
    return "github"


def file_url(web_url: str, forge: str, commit: str, path: str, line: int | None = None) -> str:
    """The link to a file as it was at a commit (and to one line of it)."""
    where = quote(path)
    base = web_url.rstrip("/")
    if forge == "gitlab":
        link = f"{base}/-/blob/{commit}/{where}"
    elif forge == "bitbucket":
        link = f"{base}/src/{commit}/{where}"
    elif forge == "gitea":
        link = f"{base}/src/commit/{commit}/{where}"
    else:
        link = f"{base}/blob/{commit}/{where}"
    if line:
        link += f"#lines-{line}" if forge == "bitbucket" else f"#L{line}"
    return link


def commit_url(web_url: str, forge: str, commit: str) -> str:
    """The link to a commit."""
    base = web_url.rstrip("/")
    if forge == "gitlab":
        return f"{base}/-/commit/{commit}"
    if forge == "bitbucket":
        return f"{base}/commits/{commit}"
    return f"{base}/commit/{commit}"
