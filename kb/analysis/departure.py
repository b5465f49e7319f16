"""Who counts as gone: the one rule the bus factor, experts, staleness and answers share."""

from __future__ import annotations

from datetime import datetime, timedelta


def has_departed(
    left_at: datetime | None,
    last_activity: datetime | None,
    as_of: datetime | None,
    after_days: int,
) -> bool:
    """Left (a source said so), or inactive for `after_days` before `as_of`.

    `as_of` is kb's "now": the newest activity it has stored, so an old snapshot is judged
    by its own time. With no activity known either way, nobody is called gone.
    """
    if left_at is not None:
        return True
    if as_of is None or last_activity is None:
        return False
    return last_activity < as_of - timedelta(days=after_days)
