"""Who may read what: content of a private Slack channel stays with that channel's members.

Slack connectors mark a private channel's documents with `meta["private"] = True` and its
`meta["channel_id"]`; a surface answering in a channel (or to one person) names the private
channels its readers belong to, and other private channels' content is not cited there.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from typing import Any, Protocol

PRIVATE = "private"
CHANNEL_ID = "channel_id"


class HasMeta(Protocol):
    """A stored source: its kind and its metadata."""

    @property
    def meta(self) -> Mapping[str, Any]: ...


def readable(meta: Mapping[str, Any], channels: Collection[str]) -> bool:
    """True when a source with this metadata may be shown to readers of `channels`."""
    if not meta.get(PRIVATE):
        return True
    return str(meta.get(CHANNEL_ID) or "") in channels


def private_channel_filter(channels: Collection[str]) -> Callable[[HasMeta], bool]:
    """A filter keeping public sources and those of the private `channels` given."""
    allowed = frozenset(channels)
    return lambda source: readable(source.meta or {}, allowed)
