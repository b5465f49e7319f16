"""Fixed calendar of the demo org: time zones, working hours and commit scheduling."""

from __future__ import annotations

import bisect
import random
from datetime import UTC, date, datetime, timedelta

from seed.people import Person

HISTORY_START = date(2023, 11, 6)
HISTORY_END = date(2026, 10, 30)
AS_OF = datetime(2026, 11, 1, tzinfo=UTC)

_BASE_OFFSET = {
    "utc": 0,
    "eu_london": 0,
    "eu_central": 60,
    "us_eastern": -300,
    "ist": 330,
    "cst": 480,
    "wat": 60,
}


def _last_sunday(year: int, month: int) -> date:
    day = date(year, month + 1, 1) - timedelta(days=1)
    return day - timedelta(days=(day.weekday() + 1) % 7)


def _nth_sunday(year: int, month: int, n: int) -> date:
    first = date(year, month, 1)
    return first + timedelta(days=(6 - first.weekday()) % 7 + 7 * (n - 1))


def utc_offset_minutes(zone: str, instant: datetime) -> int:
    """UTC offset of a zone at an instant; EU and US daylight-saving rules built in."""
    base = _BASE_OFFSET[zone]
    year = instant.year
    if zone in ("eu_london", "eu_central"):
        start = datetime.combine(_last_sunday(year, 3), datetime.min.time(), UTC)
        end = datetime.combine(_last_sunday(year, 10), datetime.min.time(), UTC)
        if start + timedelta(hours=1) <= instant < end + timedelta(hours=1):
            return base + 60
    if zone == "us_eastern":
        start = datetime.combine(_nth_sunday(year, 3, 2), datetime.min.time(), UTC)
        end = datetime.combine(_nth_sunday(year, 11, 1), datetime.min.time(), UTC)
        if start + timedelta(hours=7) <= instant < end + timedelta(hours=6):
            return base + 60
    return base


def git_tz(minutes: int) -> str:
    """Format an offset the way git stores it, e.g. +0530."""
    sign = "-" if minutes < 0 else "+"
    minutes = abs(minutes)
    return f"{sign}{minutes // 60:02d}{minutes % 60:02d}"


def epoch(stamp: str) -> int:
    """Epoch seconds of a 'YYYY-MM-DD HH:MM[:SS]' UTC stamp."""
    fmt = "%Y-%m-%d %H:%M:%S" if stamp.count(":") == 2 else "%Y-%m-%d %H:%M"
    return int(datetime.strptime(stamp, fmt).replace(tzinfo=UTC).timestamp())


def iso(ts: int) -> str:
    """ISO-8601 UTC string of epoch seconds."""
    return datetime.fromtimestamp(ts, UTC).isoformat()


def local_epoch(person: Person, day: date, hour: int, minute: int, second: int) -> int:
    """Epoch seconds of a wall-clock time in the person's zone."""
    naive = datetime(day.year, day.month, day.day, hour, minute, second, tzinfo=UTC)
    offset = utc_offset_minutes(person.zone, naive)
    return int((naive - timedelta(minutes=offset)).timestamp())


def working_time(rng: random.Random, person: Person, day: date) -> int:
    """A plausible commit time on `day` in the person's working hours (sometimes late)."""
    if rng.random() < 0.08:
        hour = rng.randint(19, 22)
    else:
        hour = min(18, max(8, int(rng.gauss(13.5, 2.6))))
    return local_epoch(person, day, hour, rng.randint(0, 59), rng.randint(0, 59))


def is_holiday(day: date) -> bool:
    """Quiet days: the Christmas break."""
    return (day.month == 12 and day.day >= 23) or (day.month == 1 and day.day <= 2)


class Calendar:
    """Who committed where and when, so filler work never lands on top of story work."""

    def __init__(self) -> None:
        self._busy: dict[str, list[tuple[int, str]]] = {}

    def book(self, person: str, when: int, repo: str) -> None:
        """Record a commit."""
        bisect.insort(self._busy.setdefault(person, []), (when, repo))

    def is_free(self, person: str, when: int, repo: str) -> bool:
        """True unless the person committed within 10 min here, or 2 h in another repo."""
        slots = self._busy.get(person, [])
        i = bisect.bisect_left(slots, (when - 7200, ""))
        while i < len(slots) and slots[i][0] <= when + 7200:
            other_when, other_repo = slots[i]
            if other_repo != repo or abs(other_when - when) < 600:
                return False
            i += 1
        return True
