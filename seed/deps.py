"""Third-party dependency versions, requirements files and dependabot-style bumps."""

from __future__ import annotations

import re

# Real release sequences, oldest first: bumps only ever move forward along these.
VERSIONS: dict[str, tuple[str, ...]] = {
    "fastapi": (
        "0.104.1",
        "0.108.0",
        "0.109.2",
        "0.110.0",
        "0.110.3",
        "0.111.0",
        "0.112.2",
        "0.114.2",
        "0.115.0",
        "0.115.6",
        "0.115.12",
        "0.116.1",
        "0.117.1",
        "0.118.0",
    ),
    "uvicorn": (
        "0.24.0",
        "0.25.0",
        "0.27.1",
        "0.29.0",
        "0.30.1",
        "0.30.6",
        "0.32.0",
        "0.34.0",
        "0.35.0",
    ),
    "pydantic": (
        "2.5.2",
        "2.5.3",
        "2.6.1",
        "2.6.4",
        "2.7.1",
        "2.7.4",
        "2.8.2",
        "2.9.2",
        "2.10.4",
        "2.10.6",
        "2.11.4",
        "2.11.7",
    ),
    "sqlalchemy": (
        "2.0.23",
        "2.0.25",
        "2.0.27",
        "2.0.29",
        "2.0.30",
        "2.0.31",
        "2.0.32",
        "2.0.35",
        "2.0.36",
        "2.0.38",
        "2.0.40",
        "2.0.41",
    ),
    "psycopg": (
        "3.1.13",
        "3.1.16",
        "3.1.18",
        "3.1.19",
        "3.2.1",
        "3.2.3",
        "3.2.4",
        "3.2.6",
        "3.2.9",
    ),
    "aiokafka": ("0.10.0", "0.11.0", "0.12.0"),
    "httpx": ("0.25.2", "0.26.0", "0.27.0", "0.27.2", "0.28.0", "0.28.1"),
    "requests": ("2.31.0", "2.32.3", "2.32.4"),
    "stripe": (
        "7.6.0",
        "7.10.0",
        "8.1.0",
        "8.7.0",
        "9.4.0",
        "10.3.0",
        "10.12.0",
        "11.1.0",
        "11.4.1",
    ),
    "pyjwt": ("2.8.0", "2.9.0", "2.10.0", "2.10.1"),
    "cryptography": (
        "41.0.7",
        "42.0.2",
        "42.0.5",
        "42.0.8",
        "43.0.0",
        "43.0.1",
        "43.0.3",
        "44.0.0",
        "44.0.2",
        "45.0.3",
    ),
    "pyyaml": ("6.0.1", "6.0.2"),
    "prometheus-client": ("0.19.0", "0.20.0", "0.21.0", "0.21.1", "0.22.1"),
    "pytest": (
        "7.4.3",
        "7.4.4",
        "8.0.0",
        "8.0.2",
        "8.1.1",
        "8.2.2",
        "8.3.2",
        "8.3.3",
        "8.3.4",
        "8.3.5",
        "8.4.1",
    ),
    "pytest-asyncio": ("0.21.1", "0.23.2", "0.23.5", "0.23.7", "0.24.0", "0.25.0"),
    "jinja2": ("3.1.2", "3.1.3", "3.1.4", "3.1.5", "3.1.6"),
    "boto3": ("1.33.1", "1.34.14", "1.34.51", "1.34.100", "1.35.0", "1.35.20", "1.35.60", "1.36.1"),
    "pandas": ("2.1.3", "2.1.4", "2.2.0", "2.2.1", "2.2.2", "2.2.3"),
    "redis": ("5.0.1", "5.0.3", "5.0.4", "5.0.7", "5.0.8", "5.1.1", "5.2.1"),
    "argon2-cffi": ("23.1.0", "25.1.0"),
}

_HOMES = {
    "fastapi": "tiangolo/fastapi",
    "uvicorn": "encode/uvicorn",
    "pydantic": "pydantic/pydantic",
    "sqlalchemy": "sqlalchemy/sqlalchemy",
    "psycopg": "psycopg/psycopg",
    "aiokafka": "aio-libs/aiokafka",
    "httpx": "encode/httpx",
    "requests": "psf/requests",
    "stripe": "stripe/stripe-python",
    "pyjwt": "jpadilla/pyjwt",
    "cryptography": "pyca/cryptography",
    "pyyaml": "yaml/pyyaml",
    "prometheus-client": "prometheus/client_python",
    "pytest": "pytest-dev/pytest",
    "pytest-asyncio": "pytest-dev/pytest-asyncio",
    "jinja2": "pallets/jinja",
    "boto3": "boto/boto3",
    "pandas": "pandas-dev/pandas",
    "redis": "redis/redis-py",
    "argon2-cffi": "hynek/argon2-cffi",
}

DEV_PACKAGES = ("pytest", "pytest-asyncio")

_PIN = re.compile(r"^([A-Za-z0-9_.\-]+)==([0-9][^\s#]*)$", re.M)


def requirements(packages: list[str]) -> str:
    """A requirements file pinning each package at its oldest listed version."""
    return "".join(f"{name}=={VERSIONS[name][0]}\n" for name in packages)


def pins(text: str) -> dict[str, str]:
    """Package → pinned version in a requirements file."""
    return {m.group(1): m.group(2) for m in _PIN.finditer(text)}


def next_version(name: str, current: str) -> str | None:
    """The release after `current`, or None if already at the newest."""
    releases = VERSIONS.get(name, ())
    if current not in releases:
        return None
    i = releases.index(current)
    return releases[i + 1] if i + 1 < len(releases) else None


def _update_type(old: str, new: str) -> str:
    a, b = old.split("."), new.split(".")
    if a[0] != b[0]:
        return "semver-major"
    if a[1] != b[1]:
        return "semver-minor"
    return "semver-patch"


def dependabot_message(name: str, old: str, new: str, directory: str = "/") -> str:
    """The commit message dependabot writes for a pip bump."""
    home = _HOMES.get(name, f"pypi/{name}")
    kind = "direct:development" if name in DEV_PACKAGES else "direct:production"
    where = "" if directory == "/" else f" in {directory}"
    return (
        f"Bump {name} from {old} to {new}{where}\n\n"
        f"Bumps [{name}](https://github.com/{home}) from {old} to {new}.\n"
        f"- [Release notes](https://github.com/{home}/releases)\n"
        f"- [Commits](https://github.com/{home}/compare/{old}...{new})\n\n"
        "---\n"
        "updated-dependencies:\n"
        f"- dependency-name: {name}\n"
        f"  dependency-type: {kind}\n"
        f"  update-type: version-update:{_update_type(old, new)}\n"
        "...\n\n"
        "Signed-off-by: dependabot[bot] <support@github.com>\n"
    )
