"""UTC day ranges: `from`/`to` are inclusive days; events are bucketed by UTC day."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from devcapsules.errors import InvalidInput
from devcapsules.schemas.analytics import MAX_RANGE_DAYS

DEFAULT_RANGE_DAYS = 30


@dataclass(frozen=True)
class DayRange:
    start: date
    end: date  # inclusive

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    def each_day(self) -> list[str]:
        return [(self.start + timedelta(days=n)).isoformat() for n in range(self.days)]

    def previous(self) -> DayRange:
        """The period of the same length just before this one (for trends)."""
        return DayRange(self.start - timedelta(days=self.days), self.start - timedelta(days=1))

    def bounds(self) -> tuple[str, str]:
        """ISO instants [start, end) comparable with stored `occurred_at` text."""
        return (
            f"{self.start.isoformat()}T00:00:00.000Z",
            f"{self.end + timedelta(days=1)}T00:00:00.000Z",
        )

    def public(self) -> dict[str, object]:
        return {"from": self.start.isoformat(), "to": self.end.isoformat(), "days": self.days}


def day_of(moment: datetime) -> str:
    return moment.astimezone(UTC).date().isoformat()


def resolve_range(start: date | None, end: date | None, today: date) -> DayRange:
    """Defaults: `to` = today, `from` = 29 days before `to`. 422 for an inverted or huge range."""
    end = end or today
    start = start or end - timedelta(days=DEFAULT_RANGE_DAYS - 1)
    if start > end:
        raise InvalidInput("invalid_range", "`from` must not be after `to`")
    result = DayRange(start, end)
    if result.days > MAX_RANGE_DAYS:
        raise InvalidInput("invalid_range", f"A range spans at most {MAX_RANGE_DAYS} days")
    return result
