"""The kb error hierarchy: every failure a user can act on is a KBError."""

from __future__ import annotations


class KBError(Exception):
    """Root of every error kb reports to a user (message says what, where and how to fix)."""


class ConfigError(KBError):
    """Settings or the environment are wrong (bad URL, missing optional extra, ...)."""


class SourceError(KBError):
    """A source could not be read (not a repo, corrupt export, unreadable file)."""


class NotFoundError(KBError):
    """Something asked for by name does not exist (service, person, answer id)."""


class MissingExtraError(ConfigError):
    """An optional provider was chosen but its extra is not installed."""

    def __init__(self, package: str, extra: str, feature: str) -> None:
        super().__init__(
            f"{feature} needs the Python package {package!r}, which is not installed. "
            f"Install it with: pip install -c constraints.txt 'system-wisdom[{extra}]'"
        )
        self.package = package
        self.extra = extra
