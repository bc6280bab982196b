"""The buckets of one evaluation pass: read once, changed in memory, written at the end.

Only the evaluator writes buckets, and only while it holds the event cursor's lock, so a
pass may keep what it read and changed in memory and write it back in one go inside its
transaction (:meth:`BucketStore.flush`): a burst of events for one bucket costs one read
and one write, not a few statements per event.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from typing import Any

from automations_app.models import AutomationBucket
from automations_app.triggers.documents import EventTrigger, bucket_text

BucketKey = tuple[uuid.UUID, uuid.UUID, str]


@dataclass
class Bucket:
    """One trigger's count for one bucketing key in the window ``[start, end)``."""

    key: list[str]
    start: dt.datetime
    end: dt.datetime
    count: int
    last_event: dict[str, Any] | None
    last_operation: str


def _key(trigger: EventTrigger, key: list[str]) -> BucketKey:
    return (trigger.automation.id, trigger.id, bucket_text(key))


class BucketStore:
    """Buckets as the pass sees them; ``None`` marks one read or made absent."""

    def __init__(self) -> None:
        self._buckets: dict[BucketKey, Bucket | None] = {}
        self._workspaces: dict[uuid.UUID, int] = {}
        self._dirty: set[BucketKey] = set()

    def read(self, trigger: EventTrigger, key: list[str]) -> Bucket | None:
        """The trigger's bucket for ``key``, if one is open."""
        slot = _key(trigger, key)
        if slot not in self._buckets:
            row = AutomationBucket.objects.filter(automation_id=slot[0], trigger_id=slot[1], bucket=slot[2]).first()
            self._buckets[slot] = _from_row(row) if row else None
        return self._buckets[slot]

    def read_all(self, trigger: EventTrigger) -> list[Bucket]:
        """Every open bucket of the trigger, oldest window first."""
        rows = AutomationBucket.objects.filter(automation_id=trigger.automation.id, trigger_id=trigger.id)
        for row in rows:
            self._buckets.setdefault((row.automation_id, row.trigger_id, row.bucket), _from_row(row))
        buckets = [
            bucket
            for (automation_id, trigger_id, _), bucket in self._buckets.items()
            if bucket is not None and automation_id == trigger.automation.id and trigger_id == trigger.id
        ]
        return sorted(buckets, key=lambda bucket: bucket.start)

    def _set(self, trigger: EventTrigger, key: list[str], bucket: Bucket | None) -> Bucket | None:
        slot = _key(trigger, key)
        self._buckets[slot] = bucket
        self._workspaces[trigger.automation.id] = trigger.automation.workspace_id
        self._dirty.add(slot)
        return bucket

    def ensure(
        self,
        trigger: EventTrigger,
        key: list[str],
        *,
        start: dt.datetime,
        end: dt.datetime,
        last_event: dict[str, Any] | None,
        initial_count: int = 0,
    ) -> Bucket:
        """The open bucket, or a new one; an existing bucket only takes ``last_event``."""
        bucket = self.read(trigger, key)
        if bucket is None:
            bucket = Bucket(key, start, end, initial_count, last_event, "ensure_bucket[insert]")
        elif last_event is not None:
            bucket.last_event = last_event
        result = self._set(trigger, key, bucket)
        assert result is not None
        return result

    def increment(self, trigger: EventTrigger, bucket: Bucket, count: int, last_event: dict[str, Any] | None) -> None:
        """Count ``count`` more events in ``bucket``."""
        bucket.count += count
        bucket.last_operation = "increment_bucket[update]"
        if last_event is not None:
            bucket.last_event = last_event
        self._set(trigger, bucket.key, bucket)

    def start_new(self, trigger: EventTrigger, key: list[str], *, start: dt.datetime, count: int) -> Bucket:
        """Open the next window ``[start, start + within)`` holding ``count`` events (an
        open bucket keeps its last event)."""
        previous = self.read(trigger, key)
        last_event = previous.last_event if previous else None
        bucket = Bucket(key, start, start + trigger.within, count, last_event, "start_new_bucket")
        self._set(trigger, key, bucket)
        return bucket

    def remove(self, trigger: EventTrigger, key: list[str]) -> None:
        """Close the trigger's bucket for ``key``."""
        self._set(trigger, key, None)

    def remove_meeting(self, trigger: EventTrigger) -> None:
        """Close the trigger's buckets that already hold ``threshold`` events or more."""
        for bucket in self.read_all(trigger):
            if bucket.count >= trigger.threshold:
                self.remove(trigger, bucket.key)

    def flush(self, *, live_automations: set[uuid.UUID]) -> None:
        """Write the pass's changes (of automations that still exist) and forget them."""
        deleted = [slot for slot in self._dirty if self._buckets[slot] is None and slot[0] in live_automations]
        for automation_id, trigger_id, text in deleted:
            AutomationBucket.objects.filter(automation_id=automation_id, trigger_id=trigger_id, bucket=text).delete()
        rows = []
        for slot in self._dirty:
            bucket = self._buckets[slot]
            if bucket is None or slot[0] not in live_automations:
                continue
            rows.append(
                AutomationBucket(
                    workspace_id=self._workspaces[slot[0]],
                    automation_id=slot[0],
                    trigger_id=slot[1],
                    bucket=slot[2],
                    bucketing_key=bucket.key,
                    start=bucket.start,
                    end=bucket.end,
                    count=bucket.count,
                    last_event=bucket.last_event,
                    last_operation=bucket.last_operation,
                )
            )
        if rows:
            AutomationBucket.objects.bulk_create(
                rows,
                update_conflicts=True,
                unique_fields=["automation", "trigger_id", "bucket"],
                update_fields=["bucketing_key", "start", "end", "count", "last_event", "last_operation"],
            )
        self._buckets.clear()
        self._dirty.clear()

    def touched_automations(self) -> set[uuid.UUID]:
        """The automations whose buckets this pass changed."""
        return {slot[0] for slot in self._dirty}


def _from_row(row: AutomationBucket) -> Bucket:
    return Bucket(list(row.bucketing_key), row.start, row.end, row.count, row.last_event, row.last_operation)
