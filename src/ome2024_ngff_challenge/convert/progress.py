"""One progress bar for a whole conversion: bytes done, rate, time left.

Shown only on a terminal, so logs of batch jobs stay clean.
"""

from __future__ import annotations

import logging
import sys
import threading

from tqdm import tqdm
from tqdm.contrib.logging import logging_redirect_tqdm


class ByteProgress:
    def __init__(self, total: int, *, enabled: bool = True, stream=None):
        self.stream = stream or sys.stderr
        self.enabled = enabled and hasattr(self.stream, "isatty") and self.stream.isatty()
        self.total = total
        self.bar = None
        self.lock = threading.Lock()

    def __enter__(self) -> ByteProgress:
        if self.enabled:
            self.bar = tqdm(
                total=self.total, unit="B", unit_scale=True, unit_divisor=1024,
                desc="converting", file=self.stream, dynamic_ncols=True, smoothing=0.1,
            )
        return self

    def advance(self, nbytes: int) -> None:
        if self.bar is not None:
            with self.lock:
                self.bar.update(nbytes)

    def __exit__(self, *exc) -> None:
        if self.bar is not None:
            self.bar.close()


class CollectionProgress:
    """One bar for a collection: datasets done, skipped and failed of the
    total, bytes converted, rate and time left. The byte total is an
    estimate until every dataset is planned (those not planned yet count as
    the mean of those that are)."""

    def __init__(self, datasets: int, *, enabled: bool = True, stream=None):
        self.stream = stream or sys.stderr
        self.enabled = enabled and hasattr(self.stream, "isatty") and self.stream.isatty()
        self.datasets = datasets
        self.counts = {"done": 0, "skipped": 0, "failed": 0}
        self.planned = 0  # datasets planned
        self.planned_bytes = 0
        self.unplanned_failures = 0  # failed before their plan was made
        self.bar = None
        self.lock = threading.Lock()

    def __enter__(self) -> CollectionProgress:
        if self.enabled:
            # a dataset's error or warning line is printed above the bar, not through it
            self.redirect = logging_redirect_tqdm([logging.getLogger("ome2024_ngff_challenge")])
            self.redirect.__enter__()
            self.bar = tqdm(
                total=0, unit="B", unit_scale=True, unit_divisor=1024, desc=self.describe(),
                file=self.stream, dynamic_ncols=True, smoothing=0.05,
            )
        return self

    def describe(self) -> str:
        c = self.counts
        failed = f", {c['failed']} failed" if c["failed"] else ""
        skipped = f", {c['skipped']} skipped" if c["skipped"] else ""
        return f"{c['done'] + c['skipped'] + c['failed']}/{self.datasets} datasets ({c['done']} done{skipped}{failed})"

    def estimate(self) -> int:
        unplanned = self.datasets - self.planned - self.counts["skipped"] - self.unplanned_failures
        mean = self.planned_bytes / self.planned if self.planned else 0
        return int(self.planned_bytes + max(0, unplanned) * mean)

    def plan(self, nbytes: int) -> None:
        """A dataset was planned: ``nbytes`` to convert."""
        with self.lock:
            self.planned += 1
            self.planned_bytes += nbytes
            self._refresh()

    def advance(self, nbytes: int) -> None:
        if self.bar is not None:
            with self.lock:
                self.bar.update(nbytes)

    def ended(self, status: str, *, planned: bool = True, left: int = 0) -> None:
        """A dataset ended (done, skipped or failed); ``left``: its bytes never
        converted (a failure), taken out of the total."""
        with self.lock:
            self.counts[status] += 1
            if status == "failed" and not planned:
                self.unplanned_failures += 1
            self.planned_bytes -= left
            self._refresh()

    def _refresh(self) -> None:
        if self.bar is not None:
            self.bar.total = max(self.estimate(), self.bar.n)
            self.bar.set_description_str(self.describe(), refresh=False)
            self.bar.refresh()

    def __exit__(self, *exc) -> None:
        if self.bar is not None:
            self.bar.close()
            self.redirect.__exit__(*exc)
