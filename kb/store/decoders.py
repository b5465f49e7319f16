"""How stored values read back through the driver: one rule for every read model.

Columns read through SQLAlchemy come back typed; the same columns read through the DBAPI
driver (`kb.store.reader`), or through an aggregate that bypasses the column type, come back
as the backend keeps them: SQLite holds UTC times as ISO text with no offset and JSON as
text, PostgreSQL hands back naive or aware datetimes and decoded JSON.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any


def utc(value: str | datetime) -> datetime:
    """A stored timestamp as `UTCDateTime` reads it back: timezone-aware, in UTC."""
    if isinstance(value, str):  # SQLite: ISO text, no offset
        if len(value) > 6 and value[-6] in "+-" and value[-3] == ":":
            return datetime.fromisoformat(value).astimezone(UTC)
        return datetime.fromisoformat(value + "+00:00")  # several times faster than .replace()
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def utc_or_none(value: str | datetime | None) -> datetime | None:
    """`utc`, passing None through."""
    return None if value is None else utc(value)


def json_value(value: Any) -> Any:
    """A stored JSON column: text on SQLite, decoded already on PostgreSQL."""
    return json.loads(value) if isinstance(value, str) else value


def string_list(value: str | list[str] | None) -> tuple[str, ...]:
    """A stored JSON list of strings (most often "[]") as a tuple."""
    if value == "[]" or value is None:
        return ()
    return tuple(json_value(value) or ())
