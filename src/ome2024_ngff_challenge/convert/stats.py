"""What the work cost: one task's result, and one array's sum of them (recorded
in its zarr.json as the conversion statistics)."""

from __future__ import annotations

from dataclasses import dataclass, fields


@dataclass
class TaskResult:
    """What writing one shard (or unsharded chunk) did."""

    bytes_read: int = 0
    bytes_written: int = 0
    chunks_written: int = 0
    skipped: bool = False  # found complete in the output (a resumed run)
    cpu_seconds: float = 0.0  # CPU time of the thread that ran it (decoding, encoding, hashing)


@dataclass
class ArrayStats:
    """What converting one array cost, summed over its tasks."""

    start: float | None = None
    stop: float | None = None
    bytes_read: int = 0
    bytes_written: int = 0
    tasks: int = 0
    chunks_written: int = 0
    tasks_skipped: int = 0  # already complete in the output (resumed run)
    cpu_seconds: float = 0.0  # summed over the tasks: the cost baseline's core-seconds

    def add(self, result: TaskResult, start: float, stop: float) -> None:
        self.start = start if self.start is None else min(self.start, start)
        self.stop = stop if self.stop is None else max(self.stop, stop)
        self.bytes_read += result.bytes_read
        self.bytes_written += result.bytes_written
        self.chunks_written += result.chunks_written
        self.tasks += 1
        self.tasks_skipped += result.skipped
        self.cpu_seconds += result.cpu_seconds

    def merge(self, other: ArrayStats) -> None:
        """Add the statistics of another part of the same array (a job line's)."""
        if other.start is not None:
            self.start = other.start if self.start is None else min(self.start, other.start)
        if other.stop is not None:
            self.stop = other.stop if self.stop is None else max(self.stop, other.stop)
        for name in ("bytes_read", "bytes_written", "tasks", "chunks_written", "tasks_skipped", "cpu_seconds"):
            setattr(self, name, getattr(self, name) + getattr(other, name))

    def to_json(self) -> dict:
        return {f.name: getattr(self, f.name) for f in fields(self)}
